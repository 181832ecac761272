-- One select policy on org_invitations for `authenticated`: the admin's rule and the invitee's
-- in one expression, as the same rows as before. Two permissive policies for one role and
-- action are each evaluated for every row (Supabase's advisor 0006,
-- multiple_permissive_policies, which `supabase db advisors --fail-on warn` in make test fails on).
drop policy if exists org_invitations_select_admin on public.org_invitations;
drop policy if exists org_invitations_select_invitee on public.org_invitations;
drop policy if exists org_invitations_select on public.org_invitations;
create policy org_invitations_select on public.org_invitations for select to authenticated
  using (
    (org_id = (select private.current_org_id()) and (select private.has_org_role('admin')))
    -- The invitee sees invitations to their confirmed address, whatever org their token is for.
    or email = (select private.my_confirmed_email())
  );
