"""Sign-in, the session in the keyring, refresh, offline start, org switching, sign-out."""

from __future__ import annotations

import json
import time
from typing import ClassVar

import keyring.backends.fail
import pytest
from stack_fixtures import DEMO_PASSWORD, EMAILS
from supabase_auth.constants import STORAGE_KEY
from sync_support import DEMO_ORG, GLOBEX_ORG, USER_IDS, MemoryKeyring, new_attempt_args

from sync.cache import NewAttempt
from sync.client import NotSignedInError, OfflineError, ServerConfig, SignInError
from sync.engine import Phase
from sync.session import (
    NoKeyringError,
    Session,
    UnsyncedWorkError,
    WrongPassphraseError,
    encrypted_file_storage,
    usable_keyring,
)


def _stored(backend: MemoryKeyring, server: ServerConfig) -> dict:
    return json.loads(backend.entries[(f"Coachdesk {server.url}", STORAGE_KEY)])


def test_sign_in_keeps_the_session_in_the_keyring_only(sign_in, keyring_backend, server, tmp_path):
    session = sign_in("trainee", backend=keyring_backend)
    identity = session.require_identity()
    assert identity.user_id == USER_IDS["trainee"]
    assert identity.org_id == DEMO_ORG and identity.org_role == "trainee"
    assert _stored(keyring_backend, server)["refresh_token"]
    # Nothing written under the working directories holds the token.
    token = _stored(keyring_backend, server)["access_token"]
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and token.encode() in p.read_bytes()]


def test_wrong_password_is_a_sign_in_error(make_session):
    with pytest.raises(SignInError):
        make_session().sign_in(EMAILS["trainee"], "not-the-password")


def test_no_keyring_is_a_clear_error_and_memory_only_is_the_choice(server):
    with pytest.raises(NoKeyringError, match="never writes your session to a plain file"):
        Session(server, keyring_backend=keyring.backends.fail.Keyring())
    session = Session(server, remember=False)
    session.sign_in(EMAILS["trainee"], DEMO_PASSWORD)
    assert session.require_identity().user_id == USER_IDS["trainee"]
    # A second start knows nothing: sign in again.
    assert Session(server, remember=False).restore() is None


def test_an_offline_start_resumes_from_the_keyring_and_works_from_the_cache(
    sign_in, make_session, engine_for, proxy, proxied, keyring_backend, tmp_path
):
    online = sign_in("trainee", config=proxied, backend=keyring_backend)
    engine_for(online, tmp_path / "data").run_once()
    # Next start: the network is gone (the port is closed).
    proxy.stop()
    offline = make_session(config=proxied)
    identity = offline.restore()
    assert identity is not None and identity.user_id == USER_IDS["trainee"]
    engine = engine_for(offline, tmp_path / "data")
    assert engine.cache.scenarios(DEMO_ORG), "the cache from the last run is there"
    saved = engine.cache.record_attempt(NewAttempt(**new_attempt_args()))
    status = engine.run_once()
    assert status.phase is Phase.OFFLINE and status.online is False
    assert status.pending == 1
    assert engine.cache.attempt(saved.id) is not None


def test_an_expiring_token_is_refreshed_before_use(sign_in, keyring_backend, server):
    session = sign_in("trainee", backend=keyring_backend)
    before = _stored(keyring_backend, server)
    session.ensure_fresh()
    assert _stored(keyring_backend, server)["access_token"] == before["access_token"]
    # Pretend the stored token is about to expire: the next use refreshes it first.
    key = (f"Coachdesk {server.url}", STORAGE_KEY)
    keyring_backend.entries[key] = json.dumps({**before, "expires_at": int(time.time()) + 30})
    session.ensure_fresh()
    after = _stored(keyring_backend, server)
    assert after["refresh_token"] != before["refresh_token"]
    assert after["expires_at"] > time.time() + 600


def test_a_refused_refresh_token_ends_the_session(sign_in, make_session, keyring_backend, server):
    session = sign_in("trainee", backend=keyring_backend)
    stale = _stored(keyring_backend, server)
    session.refresh()  # rotates: the stored refresh token is now used up
    key = (f"Coachdesk {server.url}", STORAGE_KEY)
    keyring_backend.entries[key] = json.dumps(stale)
    replay = make_session()
    replay.restore()
    with pytest.raises(NotSignedInError):
        replay.refresh()
    assert key not in keyring_backend.entries


def test_refresh_while_offline_keeps_the_session(
    sign_in, make_session, proxy, proxied, keyring_backend
):
    sign_in("trainee", config=proxied, backend=keyring_backend)
    proxy.stop()
    offline = make_session(config=proxied)
    offline.restore()
    with pytest.raises(OfflineError):
        offline.refresh()
    assert offline.identity is not None


def test_switching_org_changes_the_org_on_the_token(sign_in, engine_for):
    session = sign_in("consultant")
    start = session.require_identity()
    other = GLOBEX_ORG if start.org_id == DEMO_ORG else DEMO_ORG
    engine = engine_for(session)
    engine.run_once()
    switched = engine.switch_org(other)  # between rounds, never under a running pull
    assert switched.org_id == other
    assert switched.org_role == ("manager" if other == GLOBEX_ORG else "trainee")
    assert engine.run_once().phase is Phase.IDLE
    assert engine.cache.scenarios(other), "the other org's content arrived"
    assert engine.cache.scenarios(start.org_id), "the first org's cache is kept"
    assert {m.org_id for m in session.memberships()} >= {other}
    engine.switch_org(start.org_id)


def test_switching_to_an_org_of_someone_else_is_refused(sign_in):
    session = sign_in("trainee")
    with pytest.raises(Exception, match="not a member"):
        session.switch_org(GLOBEX_ORG)
    assert session.require_identity().org_id == DEMO_ORG


def test_sign_out_refuses_to_drop_unsynced_work_then_clears_the_cache(
    sign_in, engine_for, keyring_backend, server
):
    session = sign_in("trainee", backend=keyring_backend)
    engine = engine_for(session)
    engine.cache.record_attempt(NewAttempt(**new_attempt_args()))
    with pytest.raises(UnsyncedWorkError, match="1 change"):
        engine.sign_out()
    assert engine.run_once().pending == 0
    path = engine.cache.path
    engine.sign_out()
    assert not path.exists()
    assert (f"Coachdesk {server.url}", STORAGE_KEY) not in keyring_backend.entries
    assert session.identity is None


def test_file_keyrings_are_never_taken_for_a_system_keyring(server):
    # What `keyring` offers once keyrings.cryptfile is installed and no system keyring runs:
    # a chain of file keyrings (one of them plain text, one asking on a terminal).
    from keyring.backends.chainer import ChainerBackend
    from keyrings.cryptfile.cryptfile import CryptFileKeyring
    from keyrings.cryptfile.file import PlaintextKeyring

    class FilesOnly(ChainerBackend):
        backends: ClassVar = [
            CryptFileKeyring(),
            PlaintextKeyring(),
            keyring.backends.fail.Keyring(),
        ]

    with pytest.raises(NoKeyringError, match="sudo apt install gnome-keyring"):
        Session(server, keyring_backend=FilesOnly())
    # A system keyring in the chain is used (the memory one stands in for it here).
    memory = MemoryKeyring()

    class WithSystem(ChainerBackend):
        backends: ClassVar = [CryptFileKeyring(), memory]

    assert usable_keyring(WithSystem()) is memory


def test_the_encrypted_file_keeps_the_session_for_the_next_start_and_only_with_its_passphrase(
    server, tmp_path
):
    path = tmp_path / "sign-in.cfg"
    storage = encrypted_file_storage(path, "s3cret phrase", server.url)
    session = Session(server, storage=storage)
    session.sign_in(EMAILS["trainee"], DEMO_PASSWORD)
    token = json.loads(storage.get_item(STORAGE_KEY) or "{}")["access_token"]
    assert token.encode() not in path.read_bytes()
    assert path.stat().st_mode & 0o077 == 0
    with pytest.raises(WrongPassphraseError, match="does not unlock"):
        encrypted_file_storage(path, "guess", server.url)
    again = Session(server, storage=encrypted_file_storage(path, "s3cret phrase", server.url))
    assert again.restore() == session.require_identity()
