-- A member's practice attempts outlive their membership: removing someone frees their seat
-- and ends their access, but their attempts stay the org's record (reviews, reports, exports).
--
-- Before this, scenario_attempts referenced org_members (org_id, user_id) on delete cascade,
-- so removing a member deleted every attempt they had made. The attempt now references its
-- user (deleting the person's account still deletes their attempts, as the membership's own
-- cascade from auth.users did) and its org (already, scenario_attempts.org_id). Who may add
-- an attempt is unchanged: the insert policy still requires the caller's own id in an org
-- they are a member of (private.current_org_id()).
alter table public.scenario_attempts
  drop constraint scenario_attempts_org_id_user_id_fkey,
  add constraint scenario_attempts_user_id_fkey
    foreign key (user_id) references auth.users (id) on delete cascade;
create index scenario_attempts_user_id_idx on public.scenario_attempts (user_id);

-- Reporting: the dimension row of a removed member stays while the org keeps attempts of
-- theirs (the fact rows reference it on delete cascade, so deleting it would drop the
-- attempts from every report at the next refresh). load_reporting_dimensions deletes
-- memberships that are gone; this skips those that still have attempts.
create or replace function private.keep_reported_users() returns trigger
language plpgsql volatile
set search_path = ''
as $$
begin
  if exists (select 1 from public.scenario_attempts a
             where a.org_id = old.org_id and a.user_id = old.user_id) then
    return null;
  end if;
  return old;
end
$$;
revoke execute on function private.keep_reported_users() from public, anon, authenticated;

create trigger keep_reported_users before delete on public.dim_users
  for each row execute function private.keep_reported_users();

-- Exports: a removed member's attempts are exported too, under the name they last had (the
-- reporting dimension keeps it, see above; '' if it was never loaded). `create or replace`
-- keeps the grants (service role only).
create or replace function private.export_attempts(org uuid, from_date date, to_date date)
returns table (
  attempt_id uuid,
  started_at timestamptz,
  ended_at timestamptz,
  user_id uuid,
  display_name text,
  scenario_id uuid,
  scenario_title text,
  assignment_id uuid,
  status public.attempt_status,
  score numeric,
  passed boolean,
  duration_seconds numeric,
  kpis jsonb
)
language sql stable
set search_path = ''
as $$
  select a.id, a.started_at, a.ended_at, a.user_id,
         coalesce(m.display_name, d.display_name, ''), a.scenario_id, s.title,
         a.assignment_id, a.status, a.score,
         case when a.status = 'scored'
              then coalesce((a.score_breakdown ->> 'passed')::boolean, false) end,
         a.duration_seconds, coalesce(a.kpis, '{}'::jsonb)
  from public.scenario_attempts a
  left join public.org_members m on m.org_id = a.org_id and m.user_id = a.user_id
  left join public.dim_users d on d.org_id = a.org_id and d.user_id = a.user_id
  join public.scenarios s on s.id = a.scenario_id
  where a.org_id = org
    and a.started_at >= (from_date::timestamp at time zone 'UTC')
    and a.started_at < ((to_date + 1)::timestamp at time zone 'UTC')
  order by a.started_at, a.id
$$;

create or replace function private.export_leaderboard(org uuid, from_date date, to_date date)
returns table (
  rank int,
  user_id uuid,
  display_name text,
  attempts int,
  scored_attempts int,
  avg_score numeric,
  best_score numeric,
  passed_attempts int
)
language sql stable
set search_path = ''
as $$
  select (rank() over (order by round(avg(a.score), 2) desc nulls last))::int,
         a.user_id, coalesce(m.display_name, d.display_name, ''), count(*)::int,
         (count(*) filter (where a.status = 'scored'))::int,
         round(avg(a.score), 2), max(a.score),
         (count(*) filter (where a.status = 'scored'
                             and coalesce((a.score_breakdown ->> 'passed')::boolean, false)))::int
  from public.scenario_attempts a
  left join public.org_members m on m.org_id = a.org_id and m.user_id = a.user_id
  left join public.dim_users d on d.org_id = a.org_id and d.user_id = a.user_id
  where a.org_id = org
    and a.started_at >= (from_date::timestamp at time zone 'UTC')
    and a.started_at < ((to_date + 1)::timestamp at time zone 'UTC')
  group by a.user_id, coalesce(m.display_name, d.display_name, '')
  order by 1, 3, a.user_id
$$;
