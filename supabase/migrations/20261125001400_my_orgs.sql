-- The orgs the caller belongs to, for the org switcher. SECURITY DEFINER because org_members'
-- policies show only the current org's rows; it returns the caller's own memberships only.
create or replace function public.my_orgs()
returns table (org_id uuid, name text, role public.org_role)
language sql stable security definer
set search_path = ''
as $$
  select m.org_id, o.name, m.role
  from public.org_members m
  join public.orgs o on o.id = m.org_id
  where m.user_id = auth.uid()
  order by o.name
$$;
revoke execute on function public.my_orgs() from public, anon;
grant execute on function public.my_orgs() to authenticated;
