"""`Backend.live`: the client core's services reach the server on the owner thread."""

from __future__ import annotations

import threading

import pytest

from app.client.views import NotSignedIn, PermissionDenied


def test_live_runs_on_the_owner_with_a_fresh_token_and_says_refusals_in_words(backend, accounts):
    with pytest.raises(NotSignedIn):
        backend.live(lambda session: session.rpc("my_orgs"))
    backend.sign_in(accounts["trainee"], "coachdesk-demo")
    thread, orgs = backend.live(
        lambda session: (threading.current_thread().name, session.rpc("my_orgs"))
    )
    assert thread == "coachdesk-owner"
    assert [o["org_id"] for o in orgs] == [backend.account.org_id]
    with pytest.raises(PermissionDenied):  # reporting accessors are for managers, admins, hr
        backend.live(lambda session: session.rpc("org_overview", {"months": 3}))
