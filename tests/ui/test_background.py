"""Statistics for large uncached slices are computed by one background thread while the page answers at
once with a notice, then shown on the page's next run; failures reach the page instead of a notice that
never goes away."""
from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from catalogue import t
from ui import analyses

APP = str(Path(__file__).resolve().parents[2] / "app.py")
STAT_PAGES = {"overview": 1, "relationships": 1, "tests": 2, "whatif": 1, "briefing": 1}  # page -> notices


def wait_idle(timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while analyses.busy():
        assert time.monotonic() < end, "the background worker did not finish"
        time.sleep(0.05)


def notices(at) -> list[str]:
    computing = t("app.computing", "zh").split("（")[0]
    return [i.value for i in at.info if i.value.startswith(computing)]


@pytest.fixture
def fresh_db(demo_db, tmp_path, monkeypatch):
    """A copy of the demo warehouse with nothing kept yet, and every slice large enough for the worker."""
    db = tmp_path / "warehouse.duckdb"
    shutil.copyfile(demo_db, db)
    monkeypatch.setenv("PBKPI_DB", str(db))
    monkeypatch.setenv("PBKPI_BACKGROUND_ROWS", "1")
    analyses.forget_memory()
    yield db
    wait_idle()
    analyses.forget_memory()


@pytest.mark.parametrize("page", list(STAT_PAGES))
def test_page_answers_with_a_notice_then_shows_the_statistics(fresh_db, page):
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page(f"pages/{page}_page.py")
    before = analyses.STATS["background"]
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(notices(at)) == STAT_PAGES[page], [i.value for i in at.info]
    assert not at.get("plotly_chart"), "a chart drawn before its statistics"

    wait_idle()
    assert analyses.STATS["background"] > before
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not notices(at)
    assert not at.error, [e.value for e in at.error]
    assert at.get("plotly_chart") or at.dataframe


def test_a_filter_change_is_computed_in_the_background_and_kept(fresh_db):
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("pages/relationships_page.py")
    at.run()
    wait_idle()
    at.run()
    assert not notices(at)
    at.multiselect(key="f_regions").set_value(["城区", "县城"]).run()
    assert notices(at), "a new slice was drawn before it was computed"
    wait_idle()
    at.run()
    assert not notices(at) and not at.exception
    computed = analyses.STATS["computed"]
    at.multiselect(key="f_regions").set_value([]).run()  # back to the company: kept, drawn at once
    assert not notices(at) and analyses.STATS["computed"] == computed


def test_an_analysis_error_reaches_the_page(fresh_db):
    """The tests page with no input picked: the fit fails in the worker; the page shows why."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("pages/tests_page.py")
    at.run()
    at.multiselect(key="ts_x").set_value([]).run()
    wait_idle()
    at.run()
    assert not at.exception
    assert at.error, "the failed fit left no message"
    assert len(notices(at)) == 0


def _fake(monkeypatch, func):
    """A kept function over fake arguments, every slice counted as large."""
    monkeypatch.setattr(analyses, "slice_rows", lambda v, args: 10**9)
    monkeypatch.setattr(analyses, "cache_dir", lambda v, root=fresh_dir(): root)
    return analyses.kept(func)


def fresh_dir() -> Path:
    import tempfile

    return Path(tempfile.mkdtemp())


def test_a_transient_failure_is_shown_once_then_retried(monkeypatch):
    calls = []

    def flaky(v, x):
        calls.append(x)
        if len(calls) == 1:
            raise OSError("disk busy")
        return x * 2

    fn = _fake(monkeypatch, flaky)
    with pytest.raises(analyses.Pending):
        analyses.ensure("v1", [(fn, 21)])
    wait_idle()
    analyses.ensure("v1", [(fn, 21)])  # ready: the page goes on to draw, and its call shows the error
    with pytest.raises(OSError):
        fn("v1", 21)
    assert fn("v1", 21) == 42 and len(calls) == 2
    assert fn("v1", 21) == 42 and len(calls) == 2  # kept


def test_a_domain_error_is_kept_for_the_version(monkeypatch):
    calls = []

    def too_few(v, x):
        calls.append(x)
        raise ValueError("too few treated units")

    fn = _fake(monkeypatch, too_few)
    with pytest.raises(analyses.Pending):
        analyses.ensure("v1", [(fn, 1)])
    wait_idle()
    analyses.ensure("v1", [(fn, 1)])  # ready: the page draws the error
    for _ in range(2):
        with pytest.raises(ValueError):
            fn("v1", 1)
    assert len(calls) == 1


def test_the_newest_request_runs_first_and_repeats_are_not_computed_twice(monkeypatch):
    gate = threading.Event()
    order = []

    def slow(v, x):
        if x == "first":
            gate.wait(10)
        order.append(x)
        return x

    fn = _fake(monkeypatch, slow)
    fn.submit("v1", "first")  # occupies the worker until the gate opens
    end = time.monotonic() + 10
    while not analyses._running and time.monotonic() < end:
        time.sleep(0.01)
    for x in ("a", "b", "c", "a", "first"):
        fn.submit("v1", x)
    gate.set()
    wait_idle()
    assert order == ["first", "a", "c", "b"]


def test_a_request_waits_for_the_page_run_that_made_it(monkeypatch):
    """The worker starts START_DELAY after a request: the page that asked is not slowed by it."""
    started = []
    fn = _fake(monkeypatch, lambda v, x: started.append(time.monotonic()) or x)
    t0 = time.monotonic()
    fn.submit("v1", "x")
    wait_idle()
    assert started and started[0] - t0 >= analyses.START_DELAY * 0.9
