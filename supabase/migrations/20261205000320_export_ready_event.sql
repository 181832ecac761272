-- export.ready: the export job raised it when an export's file is in the exports bucket (a
-- requested CSV or the weekly zip). Its data names the request, the object and a signed URL
-- that fetches it until `download_expires_at` (the job signs it with the service key through
-- Storage), so a receiver needs no Coachdesk account; no member's results are in the payload.
--   {"org_id", "export_id", "kind", "from_date", "to_date", "bucket", "object_name",
--    "content_type", "size_bytes", "row_count", "download_url", "download_expires_at",
--    "completed_at"}

create or replace function private.webhook_event_types() returns text[]
language sql immutable
set search_path = ''
as $$
  select array['attempt.scored', 'attempt.uploaded', 'assignment.created',
               'assignment.completed', 'track.completed', 'member.added', 'member.removed',
               'export.ready']
$$;

-- The job signs the URL only when an endpoint listens (a Storage round trip saved otherwise).
grant execute on function private.org_has_webhook_for(uuid, text) to service_role;
