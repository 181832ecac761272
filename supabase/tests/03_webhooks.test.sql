-- Webhooks: the outbox is closed to members but admins, the dispatcher's functions belong to
-- the service role, the retry schedule, and one event's way from a trigger to a result.
begin;
select plan(23);

select has_table('public', 'webhooks', 'table webhooks exists');
select has_table('public', 'webhook_deliveries', 'table webhook_deliveries exists');
select enum_has_labels('public', 'webhook_delivery_status',
  array['pending', 'running', 'succeeded', 'failed', 'dead'], 'the delivery states');
select has_index('public', 'webhook_deliveries', 'webhook_deliveries_due_idx',
  'the queue has its partial index');

select function_privs_are('public', f, args, 'authenticated', array[]::text[],
  format('authenticated cannot run %s', f))
from (values ('enqueue_webhook', array['text', 'jsonb']),
             ('claim_webhook_deliveries', array['text', 'integer']),
             ('record_webhook_attempt', array['uuid', 'integer', 'text', 'text', 'integer']),
             ('reap_webhook_deliveries', array['interval'])) as t (f, args);
select function_privs_are('public', 'claim_webhook_deliveries', array['text', 'integer'],
  'service_role', array['EXECUTE'], 'the service role claims deliveries');
select function_privs_are('public', 'rotate_webhook_secret', array['uuid'], 'anon',
  array[]::text[], 'anon cannot rotate secrets');

select results_eq(
  $$select extract(epoch from private.webhook_retry_delay(n, 0.5))::int
    from generate_series(0, 7) as n order by n$$,
  $$values (0), (5), (30), (180), (1080), (6480), (36000), (36000)$$,
  'retry delays: immediately, 5 s x 6^(n-1), capped at 10 h');
select is(private.webhook_retry_delay(1, 0), interval '4 seconds', 'jitter 0 is 80 %');
select is(private.webhook_retry_delay(99, 1), interval '12 hours', 'jitter 1 is 120 % of the cap');

-- An endpoint of the demo org, subscribed to new assignments.
insert into public.webhooks (id, org_id, url, events)
values ('e0000000-0000-4000-8000-0000000000a1', 'd0000000-0000-4000-8000-000000000001',
        'https://hooks.example.com/coachdesk', '{assignment.created}');
select matches((select secret from public.webhooks), '^whsec_[A-Za-z0-9+/]{43}=$',
  'a generated secret is whsec_ + base64 of 32 bytes');

-- The demo manager assigns work: the trigger enqueues, the manager sees none of it.
set local role authenticated;
select set_config('request.jwt.claims', '{"sub": "a0000000-0000-4000-8000-000000000003",
  "role": "authenticated", "org_id": "d0000000-0000-4000-8000-000000000001"}', true);
insert into public.assignments (org_id, scenario_id, user_id)
values ('d0000000-0000-4000-8000-000000000001', 'f0000000-0000-4000-8000-000000000001',
        'a0000000-0000-4000-8000-000000000001');
select is((select count(*)::int from public.webhooks), 0, 'a manager sees no endpoints');
select is((select count(*)::int from public.webhook_deliveries), 0, 'a manager sees no deliveries');
select throws_ok(
  $$select public.rotate_webhook_secret('e0000000-0000-4000-8000-0000000000a1')$$,
  '42501', null, 'a manager cannot rotate the secret');

-- The demo admin sees the delivery the assignment raised.
select set_config('request.jwt.claims', '{"sub": "a0000000-0000-4000-8000-000000000004",
  "role": "authenticated", "org_id": "d0000000-0000-4000-8000-000000000001"}', true);
select results_eq(
  $$select event, status::text, payload ->> 'type' from public.webhook_deliveries$$,
  $$values ('assignment.created', 'pending', 'assignment.created')$$,
  'the admin sees one pending assignment.created delivery');
select throws_ok(
  $$insert into public.webhooks (org_id, url, events)
    values ('d0000000-0000-4000-8000-000000000001', 'ftp://example.com', '{*}')$$,
  '23514', 'url is invalid: must start with https:// (or http://)',
  'a URL that is not http(s) is refused with the reason');

-- The dispatcher: claim, fail once, retry, succeed.
reset role;
set local role service_role;
select set_config('request.jwt.claims', '{"role": "service_role"}', true);
select results_eq(
  $$select status::text, attempt_count, locked_by from public.claim_webhook_deliveries('w1')$$,
  $$values ('running', 1, 'w1')$$, 'the worker claims the delivery');
select is_empty($$select * from public.claim_webhook_deliveries('w2')$$,
  'a second worker gets nothing');
select results_eq(
  $$select status::text, next_attempt_at between now() + interval '4 s' and now() + interval '6 s'
    from public.record_webhook_attempt(
      (select id from public.webhook_deliveries), 503, 'busy', null, 120)$$,
  $$values ('failed', true)$$, 'a 503 is retried 5 s (+-20 %) later');
update public.webhook_deliveries set next_attempt_at = now();
select results_eq(
  $$select d.status::text, d.attempt_count
    from public.claim_webhook_deliveries('w1') as c,
         public.record_webhook_attempt(c.id, 200, 'ok', null, 80) as d$$,
  $$values ('succeeded', 2)$$, 'the retry succeeds on the second attempt');

select * from finish();
rollback;
