-- org_people(): the People screen's list for an admin: every member of the current org with
-- their email address, when they last signed in and when they last practised.
--
-- SECURITY DEFINER because the email and the sign-in time live in auth.users, which the API
-- does not expose; it answers only an admin of the current org (42501 for anyone else), and
-- only for that org's members, so it reveals nothing an admin could not learn by inviting.
create or replace function public.org_people()
returns table (
  user_id uuid,
  display_name text,
  role public.org_role,
  email text,
  joined_at timestamptz,
  last_sign_in_at timestamptz,
  last_attempt_at timestamptz
)
language plpgsql stable security definer
set search_path = ''
as $$
declare
  org uuid := private.reporting_org('the list of people', 'admin');
begin
  return query
  select m.user_id, m.display_name, m.role, u.email::text, m.created_at, u.last_sign_in_at,
         (select max(a.started_at) from public.scenario_attempts a
          where a.org_id = m.org_id and a.user_id = m.user_id)
  from public.org_members m
  join auth.users u on u.id = m.user_id
  where m.org_id = org
  order by lower(m.display_name), u.email;
end
$$;
comment on function public.org_people() is
  'Members of the current org with email, last sign-in and last attempt (admins only).';
revoke execute on function public.org_people() from public, anon;
grant execute on function public.org_people() to authenticated;
