"""The Organisation tab's service: the org's name and logo, its plan and billing state (no Qt).

The name is `orgs.name` (admins may update it, nothing else of the row); the logo is one object,
`org-assets/<org_id>/logo.<png|jpg|webp>`, which every member may read (the header shows it)
and admins write. The plan, its limits and the subscription's state are read-only here: the
Stripe receiver (server/inbound) writes them, and `org_billing_status()` answers an admin the
subscription's status without any Stripe id. Every call reaches the server through
`Backend.live`, on the owner thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog

from app.client.errors import PermissionDenied
from app.client.live_service import LiveService
from app.client.people import Seats, read_seats
from app.errors import CoachdeskError
from supabase import Client
from sync.rows import parse_time

log = structlog.get_logger(__name__)

BUCKET = "org-assets"
LOGO_NAME = "logo"
# The bucket's own limit (migration 20261125000800): checked here first, so the admin reads
# why before anything is sent.
MAX_LOGO_BYTES = 5 * 1024 * 1024
NOT_ADMIN = "Only an admin of this org can change its name and logo or see its billing."


@dataclass(frozen=True)
class ImageType:
    extension: str
    mime: str
    label: str


PNG = ImageType("png", "image/png", "PNG")
JPEG = ImageType("jpg", "image/jpeg", "JPEG")
WEBP = ImageType("webp", "image/webp", "WebP")
LOGO_TYPES = (PNG, JPEG, WEBP)


@dataclass(frozen=True)
class ActiveScenarios:
    used: int  # published scenarios (one per lineage: each version's line counts once)
    allowed: int | None  # None: the plan has no limit

    @property
    def text(self) -> str:
        """ "3 of 5 active scenarios", "4 active scenarios (no limit)"."""
        count = self.used if self.allowed is None else self.allowed
        noun = "active scenario" + ("s" if count != 1 else "")
        if self.allowed is None:
            return f"{self.used} {noun} (no limit)"
        return f"{self.used} of {self.allowed} {noun}"


@dataclass(frozen=True)
class Subscription:
    status: str  # Stripe's: active, trialing, past_due, canceled, unpaid, incomplete, ...
    as_of: datetime | None  # when Stripe last told the server

    @property
    def text(self) -> str:
        """ "Active", "Past due", ..., as Stripe's status reads in words."""
        return _STATUS_WORDS.get(self.status, self.status.replace("_", " ").capitalize())


_STATUS_WORDS = {
    "active": "Active",
    "trialing": "Trial",
    "past_due": "Past due: Stripe is retrying the payment",
    "unpaid": "Unpaid",
    "canceled": "Cancelled",
    "incomplete": "Incomplete: the first payment is not through yet",
    "incomplete_expired": "Expired before the first payment",
    "paused": "Paused",
}


@dataclass(frozen=True)
class OrgOverview:
    org_id: str
    name: str
    plan: str  # free, team, business, enterprise
    seats: Seats
    scenarios: ActiveScenarios
    subscription: Subscription | None  # None: Stripe has told the server nothing of this org

    @property
    def plan_text(self) -> str:
        return self.plan.capitalize()


class OrganisationService(LiveService):
    """The current org's name, logo, plan and billing state; each method is one server round
    trip (or a few) on the owner thread, to be called from a worker (ctx.call)."""

    not_admin = NOT_ADMIN
    nothing_changed = "Nothing was changed: your role in this org does not allow it any more."

    # Reading -------------------------------------------------------------------------------
    def overview(self) -> OrgOverview:
        """The name, plan, seats, active scenarios and subscription (admins)."""
        self._require_admin()

        def read(client: Client) -> OrgOverview:
            org = self._org()
            found = (
                client.table("orgs").select("name, plan, entitlements").eq("id", org).execute().data
            )
            if not found:
                raise PermissionDenied("You are not a member of an org on this server.")
            row = found[0]
            limit = (row.get("entitlements") or {}).get("active_scenarios")
            published = (
                client.table("scenarios")
                .select("lineage_id")
                .eq("org_id", org)
                .eq("status", "published")
                .execute()
                .data
            )
            billing = client.rpc("org_billing_status", {}).execute().data or []
            return OrgOverview(
                org_id=org,
                name=str(row["name"]),
                plan=str(row["plan"]),
                seats=read_seats(client, org),
                scenarios=ActiveScenarios(
                    len({str(p["lineage_id"]) for p in published}),
                    None if limit is None else int(limit),
                ),
                subscription=_subscription(billing),
            )

        return self._run(read)

    # The name ------------------------------------------------------------------------------
    def rename(self, name: str) -> str:
        """The org's new name (spaces tidied); what members see in the header and org list."""
        name = org_name(name)
        self._require_admin()
        self._changed_one(
            lambda client: (
                client.table("orgs").update({"name": name}).eq("id", self._org()).execute().data
            )
        )
        log.info("org renamed", org_id=self._org())
        return name

    # The logo ------------------------------------------------------------------------------
    def set_logo(self, path: Path | str) -> bytes:
        """Upload the image at `path` as the org's logo (replacing any other); its bytes.

        The type (PNG, JPEG or WebP, by its first bytes, whatever the file is called) and the
        size are checked before anything is sent."""
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as error:
            raise CoachdeskError(f"Cannot read {path.name}: {error.strerror or error}.") from error
        kind = check_logo(data, path.name)
        self._require_admin()

        def upload(client: Client) -> None:
            org = self._org()
            bucket = client.storage.from_(BUCKET)
            bucket.upload(
                f"{org}/{LOGO_NAME}.{kind.extension}",
                data,
                {"content-type": kind.mime, "upsert": "true"},
            )
            # One logo: the old one of another type would otherwise be found first.
            stale = [f"{org}/{name}" for name in _logo_names(client, org) if name != _name(kind)]
            if stale:
                bucket.remove(stale)

        self._run(upload)
        log.info("org logo set", org_id=self._org(), type=kind.label, size=len(data))
        return data

    def logo(self) -> bytes | None:
        """The org's logo, None when it has none (any member may read it)."""

        def read(client: Client) -> bytes | None:
            org = self._org()
            names = _logo_names(client, org)
            if not names:
                return None
            return bytes(client.storage.from_(BUCKET).download(f"{org}/{names[0]}"))

        return self._run(read)

    def remove_logo(self) -> None:
        self._require_admin()

        def remove(client: Client) -> None:
            org = self._org()
            names = _logo_names(client, org)
            if names:
                client.storage.from_(BUCKET).remove([f"{org}/{name}" for name in names])

        self._run(remove)
        log.info("org logo removed", org_id=self._org())

    def words(self, error: BaseException) -> CoachdeskError | None:
        return _refusal(error)


def org_name(name: str) -> str:
    """The name as the database keeps it (1 to 200 characters), spaces tidied."""
    name = " ".join(name.split())
    if not 1 <= len(name) <= 200:
        raise CoachdeskError("An org needs a name of 1 to 200 characters.")
    return name


def check_logo(data: bytes, name: str = "The file") -> ImageType:
    """The image type of a logo's bytes; CoachdeskError saying why it cannot be one."""
    if len(data) > MAX_LOGO_BYTES:
        size = len(data) / (1024 * 1024)
        raise CoachdeskError(
            f"{name} is {size:.1f} MB; a logo may be at most {MAX_LOGO_BYTES // (1024 * 1024)} "
            "MB. Save a smaller version (a few hundred pixels high is plenty) and try again."
        )
    kind = image_type(data)
    if kind is None:
        raise CoachdeskError(
            f"{name} is not a PNG, JPEG or WebP image; choose one of those for the logo."
        )
    return kind


def image_type(data: bytes) -> ImageType | None:
    """PNG, JPEG or WebP by the file's signature, else None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    return None


def _name(kind: ImageType) -> str:
    return f"{LOGO_NAME}.{kind.extension}"


def _logo_names(client: Client, org: str) -> list[str]:
    """The logo objects in the org's folder (normally one), in the order of LOGO_TYPES."""
    listed: list[dict[str, Any]] = client.storage.from_(BUCKET).list(org) or []
    present = {str(entry.get("name")) for entry in listed if entry.get("id") is not None}
    return [_name(kind) for kind in LOGO_TYPES if _name(kind) in present]


def _subscription(rows: list[dict[str, Any]]) -> Subscription | None:
    if not rows or not rows[0].get("subscription_status"):
        return None
    row = rows[0]
    when = row.get("updated_at")
    return Subscription(str(row["subscription_status"]), parse_time(when) if when else None)


def _refusal(error: BaseException) -> CoachdeskError | None:
    """The sentence for a refusal of this service's calls; None: not one of ours."""
    code = getattr(error, "code", None)
    status = str(getattr(error, "status", "") or "")
    if code == "42501" or status in ("401", "403"):
        return PermissionDenied(NOT_ADMIN)
    if code == "23514":  # orgs.name's check
        return CoachdeskError("An org needs a name of 1 to 200 characters.")
    if status == "413":
        return CoachdeskError(
            f"The server refused the logo as too large (at most {MAX_LOGO_BYTES // 1048576} MB)."
        )
    return None
