"""A rerun of a page's fragment alone skips app.py, and with it app.py's sign-in check: `signin.still_signed_in`
lets it go on only while app.py's check would let the session go on without touching the accounts store.
Every combination of signed in, idle time and time since the last check is drawn against that rule."""
from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, assume, given, settings as hsettings, strategies as st_
from streamlit.testing.v1 import AppTest

from auth.store import User
from ui.signin import TOUCH_SECONDS


def _probe():
    import streamlit as st

    from ui import signin

    st.session_state["answer"] = signin.still_signed_in()


def _run(state: dict) -> tuple[bool, dict]:
    at = AppTest.from_function(_probe, default_timeout=30)
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    assert not at.exception
    return at.session_state["answer"], {k: at.session_state[k] for k in ("_seen",) if k in at.session_state}


@pytest.fixture
def local(monkeypatch):
    monkeypatch.setenv("PBKPI_AUTH", "local")
    monkeypatch.setenv("PBKPI_SESSION_MINUTES", "30")


@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(signed_in=st_.booleans(), idle=st_.floats(0, 7200), since_check=st_.floats(0, 600), token=st_.booleans())
def test_a_fragment_rerun_goes_on_only_where_app_py_would_not_check_again(local, signed_in, idle, since_check, token):
    assume(abs(idle - 30 * 60) > 5 and abs(since_check - TOUCH_SECONDS) > 5)  # the clock moves during the run
    now = time.time()
    state = {"_seen": now - idle, "_touched": now - since_check}
    if signed_in:
        state["_user"] = User("a01", "Analyst", "analyst", frozenset({"ROOT"}))
    if token:
        state["_token"] = "t"
    answer, after = _run(state)
    expected = signed_in and idle <= 30 * 60 and not (token and since_check > TOUCH_SECONDS)
    assert answer is expected
    if expected:  # the session's idle clock restarts, as app.py's require() does
        assert after["_seen"] >= now


def test_without_sign_in_a_fragment_rerun_always_goes_on(monkeypatch):
    monkeypatch.setenv("PBKPI_AUTH", "none")
    assert _run({})[0] is True
