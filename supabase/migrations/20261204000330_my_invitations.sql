-- my_invitations(): the open invitations to the caller's confirmed address, with the name of
-- the org and of the admin who invited, so the app can ask "join Acme as a manager?".
--
-- SECURITY DEFINER because the invitee is not a member yet: RLS lets them read the invitation
-- rows (org_invitations_select_invitee) but not the org's name or its members. It returns only
-- what the invitation itself names, and only to the confirmed owner of the invited address.
create or replace function public.my_invitations()
returns table (
  invitation_id uuid,
  org_id uuid,
  org_name text,
  role public.org_role,
  invited_by_name text,
  expires_at timestamptz
)
language sql stable security definer
set search_path = ''
as $$
  select i.id, i.org_id, o.name, i.role, coalesce(m.display_name, ''), i.expires_at
  from public.org_invitations i
  join public.orgs o on o.id = i.org_id
  left join public.org_members m on m.org_id = i.org_id and m.user_id = i.invited_by
  where i.email = private.my_confirmed_email()
    and i.accepted_at is null and i.revoked_at is null and i.expires_at > now()
    and not exists (select 1 from public.org_members me
                    where me.org_id = i.org_id and me.user_id = auth.uid())
  order by i.created_at desc
$$;
comment on function public.my_invitations() is
  'Open invitations to the caller''s confirmed email, with org and inviter names.';
revoke execute on function public.my_invitations() from public, anon;
grant execute on function public.my_invitations() to authenticated;
