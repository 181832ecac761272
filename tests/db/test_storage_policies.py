"""Storage buckets and storage.objects policies, as API roles with real claims; grant_signed_url.

Objects are committed by the superuser (storage rows only, no files) so that the `authenticator`
connection sees them; the module removes them afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import jwt as pyjwt
import psycopg
import pytest
from db_support import Claims, Seed, as_storage_api

SECRET = "test-storage-signing-secret-with-enough-bytes"
DEMO, GLOBEX = Seed.DEMO_ORG, Seed.GLOBEX_ORG
UID = {key: value[0] for key, value in Seed.USERS.items()}
RUN = uuid.uuid4().hex[:8]
ANON = Claims(sub=None, role="anon")

# name -> (bucket, object name); one object of each kind the policies distinguish.
OBJECTS = {
    "own_recording": ("recordings", f"{DEMO}/{UID['trainee']}/{RUN}-a.flac"),
    "peer_recording": ("recordings", f"{DEMO}/{UID['trainee2']}/{RUN}-b.flac"),
    "own_transcript": ("transcripts", f"{DEMO}/{UID['trainee']}/{RUN}-a.json"),
    "globex_recording": ("recordings", f"{GLOBEX}/{UID['globex_trainee']}/{RUN}-c.flac"),
    "org_logo": ("org-assets", f"{DEMO}/{RUN}-logo.png"),
    # A scenario's files follow the scenario: a published one's are the org's to read, a
    # draft's the admins' only (20261205000600_scenario_assets_follow_scenario.sql).
    "published_briefing": ("scenario-assets", f"{DEMO}/{Seed.SCENARIO_COLD_CALL}/{RUN}-a.pdf"),
    "draft_briefing": ("scenario-assets", f"{DEMO}/{Seed.SCENARIO_DRAFT}/{RUN}-b.pdf"),
    "loose_asset": ("scenario-assets", f"{DEMO}/{RUN}-persona.png"),  # no scenario's folder
    "globex_briefing": ("scenario-assets", f"{GLOBEX}/{Seed.SCENARIO_GLOBEX}/{RUN}-c.pdf"),
    # Export files follow their kind ({org}/{kind}/...): a manager reads what a manager may
    # ask for, admins and hr everything (20261205000900_exports_follow_their_kind.sql).
    "export": ("exports", f"{DEMO}/attempts/{RUN}.csv"),
    "assignments_export": ("exports", f"{DEMO}/assignments/{RUN}.csv"),
    "weekly_export": ("exports", f"{DEMO}/weekly/{RUN}.zip"),
    "own_tmp": ("tmp", f"{DEMO}/{UID['trainee']}/{RUN}-scratch.bin"),
    "peer_tmp": ("tmp", f"{DEMO}/{UID['trainee2']}/{RUN}-scratch.bin"),
}
MANAGEMENT = {
    "own_recording",
    "peer_recording",
    "own_transcript",
    "org_logo",
    "published_briefing",
    "export",
}
VISIBLE = {
    "trainee": {"own_recording", "own_transcript", "org_logo", "published_briefing", "own_tmp"},
    "trainee2": {"peer_recording", "org_logo", "published_briefing", "peer_tmp"},
    "manager": MANAGEMENT,
    "admin": MANAGEMENT | {"draft_briefing", "loose_asset", "assignments_export", "weekly_export"},
    "hr": MANAGEMENT | {"assignments_export", "weekly_export"},
    "globex_trainee": {"globex_recording", "globex_briefing"},
    "globex_manager": {"globex_recording", "globex_briefing"},
}


@pytest.fixture(scope="module", autouse=True)
def stored_objects(database_dsn: str) -> Iterator[None]:
    with psycopg.connect(database_dsn, autocommit=True) as conn:
        for bucket, name in OBJECTS.values():
            conn.execute(
                "insert into storage.objects (bucket_id, name, version) values (%s, %s, 'v1')",
                (bucket, name),
            )
        conn.execute(
            "insert into private.settings (key, value) values ('storage_signing_secret', %s)"
            " on conflict (key) do update set value = excluded.value",
            (SECRET,),
        )
        conn.execute("delete from private.settings where key = 'storage_url'")
        yield
        with conn.transaction():
            as_storage_api(conn).execute(
                "delete from storage.objects where name like %s", (f"%{RUN}%",)
            )


def _visible(conn: psycopg.Connection) -> set[str]:
    rows = conn.execute(
        "select bucket_id, name from storage.objects where name like %s", (f"%{RUN}%",)
    ).fetchall()
    found = {(row["bucket_id"], row["name"]) for row in rows}
    return {key for key, obj in OBJECTS.items() if obj in found}


def test_the_six_buckets_exist_and_are_private(admin_conn):
    rows = admin_conn.execute(
        "select id, public, file_size_limit from storage.buckets order by id"
    ).fetchall()
    buckets = {row["id"]: row for row in rows}
    expected = {"recordings", "transcripts", "org-assets", "scenario-assets", "exports", "tmp"}
    assert expected <= buckets.keys()
    assert not any(buckets[name]["public"] for name in expected)
    assert all(buckets[name]["file_size_limit"] for name in expected)


def test_members_can_read_bucket_settings_and_anon_cannot(as_user, api):
    conn = as_user("trainee")
    assert conn.execute("select count(*) as n from storage.buckets").fetchone()["n"] >= 6
    conn = api.become(ANON)
    assert conn.execute("select count(*) as n from storage.buckets").fetchone()["n"] == 0


@pytest.mark.parametrize("user", sorted(VISIBLE))
def test_each_role_sees_exactly_its_objects(as_user, user):
    assert _visible(as_user(user)) == VISIBLE[user]


@pytest.mark.parametrize("user", sorted(VISIBLE))
def test_can_read_object_agrees_with_the_select_policy(as_user, user):
    conn = as_user(user)
    by_function = {
        key
        for key, (bucket, name) in OBJECTS.items()
        if conn.execute("select private.can_read_object(%s, %s) as ok", (bucket, name)).fetchone()[
            "ok"
        ]
    }
    assert by_function == _visible(conn)


def test_forged_org_claim_sees_no_foreign_objects(as_user):
    conn = as_user("trainee", org_id=GLOBEX)
    assert _visible(conn) == set()


def _insert(conn: psycopg.Connection, bucket: str, name: str) -> list[dict]:
    return conn.execute(
        "insert into storage.objects (bucket_id, name) values (%s, %s) returning id",
        (bucket, name),
    ).fetchall()


WRITES = [
    # (user, bucket, name, allowed)
    ("trainee", "recordings", f"{DEMO}/{UID['trainee']}/new.flac", True),
    ("trainee", "transcripts", f"{DEMO}/{UID['trainee']}/new.txt", True),
    ("trainee", "tmp", f"{DEMO}/{UID['trainee']}/new.bin", True),
    ("trainee", "recordings", f"{DEMO}/{UID['trainee2']}/new.flac", False),
    ("trainee", "recordings", f"{GLOBEX}/{UID['trainee']}/new.flac", False),
    ("trainee", "recordings", f"{UID['trainee']}/new.flac", False),
    ("trainee", "org-assets", f"{DEMO}/logo.png", False),
    ("trainee", "exports", f"{DEMO}/report.csv", False),
    ("manager", "exports", f"{DEMO}/attempts/report.csv", True),
    # Storage answers an upload with the row (RETURNING): a file it may not read back, not.
    ("manager", "exports", f"{DEMO}/assignments/report.csv", False),
    ("hr", "exports", f"{DEMO}/assignments/report.csv", True),
    ("manager", "org-assets", f"{DEMO}/logo.png", False),
    ("admin", "org-assets", f"{DEMO}/logo.png", True),
    ("admin", "scenario-assets", f"{DEMO}/persona.png", True),
    ("admin", "org-assets", f"{GLOBEX}/logo.png", False),
    ("manager", "recordings", f"{DEMO}/{UID['trainee']}/forged.flac", False),
]


@pytest.mark.parametrize(("user", "bucket", "name", "allowed"), WRITES)
def test_insert_rules(as_user, user, bucket, name, allowed):
    conn = as_user(user)
    if allowed:
        assert len(_insert(conn, bucket, name)) == 1
    else:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            _insert(conn, bucket, name)


def _delete(conn: psycopg.Connection, key: str) -> int:
    bucket, name = OBJECTS[key]
    return len(
        as_storage_api(conn)
        .execute(
            "delete from storage.objects where bucket_id = %s and name = %s returning id",
            (bucket, name),
        )
        .fetchall()
    )


def test_recordings_are_kept_from_their_owner_but_admins_may_remove_them(as_user):
    assert _delete(as_user("trainee"), "own_recording") == 0
    assert _delete(as_user("manager"), "own_recording") == 0
    assert _delete(as_user("admin"), "own_recording") == 1


def test_members_clean_up_their_own_tmp_only(as_user):
    assert _delete(as_user("trainee"), "peer_tmp") == 0
    assert _delete(as_user("trainee"), "own_tmp") == 1


def test_upsert_update_cannot_move_an_object_out_of_the_owner_folder(as_user):
    conn = as_user("trainee")
    bucket, name = OBJECTS["own_recording"]
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(
            "update storage.objects set name = %s where bucket_id = %s and name = %s",
            (f"{DEMO}/{UID['trainee2']}/moved.flac", bucket, name),
        )


# grant_signed_url ----------------------------------------------------------------------------


def _grant(conn: psycopg.Connection, path: str, ttl: int | None = 300) -> str:
    return conn.execute("select public.grant_signed_url(%s, %s) as url", (path, ttl)).fetchone()[
        "url"
    ]


def _path(key: str) -> str:
    bucket, name = OBJECTS[key]
    return f"{bucket}/{name}"


def test_signed_url_for_own_recording_is_a_valid_storage_token(as_user):
    url = _grant(as_user("trainee"), _path("own_recording"))
    bucket, name = OBJECTS["own_recording"]
    prefix = f"/object/sign/{bucket}/{name}?token="
    assert url.startswith(prefix)
    claims = pyjwt.decode(url[len(prefix) :], SECRET, algorithms=["HS256"])
    assert claims["url"] == f"{bucket}/{name}"
    assert claims["exp"] - claims["iat"] == 300


@pytest.mark.parametrize(("ttl", "lifetime"), [(1, 10), (-5, 10), (999_999, 3600), (None, 300)])
def test_ttl_is_clamped(as_user, ttl, lifetime):
    url = _grant(as_user("manager"), _path("peer_recording"), ttl)
    claims = pyjwt.decode(url.split("token=", 1)[1], SECRET, algorithms=["HS256"])
    assert claims["exp"] - claims["iat"] == lifetime


def test_a_token_signed_with_another_secret_does_not_verify(as_user):
    url = _grant(as_user("trainee"), _path("own_recording"))
    with pytest.raises(pyjwt.InvalidSignatureError):
        pyjwt.decode(url.split("token=", 1)[1], SECRET + "x", algorithms=["HS256"])


@pytest.mark.parametrize(
    ("user", "key"),
    [
        ("trainee", "peer_recording"),
        ("trainee", "export"),
        ("trainee", "globex_recording"),
        ("manager", "globex_recording"),
        ("globex_manager", "own_recording"),
        ("trainee", "draft_briefing"),
        ("manager", "draft_briefing"),
        ("globex_trainee", "published_briefing"),
    ],
)
def test_no_signed_url_for_objects_the_caller_cannot_read(as_user, user, key):
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="no readable object"):
        _grant(as_user(user), _path(key))


@pytest.mark.parametrize(
    ("user", "key"), [("trainee", "published_briefing"), ("admin", "draft_briefing")]
)
def test_a_published_scenarios_briefing_is_signed_for_trainees_a_drafts_for_admins(
    as_user, user, key
):
    assert _grant(as_user(user), _path(key)).startswith(f"/object/sign/{_path(key)}?token=")


def test_a_draft_briefing_is_readable_once_its_scenario_is_published(as_user):
    conn = as_user("trainee")
    assert "draft_briefing" not in _visible(conn)
    # In one transaction (never committed): the admin publishes, then the trainee looks.
    conn = as_user("admin")
    conn.execute("select public.publish_scenario(%s)", (Seed.SCENARIO_DRAFT,))
    conn.execute(
        "select set_config('request.jwt.claims', %s, true)", (Seed.claims("trainee").as_json(),)
    )
    assert "draft_briefing" in _visible(conn)
    assert _grant(conn, _path("draft_briefing"))


def test_a_missing_object_answers_like_a_forbidden_one(as_user):
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="no readable object"):
        _grant(as_user("trainee"), f"recordings/{DEMO}/{UID['trainee']}/absent.flac")


@pytest.mark.parametrize(
    "path",
    [
        "",
        "recordings",
        "recordings/",
        "/recordings/x.flac",
        f"recordings/{DEMO}/../{GLOBEX}/x.flac",
        f"recordings/{DEMO}//x.flac",
        "no-such-bucket/x.flac",
        None,
    ],
)
def test_bad_paths_are_a_clear_error(as_user, path):
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="invalid storage path"):
        _grant(as_user("trainee"), path)


def test_anon_cannot_ask_for_signed_urls(api):
    conn = api.become(ANON)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        _grant(conn, _path("org_logo"))


def test_without_a_signing_secret_the_error_says_what_is_missing(admin_conn):
    admin_conn.execute("delete from private.settings where key = 'storage_signing_secret'")
    admin_conn.execute("set local role authenticated")
    admin_conn.execute(
        "select set_config('request.jwt.claims', %s, true)", (Seed.claims("trainee").as_json(),)
    )
    with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState, match="storage_signing"):
        _grant(admin_conn, _path("own_recording"))
