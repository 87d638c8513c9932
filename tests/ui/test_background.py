"""Statistics for large slices not yet kept are computed by the job runner's one background thread while
the page answers at once with a notice, then shown on the page's next run; failures reach the page instead
of a notice that never goes away. The store and runner are tested directly, the pages through AppTest."""
from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest
from streamlit.runtime.caching import cache_resource_api
from streamlit.testing.v1 import AppTest

from analytics.errors import AnalysisError
from application.runner import JobRunner
from application.store import Job, ResultStore
from catalogue import t

APP = str(Path(__file__).resolve().parents[2] / "app.py")
# page -> notices on its first tab (the tests page's event study computes too, behind its own tab)
STAT_PAGES = {"overview": 1, "relationships": 1, "tests": 1, "whatif": 1, "briefing": 1}


class FakeSnapshot:
    def __init__(self, version: str = "v1"):
        self.version = version


def runner_of(db: Path) -> tuple[ResultStore, JobRunner]:
    from ui.session import services

    _, store, runner = services(str(db))
    return store, runner


def wait_idle(runner: JobRunner, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while runner.busy():
        assert time.monotonic() < end, "the background runner did not finish"
        time.sleep(0.05)


def notices(at) -> list[str]:
    computing = t("app.computing", "zh").split("（")[0]
    return [i.value for i in at.info if i.value.startswith(computing)]


@pytest.fixture
def fresh_db(demo_db, tmp_path, monkeypatch):
    """A copy of the demo warehouse with nothing kept yet, and every slice large enough for the runner."""
    db = tmp_path / "warehouse.duckdb"
    shutil.copyfile(demo_db, db)
    monkeypatch.setenv("PBKPI_DB", str(db))
    monkeypatch.setenv("PBKPI_BACKGROUND_ROWS", "1")
    cache_resource_api._resource_caches._function_caches.clear()  # a new server: new store and runner
    yield db
    wait_idle(runner_of(db)[1])


@pytest.mark.parametrize("page", list(STAT_PAGES))
def test_page_answers_with_a_notice_then_shows_the_statistics(fresh_db, page):
    at = AppTest.from_file(APP, default_timeout=120)
    if page != "overview":  # the overview is the first page: its own request is the test
        at.query_params["region"] = "农村"
        at.run()
        wait_idle(runner_of(fresh_db)[1])
        at.multiselect(key="f_regions").set_value([])
        at.switch_page(f"pages/{page}_page.py")
    store, runner = runner_of(fresh_db)
    before = store.stats["background"]
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(notices(at)) == STAT_PAGES[page], [i.value for i in at.info]
    assert not at.get("plotly_chart"), "a chart drawn before its statistics"
    wait_idle(runner)
    assert store.stats["background"] > before
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not notices(at)
    assert not at.error, [e.value for e in at.error]
    assert at.get("plotly_chart") or at.dataframe


def test_a_filter_change_is_computed_in_the_background_and_kept(fresh_db):
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    store, runner = runner_of(fresh_db)
    at.switch_page("pages/relationships_page.py")
    at.run()
    wait_idle(runner)
    at.run()
    assert not notices(at)
    at.multiselect(key="f_regions").set_value(["城区", "县城"]).run()
    assert notices(at), "a new slice was drawn before it was computed"
    wait_idle(runner)
    at.run()
    assert not notices(at) and not at.exception
    computed = store.stats["computed"]
    at.multiselect(key="f_regions").set_value([]).run()  # back to the company: kept, drawn at once
    assert not notices(at) and store.stats["computed"] == computed


def test_an_analysis_error_reaches_the_page(fresh_db):
    """The tests page with no input picked: the fit fails in the runner; the page shows why."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    runner = runner_of(fresh_db)[1]
    at.switch_page("pages/tests_page.py")
    at.run()
    at.multiselect(key="ts_x").set_value([]).run()
    wait_idle(runner)
    at.run()
    assert not at.exception
    assert at.error, "the failed fit left no message"
    assert len(notices(at)) == 0


def _store(tmp_path) -> tuple[ResultStore, JobRunner]:
    store = ResultStore(tmp_path / "cache", code="test")
    return store, JobRunner(store)


def flaky_double(snap, x, channel):
    calls = channel.obj
    calls.append(x)
    if len(calls) == 1:
        raise OSError("disk busy")
    return x * 2


def too_few(snap, x, channel):
    channel.obj.append(x)
    raise AnalysisError("too few treated units")


def test_a_transient_failure_is_shown_once_then_retried(tmp_path):
    store, runner = _store(tmp_path)
    calls = []
    job = Job(flaky_double, (21, _Unhashed(calls)))
    snap = FakeSnapshot()
    runner.submit(snap, job)
    wait_idle(runner)
    assert store.ready(snap, job)  # the page goes on to draw, and its call shows the error
    with pytest.raises(OSError):
        store.get(snap, job)
    assert store.get(snap, job) == 42 and len(calls) == 2
    assert store.get(snap, job) == 42 and len(calls) == 2  # kept
    assert store.stats["computed"] == 1


def test_a_domain_error_is_kept_for_the_version_and_not_for_the_next(tmp_path):
    store, runner = _store(tmp_path)
    calls = []
    job = Job(too_few, (1, _Unhashed(calls)))
    runner.submit(FakeSnapshot("v1"), job)
    wait_idle(runner)
    for _ in range(2):
        with pytest.raises(AnalysisError):
            store.get(FakeSnapshot("v1"), job)
    assert len(calls) == 1
    with pytest.raises(AnalysisError):
        store.get(FakeSnapshot("v2"), job)  # a new warehouse version is tried afresh
    assert len(calls) == 2


def test_results_are_kept_on_disk_per_version_and_code(tmp_path):
    store, _ = _store(tmp_path)
    job = Job(_square, (7,))
    assert store.get(FakeSnapshot("v1"), job) == 49
    again = ResultStore(tmp_path / "cache", code="test")  # a restarted server
    assert again.ready(FakeSnapshot("v1"), job) and again.get(FakeSnapshot("v1"), job) == 49
    assert again.stats == {"computed": 0, "from_disk": 1, "background": 0}
    upgraded = ResultStore(tmp_path / "cache", code="other")  # new code or library versions: computed again
    assert not upgraded.ready(FakeSnapshot("v1"), job)
    assert upgraded.prune("v1") == 1 and not (tmp_path / "cache" / store.version_dir("v1").name).exists()


def test_the_code_version_covers_the_application_layer_and_the_libraries():
    from application import store

    assert "application" in store.CODE and {"numpy", "pandas", "pyfixest", "statsmodels"} <= set(store.LIBRARIES)
    assert len(store.code_version()) == 16


def test_the_newest_request_runs_first_and_repeats_are_not_computed_twice(tmp_path):
    store, runner = _store(tmp_path)
    gate = threading.Event()
    order = []
    snap = FakeSnapshot()
    runner.submit(snap, Job(_slow, ("first", _Unhashed((gate, order)))))  # occupies the worker until the gate opens
    end = time.monotonic() + 10
    while not runner.running() and time.monotonic() < end:
        time.sleep(0.01)
    for x in ("a", "b", "c", "a", "first"):
        runner.submit(snap, Job(_slow, (x, _Unhashed((gate, order)))))
    gate.set()
    wait_idle(runner)
    assert order == ["first", "a", "c", "b"]


def test_a_request_waits_for_the_page_run_that_made_it(tmp_path):
    """The runner starts start_delay after a request: the page that asked is not slowed by it."""
    store, runner = _store(tmp_path)
    started = []
    t0 = time.monotonic()
    runner.submit(FakeSnapshot(), Job(_stamp, (_Unhashed(started),)))
    wait_idle(runner)
    assert started and started[0] - t0 >= runner.start_delay * 0.9


class _Unhashed:
    """A test's side channel inside a job's arguments: the same key whatever it holds."""

    def __init__(self, obj):
        self.obj = obj

    def __reduce__(self):
        return (str, ("side channel",))

    def __eq__(self, other):
        return isinstance(other, _Unhashed)

    def __hash__(self):
        return 0


def _square(snap, x):
    return x * x


def _slow(snap, x, channel):
    gate, order = channel.obj
    if x == "first":
        gate.wait(10)
    order.append(x)
    return x


def _stamp(snap, channel):
    channel.obj.append(time.monotonic())
    return 1
