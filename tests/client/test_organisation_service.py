"""The Organisation tab's service against the real stack: the plan box's figures as the database
has them, renaming, the logo's checks before upload and its round trip, and refusals.

Whatever changes an org runs in one of its own (`fresh_org`), so the seed org stays as it is.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from stack_fixtures import FRESH_PASSWORD
from stack_fixtures import FreshOrg as Org

from app.client.organisation import MAX_LOGO_BYTES, OrganisationService, image_type
from app.client.views import PermissionDenied
from app.errors import CoachdeskError

# The smallest valid PNG: one transparent pixel.
PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082"
)


@pytest.fixture
def admin(fresh_org: Org, backend_for) -> Iterator[OrganisationService]:
    service = OrganisationService(backend_for(fresh_org.emails["admin"], FRESH_PASSWORD))
    yield service
    service.remove_logo()  # the org's deletion leaves Storage's objects behind


def test_the_demo_orgs_figures_are_the_databases(backend, accounts, db):
    backend.sign_in(accounts["admin"], "coachdesk-demo")
    seen = OrganisationService(backend).overview()
    org = backend.account.org_id
    name, plan, seats, scenarios = db.execute(
        "select name, plan::text, (entitlements ->> 'seats')::int,"
        " (entitlements ->> 'active_scenarios')::int from orgs where id = %s",
        (org,),
    ).fetchone()
    (members,) = db.execute("select count(*) from org_members where org_id = %s", (org,)).fetchone()
    (published,) = db.execute(
        "select count(distinct lineage_id) from scenarios"
        " where org_id = %s and status = 'published'",
        (org,),
    ).fetchone()
    assert (seen.name, seen.plan) == (name, plan)
    assert (seen.seats.used, seen.seats.allowed) == (members, seats)
    assert (seen.scenarios.used, seen.scenarios.allowed) == (published, scenarios)
    assert seen.scenarios.text.startswith(f"{published} ")


def test_the_subscription_status_comes_from_the_stripe_state(fresh_org: Org, admin):
    assert admin.overview().subscription is None  # Stripe has said nothing of this org
    fresh_org.conn.execute(
        "insert into private.org_billing (org_id, stripe_subscription_id, subscription_status,"
        " last_event_at) values (%s, 'sub_secret', 'past_due', now())",
        (fresh_org.id,),
    )
    seen = admin.overview()
    assert seen.subscription is not None
    assert seen.subscription.status == "past_due"
    assert seen.subscription.text.startswith("Past due")
    assert seen.subscription.as_of is not None
    assert (seen.seats.used, seen.seats.allowed) == (2, 3)
    assert (seen.scenarios.used, seen.scenarios.allowed) == (0, None)


def test_rename(fresh_org: Org, admin):
    assert admin.rename("  Acme   Training  ") == "Acme Training"
    row = fresh_org.one("select name from orgs where id = %s", (fresh_org.id,))
    assert row["name"] == "Acme Training"
    with pytest.raises(CoachdeskError, match="1 to 200"):
        admin.rename("   ")


def test_a_logo_too_big_or_not_an_image_is_refused_before_upload(fresh_org, admin, tmp_path):
    big = tmp_path / "big.png"
    big.write_bytes(PNG_1X1 + b"\0" * MAX_LOGO_BYTES)
    with pytest.raises(CoachdeskError, match="at most 5 MB"):
        admin.set_logo(big)
    text = tmp_path / "logo.png"
    text.write_text("not an image")
    with pytest.raises(CoachdeskError, match="not a PNG, JPEG or WebP"):
        admin.set_logo(text)
    objects = fresh_org.one(
        "select count(*) as n from storage.objects where bucket_id = 'org-assets' and name like %s",
        (f"{fresh_org.id}/%",),
    )
    assert objects["n"] == 0
    assert admin.logo() is None


def test_a_png_is_uploaded_read_back_replaced_and_removed(fresh_org, admin, tmp_path):
    png = tmp_path / "logo.PNG"
    png.write_bytes(PNG_1X1)
    assert image_type(PNG_1X1) is not None
    admin.set_logo(png)
    assert admin.logo() == PNG_1X1
    webp = b"RIFF" + (20).to_bytes(4, "little") + b"WEBPVP8 " + bytes(12)  # the signature only
    other = tmp_path / "logo.webp"
    other.write_bytes(webp)
    admin.set_logo(other)
    names = [
        r["name"]
        for r in fresh_org.conn.execute(
            "select name from storage.objects where bucket_id = 'org-assets' and name like %s",
            (f"{fresh_org.id}/%",),
        ).fetchall()
    ]
    assert names == [f"{fresh_org.id}/logo.webp"]  # the PNG went
    assert admin.logo() == webp
    admin.remove_logo()
    assert admin.logo() is None


def test_a_member_reads_the_logo_an_admin_set(fresh_org, admin, backend_for, tmp_path):
    png = tmp_path / "logo.png"
    png.write_bytes(PNG_1X1)
    admin.set_logo(png)
    trainee = OrganisationService(backend_for(fresh_org.emails["trainee"], FRESH_PASSWORD))
    assert trainee.logo() == PNG_1X1
    with pytest.raises(PermissionDenied):
        trainee.remove_logo()


def test_a_manager_is_refused(backend, accounts):
    backend.sign_in(accounts["manager"], "coachdesk-demo")
    service = OrganisationService(backend)
    for call in (service.overview, lambda: service.rename("Mine now"), service.remove_logo):
        with pytest.raises(PermissionDenied):
            call()


def test_the_billing_state_is_refused_to_a_manager_by_the_database(backend, accounts):
    """Not only the client's check: the function itself answers admins only."""
    backend.sign_in(accounts["manager"], "coachdesk-demo")
    with pytest.raises(Exception, match="only for admin"):
        backend.live(lambda session: session.rpc("org_billing_status", {}))
