"""Supabase's database advisors, as tests over the migrated catalog.

Each test names every offender, so a new migration that breaks a rule says where.
"""

import re

import pytest

EXPOSED_SCHEMAS = ("public", "storage")
API_ROLES = ("anon", "authenticated")


def _rows(conn, sql, *params):
    return conn.execute(sql, params).fetchall()


def test_every_exposed_table_has_rls(admin_conn):
    offenders = _rows(
        admin_conn,
        """
        select n.nspname || '.' || c.relname as name
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('r', 'p') and n.nspname = any(%s) and not c.relrowsecurity
        """,
        list(EXPOSED_SCHEMAS),
    )
    assert not offenders, f"tables without row level security: {offenders}"


def test_tables_api_roles_can_reach_have_policies(admin_conn):
    """RLS with no policy hides everything; that is only right for tables no API role can touch
    (reporting tables read through accessor functions)."""
    offenders = _rows(
        admin_conn,
        """
        select n.nspname || '.' || c.relname as name
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('r', 'p') and n.nspname = any(%s)
          and not exists (select 1 from pg_policy p where p.polrelid = c.oid)
          and (has_table_privilege('authenticated', c.oid, 'select, insert, update, delete')
               or has_table_privilege('anon', c.oid, 'select, insert, update, delete'))
        """,
        list(EXPOSED_SCHEMAS),
    )
    assert not offenders, f"tables API roles can reach but with no policy: {offenders}"


def test_every_foreign_key_is_indexed(admin_conn):
    offenders = _rows(
        admin_conn,
        """
        select c.conrelid::regclass::text || ' ' || c.conname as fk
        from pg_constraint c
        join pg_namespace n on n.oid = c.connamespace
        where c.contype = 'f' and n.nspname in ('public', 'private')
          and not exists (
            select 1 from pg_index i
            where i.indrelid = c.conrelid
              and (select array_agg(k order by k) from unnest(c.conkey) k)
                = (select array_agg(k order by k)
                   from unnest((i.indkey::int2[])[0:cardinality(c.conkey) - 1]) k)
          )
        """,
    )
    assert not offenders, f"foreign keys without an index leading with their columns: {offenders}"


def test_security_definer_functions_pin_search_path(admin_conn):
    offenders = _rows(
        admin_conn,
        """
        select p.oid::regprocedure::text
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where p.prosecdef and n.nspname in ('public', 'private', 'auth', 'storage')
          and not exists (select 1 from unnest(p.proconfig) c where c like 'search_path=%%')
        """,
    )
    assert not offenders, f"SECURITY DEFINER functions without a pinned search_path: {offenders}"


# Calls that must be evaluated once per statement (an init plan), not once per row.
_PER_STATEMENT_CALLS = (
    "auth.uid()",
    "auth.jwt()",
    "auth.role()",
    "private.current_org_id()",
    "private.current_org_role()",
    "private.my_team_ids()",
    "private.has_org_role(",
)


def _bare_calls(expression: str) -> list[str]:
    """Calls in `expression` that are not the whole body of a `( SELECT … )` sub-select."""
    wrapped = re.sub(
        r"\(\s*SELECT\s+[a-z_]+\.[a-z_]+\((?:[^()]|\([^()]*\))*\)(?:\s+AS\s+\w+)?\s*\)",
        "",
        expression,
    )
    return [call for call in _PER_STATEMENT_CALLS if call in wrapped]


def test_policies_use_the_select_wrapped_form(admin_conn):
    offenders = []
    for row in _rows(
        admin_conn,
        "select schemaname, tablename, policyname, qual, with_check from pg_policies"
        " where schemaname = any(%s)",
        list(EXPOSED_SCHEMAS),
    ):
        for expression in (row["qual"], row["with_check"]):
            bare = _bare_calls(expression or "")
            if bare:
                offenders.append(f"{row['tablename']}.{row['policyname']}: {bare}")
    assert not offenders, "policies calling per-statement helpers per row: " + "; ".join(offenders)


def test_the_wrapped_form_detector_itself():
    assert _bare_calls("(org_id = ( SELECT private.current_org_id() AS current_org_id))") == []
    assert _bare_calls("(user_id = auth.uid())") == ["auth.uid()"]
    assert (
        _bare_calls("( SELECT private.has_org_role(VARIADIC ARRAY['admin'::org_role]) AS x)") == []
    )


def test_no_view_exposes_rows_to_api_roles(admin_conn):
    """Views run with their owner's rights unless security_invoker; MVs never apply RLS."""
    offenders = _rows(
        admin_conn,
        """
        select n.nspname || '.' || c.relname || ' (' || r.role || ')'
        from pg_class c
        join pg_namespace n on n.oid = c.relnamespace
        cross join unnest(%s::text[]) as r(role)
        where n.nspname = any(%s) and c.relkind in ('v', 'm')
          and has_table_privilege(r.role, c.oid, 'select')
          and not (c.relkind = 'v'
                   and coalesce(c.reloptions, '{}') && array['security_invoker=true',
                                                           'security_invoker=on'])
        """,
        list(API_ROLES),
        list(EXPOSED_SCHEMAS),
    )
    assert not offenders, f"views/MVs selectable by API roles without RLS: {offenders}"


def test_anon_has_no_table_privileges_in_public(admin_conn):
    offenders = _rows(
        admin_conn,
        """
        select c.relname || ':' || p.privilege_type
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        cross join lateral aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
        join pg_roles g on g.oid = a.grantee
        cross join lateral (select a.privilege_type) p
        where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm') and g.rolname = 'anon'
        """,
    )
    assert not offenders, f"anon holds privileges on: {offenders}"


@pytest.mark.parametrize("privilege", ["TRUNCATE", "REFERENCES", "TRIGGER"])
def test_api_roles_cannot_truncate_reference_or_trigger(admin_conn, privilege):
    offenders = _rows(
        admin_conn,
        """
        select c.relname || ' (' || r.role || ')'
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        cross join unnest(%s::text[]) as r(role)
        where n.nspname = 'public' and c.relkind in ('r', 'p')
          and has_table_privilege(r.role, c.oid, %s)
        """,
        list(API_ROLES),
        privilege,
    )
    assert not offenders, f"{privilege} granted to API roles on: {offenders}"


def test_anon_cannot_execute_public_functions_except_the_harmless(admin_conn):
    offenders = _rows(
        admin_conn,
        """
        select p.oid::regprocedure::text
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        left join pg_depend d on d.objid = p.oid and d.deptype = 'e'
        where n.nspname = 'public' and d.objid is null
          and has_function_privilege('anon', p.oid, 'execute')
          and p.prosecdef
        """,
    )
    assert not offenders, f"SECURITY DEFINER functions anon may execute: {offenders}"


# SECURITY DEFINER functions bypass RLS, so each one a signed-in user can call is a door that
# must check the caller itself. This list is the reviewed set; a new one fails here until it is
# reviewed and added (or its EXECUTE is revoked because only the server or a trigger calls it).
DEFINER_FUNCTIONS_FOR_USERS = {
    # policy helpers: read only the caller's own membership
    "private.current_org_id()",
    "private.current_org_role()",
    "private.has_org_role(org_role[])",
    "private.my_team_ids()",
    "private.assignment_is_mine(uuid)",
    # the caller's own address, only once Auth confirmed it (invitations match on it)
    "private.my_confirmed_email()",
    # API functions that check membership, role or visibility before acting
    "set_org_claim(uuid)",
    "set_active_org(uuid)",
    "my_orgs()",
    "score_attempt(uuid)",
    "grant_signed_url(text,integer)",
    "leaderboard_month(date,uuid)",
    "org_overview(integer)",
    "scenario_insights(uuid)",
    "reporting_freshness()",  # needs a current org; returns no data of any org
    # HR's completion reports: managers, admins, hr of the current org (private.reporting_org);
    # a manager's rows are their own teams' people (private.reporting_people)
    "assignment_completion()",
    "team_completion()",
    "track_completion()",
    "overdue_assignments()",
    "scenario_score_distribution()",
    "rotate_webhook_secret(uuid)",
    "redeliver_webhook(uuid)",
    # admins of the current org: returns the new endpoint's secret, which they may not SELECT
    "create_webhook(text,text[],text)",
    "send_test_webhook(uuid)",  # admins of the endpoint's org, as rotate_webhook_secret
    "org_people()",  # admins of the current org only (private.reporting_org), its members only
    "set_track_scenarios(uuid,uuid[])",  # admins of the track's org, its org's scenarios only
    "org_billing_status()",  # admins of the current org only: its Stripe status, no Stripe ids
    # managers and admins of the current org, its assignments, their assigned people only
    "remind_assignment(uuid,uuid[],text)",
    # the invitee's consent: checks the confirmed email, expiry and revocation itself
    "accept_invitation(uuid)",
    "accept_invitation_token(text)",
    "my_invitations()",  # the invitations to the caller's confirmed address: org and inviter names
}


def test_signed_in_users_reach_only_reviewed_security_definer_functions(admin_conn):
    reachable = {
        row["proc"]
        for row in admin_conn.execute(
            """
            select p.oid::regprocedure::text as proc
            from pg_proc p join pg_namespace n on n.oid = p.pronamespace
            where p.prosecdef and n.nspname in ('public', 'private')
              and has_schema_privilege('authenticated', n.oid, 'usage')
              and has_function_privilege('authenticated', p.oid, 'execute')
            """
        ).fetchall()
    }
    unreviewed = sorted(reachable - DEFINER_FUNCTIONS_FOR_USERS)
    assert not unreviewed, f"SECURITY DEFINER functions authenticated may call: {unreviewed}"
