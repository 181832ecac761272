"""The export job: export requests into the `exports` bucket (CSVs, and the weekly zip that
pg_cron queues), the monthly zip report of every org, the `export.ready` webhook event for each
finished request, and expiry of `tmp` objects and of recordings past the org's retention.

The database says what to do (`private.claim_export_requests`, `private.expired_storage_objects`)
and reads the data as the service role; files go through the Storage HTTP API with the service
key (the local stack's, or a hosted project's), because Storage owns the bytes: a row deleted in
SQL would leave its file behind.

Object names: `{org_id}/{kind}/{from}_{to}_{request id}.csv` for requests (`.zip` for the
weekly report) and `{org_id}/reports/{YYYY-MM}.zip` for the monthly report, so the exports
policies (managers, admins and hr of that org) decide who may open them
(`grant_signed_url('exports/…')`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
import structlog
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from server.exports.reports import WEEKLY_TABLES, build_table, zip_report
from supabase import Client, ClientOptions, create_client

log = structlog.get_logger(__name__)

BUCKET = "exports"
CONTENT_TYPES = {"csv": "text/csv", "zip": "application/zip"}
# Storage's remove takes a list of names; keep each request small.
REMOVE_CHUNK = 100
WEEKLY = "weekly"  # export_requests.kind of the scheduled zip
READY_EVENT = "export.ready"
# The event's signed URL outlives the dispatcher's retries (given up about 22 h after the
# first try) with two days left for a receiver or a redelivery by hand.
DOWNLOAD_TTL = timedelta(hours=72)


@dataclass(frozen=True)
class StorageTarget:
    """A Storage API and the service key that may write any org's objects."""

    url: str
    service_key: str


def previous_month(today: date) -> tuple[date, date]:
    first_this = today.replace(day=1)
    last = first_this - timedelta(days=1)
    return last.replace(day=1), last


def _chunks(items: Sequence[str], size: int) -> list[Sequence[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class ExportJob:
    """Runs on the worker: `run()` often (the request queue), `maintain()` hourly or daily."""

    def __init__(
        self,
        database_dsn: str,
        storage: StorageTarget,
        *,
        tmp_ttl: timedelta = timedelta(days=1),
        batch: int = 5,
    ) -> None:
        self.dsn = database_dsn
        self.storage_target = storage
        self.tmp_ttl = tmp_ttl
        self.batch = batch
        self._client: Client | None = None

    @property
    def storage(self) -> Any:
        if self._client is None:
            options = ClientOptions(auto_refresh_token=False, persist_session=False)
            self._client = create_client(
                self.storage_target.url, self.storage_target.service_key, options
            )
        return self._client.storage

    def _service_query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with psycopg.connect(self.dsn, row_factory=dict_row) as conn, conn.transaction():
            conn.execute("set local role service_role")
            cur = conn.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def upload(self, name: str, data: bytes) -> None:
        kind = name.rsplit(".", 1)[-1]
        self.storage.from_(BUCKET).upload(
            name, data, {"content-type": CONTENT_TYPES[kind], "upsert": "true"}
        )

    # -- requests -------------------------------------------------------------------------------

    def run(self) -> int:
        """Export every pending request; returns how many were handled (done or failed)."""
        handled = 0
        while True:
            requests = self._service_query(
                "select id, org_id, kind, from_date, to_date"
                " from private.claim_export_requests(%s)",
                (self.batch,),
            )
            for request in requests:
                self._export(request)
            handled += len(requests)
            if len(requests) < self.batch:
                return handled

    def _export(self, request: dict[str, Any]) -> None:
        org: UUID = request["org_id"]
        first: date = request["from_date"]
        last: date = request["to_date"]
        kind: str = request["kind"]
        extension = "zip" if kind == WEEKLY else "csv"
        name = f"{org}/{kind}/{first}_{last}_{request['id']}.{extension}"
        bound = log.bind(request_id=str(request["id"]), org_id=str(org), kind=kind)
        try:
            data, rows = self._content(kind, org, first, last)
            self.upload(name, data)
        except Exception as exc:
            # Recorded on the request, where the manager sees it; the job carries on.
            bound.exception("exports.failed")
            self._finish(request["id"], None, None, f"the export failed: {exc}")
            return
        self._finish(request["id"], name, rows, None)
        bound.info("exports.done", rows=rows, object_name=name)
        try:
            self.announce(request, name, len(data), rows)
        except Exception:
            # The file is there and the request says so; only the event is missing.
            bound.exception("exports.event_failed")

    def _content(self, kind: str, org: UUID, first: date, last: date) -> tuple[bytes, int | None]:
        """The file's bytes and its row count (None for a zip of several tables)."""
        if kind == WEEKLY:
            data, _summary = zip_report(self.dsn, org, first, last, WEEKLY_TABLES)
            return data, None
        table = build_table(self.dsn, kind, org, first, last)
        return table.to_csv(), len(table.rows)

    def _finish(self, request: UUID, name: str | None, rows: int | None, error: str | None) -> None:
        self._service_query(
            "select private.finish_export_request(%s, %s, %s, %s)", (request, name, rows, error)
        )

    def announce(
        self, request: dict[str, Any], name: str, size: int, rows: int | None
    ) -> list[UUID]:
        """`export.ready` to the org's endpoints that listen, with a signed URL of the file;
        returns the deliveries queued (none, and no URL signed, when nobody listens)."""
        org: UUID = request["org_id"]
        [listening] = self._service_query(
            "select private.org_has_webhook_for(%s, %s) as yes", (org, READY_EVENT)
        )
        if not listening["yes"]:
            return []
        ttl = int(DOWNLOAD_TTL.total_seconds())
        signed = self.storage.from_(BUCKET).create_signed_url(name, ttl)
        now = datetime.now(UTC)
        data = {
            "org_id": str(org),
            "export_id": str(request["id"]),
            "kind": request["kind"],
            "from_date": request["from_date"].isoformat(),
            "to_date": request["to_date"].isoformat(),
            "bucket": BUCKET,
            "object_name": name,
            "content_type": CONTENT_TYPES[name.rsplit(".", 1)[-1]],
            "size_bytes": size,
            "row_count": rows,
            "download_url": signed["signedURL"],
            "download_expires_at": (now + DOWNLOAD_TTL).isoformat(),
            "completed_at": now.isoformat(),
        }
        queued = self._service_query(
            "select public.enqueue_webhook(%s, %s) as id", (READY_EVENT, Jsonb(data))
        )
        return [row["id"] for row in queued]

    # -- maintenance ----------------------------------------------------------------------------

    def maintain(self, today: date | None = None) -> dict[str, int]:
        """Monthly reports that are missing, last week's report requests that are missing
        (pg_cron queues them on Mondays, but runs no job it missed), then expiry; returns
        counts for the log."""
        day = today or datetime.now(UTC).date()
        reports = self.monthly_reports(day)
        weekly = self.request_weekly_reports(day)
        expired = self.expire()
        log.info("exports.maintained", reports=reports, weekly_requested=weekly, **expired)
        return {"reports": reports, "weekly_requested": weekly, **expired}

    def request_weekly_reports(self, today: date, only: Sequence[UUID] | None = None) -> int:
        """Queue the week before `today`'s for every org (or those in `only`) that has no
        request for it; `run()` writes them. Returns how many were queued."""
        [row] = self._service_query(
            "select private.request_weekly_reports(%s, %s::uuid[]) as queued", (today, only)
        )
        return int(row["queued"])

    def monthly_reports(self, today: date, only: Sequence[UUID] | None = None) -> int:
        """Last month's zip for every org (or those in `only`) that has members and no report
        for that month yet; returns how many were written."""
        first, last = previous_month(today)
        month = first.strftime("%Y-%m")
        orgs = self._service_query(
            "select o.id from public.orgs o"
            " where exists (select 1 from public.org_members m where m.org_id = o.id)"
            " and not exists (select 1 from storage.objects s where s.bucket_id = %s"
            "                 and s.name = o.id::text || '/reports/' || %s || '.zip')"
            " and (%s::uuid[] is null or o.id = any(%s::uuid[]))"
            " order by o.id",
            (BUCKET, month, only, only),
        )
        for org in orgs:
            data, _summary = zip_report(self.dsn, org["id"], first, last)
            self.upload(f"{org['id']}/reports/{month}.zip", data)
        return len(orgs)

    def expire(self, max_rounds: int = 100) -> dict[str, int]:
        """Remove expired tmp objects and recordings past retention, in batches."""
        removed = {"tmp": 0, "recordings": 0}
        for _ in range(max_rounds):
            due = self._service_query(
                "select bucket_id, name from private.expired_storage_objects("
                "make_interval(secs => %s), %s)",
                (self.tmp_ttl.total_seconds(), 500),
            )
            if not due:
                break
            for bucket in removed:
                names = [row["name"] for row in due if row["bucket_id"] == bucket]
                for chunk in _chunks(names, REMOVE_CHUNK):
                    self.storage.from_(bucket).remove(list(chunk))
                removed[bucket] += len(names)
                if bucket == "recordings" and names:
                    self._service_query("select private.forget_recordings(%s)", (names,))
        return {f"expired_{bucket}": count for bucket, count in removed.items()}

    # -- for the worker's event loop ------------------------------------------------------------

    async def run_async(self) -> int:
        return await asyncio.to_thread(self.run)

    async def maintain_async(self) -> dict[str, int]:
        return await asyncio.to_thread(self.maintain)
