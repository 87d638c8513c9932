"""Uploads on a lake are jobs (etl/jobs.py): the page puts the files into the object store and a row into the
catalog; the province's worker loads, pushes and publishes them. Checked against real PostgreSQL and
SeaweedFS: a job's rows reach the published snapshot and every reader; a scoped steward's rows of other
units are rejected; a file with its own headers loads through the mapping it was recognised by, which the
worker never had; one worker per province; a worker killed in the middle of a job (SIGKILL, at random
moments) leaves the job to the next worker, which completes it exactly once; a job whose files are gone
fails with words; liveness as the page sees it."""
from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from application.warehouse import Warehouse
from etl import jobs, lake, mappings
from tests.lake.conftest import kpi_file, lake_url

pytestmark = [pytest.mark.xdist_group("lake")]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def province(services, demo_db, tmp_path_factory):
    """A lake whose one province, `company`, is a copy of the demo warehouse (its worker's file); and the demo
    warehouse itself, which the KPI files are made from (never written)."""
    pg, s3 = services
    url = lake_url(pg, s3, pg.create_database("jobs"), "jobs")
    db = tmp_path_factory.mktemp("jobs") / "company.duckdb"
    shutil.copyfile(demo_db, db)
    lake.migrate(db, url)
    return url, db, demo_db


def _published_months(url) -> tuple[int, str]:
    wh = Warehouse(url)
    month = wh.query("SELECT strftime(max(month), '%Y-%m') AS m FROM fct_kpi_monthly")["m"].iloc[0]
    return wh.version(), month


def _published(url) -> int:
    cat = lake.catalog(url)
    try:
        return lake.published(cat)
    finally:
        cat.close()


def _run_waiting(url, db: Path) -> int:
    """A worker of province `company` runs the jobs waiting now, then stops."""
    worker = jobs.Worker(url, "company", db, warm=False)
    try:
        return worker.serve(once=True)
    finally:
        worker.close()


def _worker_cmd(url, db: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "etl", "worker", "--province", "company", "--db", str(db), "--to", str(url),
            "--no-warm", *extra]


def _env():
    return {**os.environ, "PBKPI_LOG_FILE": "off", "PYTHONPATH": str(ROOT)}


def test_an_uploaded_file_is_loaded_pushed_and_published_by_the_provinces_worker(province, tmp_path):
    url, db, demo = province
    before = _published(url)
    path = tmp_path / "经营指标月报_next.csv"
    month, units = kpi_file(demo, path, 1)
    job = jobs.submit(url, "company", "steward", None, [("经营指标月报_next.csv", path, None)])
    (queued,) = jobs.recent(url, ids=[job])
    assert queued.state == "queued" and queued.labels == ["经营指标月报_next.csv"] and not queued.worker_alive
    shelf = lake.uploads_shelf(url)
    assert shelf.exists(f"{job}/0.csv")
    worker = jobs.Worker(url, "company", db, warm=False)
    try:
        assert jobs.recent(url, ids=[job])[0].worker_alive
        assert worker.serve(once=True) == 1
    finally:
        worker.close()
    (done,) = jobs.recent(url, ids=[job])
    assert done.state == "done" and done.error is None and done.attempts == 1
    assert [(r["rows_loaded"], r["rows_rejected"], r["error"]) for r in done.results] == [(units, 0, None)]
    assert {p["phase"] for p in done.progress} >= {"read", "load", "done"}
    assert done.snapshot == _published(url) > before
    version, latest = _published_months(url)
    assert version == f"lake:{url.key}@{done.snapshot}" and latest == month
    assert not shelf.exists(f"{job}/0.csv")  # the upload leaves the object store once loaded
    assert not jobs.recent(url, ids=[job])[0].worker_alive  # a closed worker is not reported as running


def test_a_scoped_stewards_rows_for_other_units_are_rejected(province, tmp_path):
    url, db, demo = province
    path = tmp_path / "kpi.csv"
    _, units = kpi_file(demo, path, 2)
    con = duckdb.connect(str(db), read_only=True)
    (unit,) = con.execute("SELECT unit_id FROM dim_units WHERE business_unit_id IS NOT NULL ORDER BY 1 LIMIT 1").fetchone()
    con.close()
    job = jobs.submit(url, "company", "county_steward", frozenset({unit}), [("kpi.csv", path, None)])
    _run_waiting(url, db)
    (done,) = jobs.recent(url, account="county_steward", limit=1)
    assert done.id == job and done.state == "done"
    (r,) = done.results
    assert (r["rows_loaded"], r["rows_rejected"]) == (1, units - 1)


def test_a_file_with_its_own_headers_loads_through_the_mapping_it_was_recognised_by(province, tmp_path):
    url, db, demo = province
    own = {"business_unit_id": "单位编号", "month": "统计月份", "complaints": "投诉件数"}
    path = tmp_path / "system_export.csv"
    month, units = kpi_file(demo, path, 3, headers=own)
    store = mappings.Store(tmp_path / "server_mappings")  # the web server's profiles; the worker has none of them
    profile = store.save("营销系统导出", "kpi_monthly", {v: k for k, v in own.items()}, by="steward")
    job = jobs.submit(url, "company", "steward", None, [("system_export.csv", path, profile)])
    _run_waiting(url, db)
    (done,) = jobs.recent(url, ids=[job])
    (r,) = done.results
    assert r["error"] is None and r["rows_loaded"] == units and r["mapping"] == profile.tag
    assert _published_months(url)[1] == month


def test_one_worker_per_province(province):
    url, db, demo = province
    first = jobs.Worker(url, "company", db, warm=False)
    try:
        with pytest.raises(jobs.JobError, match="已有一个装载进程"):
            jobs.Worker(url, "company", db, warm=False)
        out = subprocess.run(_worker_cmd(url, db, "--once"), cwd=ROOT, env=_env(), capture_output=True, text=True)
        assert out.returncode == 2 and "已有一个装载进程" in out.stderr and "Traceback" not in out.stderr
    finally:
        first.close()
    second = jobs.Worker(url, "company", db, warm=False)  # the lock went with the first
    second.close()


def test_a_job_whose_files_are_gone_fails_with_words(province, tmp_path):
    url, db, demo = province
    path = tmp_path / "kpi.csv"
    kpi_file(demo, path, 1)
    job = jobs.submit(url, "company", "steward", None, [("kpi.csv", path, None)])
    lake.uploads_shelf(url).delete(f"{job}/0.csv")
    _run_waiting(url, db)
    (failed,) = jobs.recent(url, ids=[job])
    assert failed.state == "failed" and "kpi.csv" in failed.error and "重新上传" in failed.error


def test_a_job_left_running_is_run_again_and_given_up_after_three_tries(province, tmp_path):
    url, db, demo = province
    path = tmp_path / "kpi.csv"
    kpi_file(demo, path, 1)
    again = jobs.submit(url, "company", "steward", None, [("kpi.csv", path, None)])
    given_up = jobs.submit(url, "company", "steward", None, [("kpi.csv", path, None)])
    cat = lake.catalog(url)
    cat.execute("UPDATE pbkpi_jobs SET state = 'running', attempts = 1 WHERE id = %s", [again])
    cat.execute("UPDATE pbkpi_jobs SET state = 'running', attempts = %s WHERE id = %s", [jobs.MAX_ATTEMPTS, given_up])
    cat.close()
    _run_waiting(url, db)
    a, g = (jobs.recent(url, ids=[j])[0] for j in (again, given_up))
    assert a.state == "done" and a.attempts == 2
    assert g.state == "failed" and "不再重试" in g.error
    assert not lake.uploads_shelf(url).exists(f"{given_up}/0.csv")  # a job given up leaves nothing behind


def test_a_worker_killed_in_the_middle_of_a_job_leaves_it_to_the_next_one(province, tmp_path):
    """SIGKILL at a random moment while the job runs: the lake and the file are the old ones or the new ones,
    the job is still `running`, and the next worker completes it; the rows are in the lake exactly once."""
    url, db, demo = province
    rng = random.Random(int(os.environ.get("PBKPI_SEED", "18")))
    killed = 0
    for attempt in range(4):
        path = tmp_path / f"kpi{attempt}.csv"
        month, units = kpi_file(demo, path, 4 + attempt)
        job = jobs.submit(url, "company", "steward", None, [(path.name, path, None)])
        proc = subprocess.Popen(_worker_cmd(url, db), cwd=ROOT, env=_env(), start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and jobs.recent(url, ids=[job])[0].state == "queued":
            time.sleep(0.02)
        time.sleep(rng.uniform(0, 1.5))
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        state = jobs.recent(url, ids=[job])[0]
        if state.state == "running":
            killed += 1
        _run_waiting(url, db)  # the lock of the killed one went with it
        done = jobs.recent(url, ids=[job])[0]
        assert done.state == "done" and done.results[0]["rows_loaded"] == units, done
        assert done.attempts == (2 if state.state == "running" else 1)
        wh = Warehouse(url)
        n = wh.query("SELECT count(*) AS n FROM fct_kpi_monthly WHERE strftime(month, '%Y-%m') = ?", [month])["n"].iloc[0]
        assert n == units  # once, however often it was loaded
        con = duckdb.connect(str(db), read_only=True)
        assert con.execute("SELECT count(*) FROM fct_kpi_monthly WHERE strftime(month, '%Y-%m') = ?", [month]).fetchone()[0] == units
        con.close()
    assert killed >= 1, "no kill fell inside a job: the test did not test"


def test_recent_jobs_show_only_the_accounts_own_newest_first(province, tmp_path):
    url, db, demo = province
    path = tmp_path / "kpi.csv"
    kpi_file(demo, path, 1)
    ids = [jobs.submit(url, "company", "someone", None, [("kpi.csv", path, None)]) for _ in range(3)]
    mine = jobs.recent(url, account="someone")
    assert [j.id for j in mine] == ids[::-1] and all(j.state == "queued" for j in mine)
    assert all(j.account == "someone" for j in mine)
    cat = lake.catalog(url)
    cat.execute("DELETE FROM pbkpi_jobs WHERE account = 'someone'")  # not left for the next test's worker
    cat.close()
    assert jobs.recent(url, account="someone") == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_data_page_follows_a_job_from_queued_to_published(province, tmp_path, monkeypatch, lang):
    """The page as the uploader sees it: queued with the warning that no loader runs, then done with the
    snapshot and each file's result; the words in the page's language."""
    from tests.ui.test_pages import run_page, texts
    from catalogue import t

    url, db, demo = province
    path = tmp_path / "kpi.csv"
    _, units = kpi_file(demo, path, 1)
    job = jobs.submit(url, "company", "dev", None, [("kpi.csv", path, None)])  # "dev": the no-sign-in user
    at = run_page(str(url), "pages/data_page.py", lang, monkeypatch=monkeypatch)
    assert not at.exception, [e.value for e in at.exception]
    shown = texts(at)
    assert t("page.data.job.queued", lang).format(province="company") in shown
    assert t("page.data.job.no_worker", lang).format(province="company", s=int(jobs.ALIVE)) in shown
    _run_waiting(url, db)
    snapshot = jobs.recent(url, ids=[job])[0].snapshot
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = texts(at).replace("\\", "")  # markdown escapes
    assert t("page.data.job.done", lang).format(snapshot=snapshot) in shown
    assert f"{units:,}" in shown and "kpi.csv" in shown
    cat = lake.catalog(url)
    cat.execute("DELETE FROM pbkpi_jobs WHERE account = 'dev'")
    cat.close()


def test_a_steward_is_offered_the_provinces_that_hold_their_units(services, demo_db, tmp_path):
    """Two provinces, each file with the group's root and its own business units: a steward scoped to a
    branch of one is offered that one only; the whole company and the root's steward both; a county
    committee the provinces it has units in; a node no province holds, none."""
    from application.context import Context
    from application.views.data import upload_provinces
    from bench.lake import split_provinces

    pg, s3 = services
    url = lake_url(pg, s3, pg.create_database("offered"), "offered")
    files = split_provinces(demo_db, tmp_path / "provinces")
    for prov, f in files.items():
        con = duckdb.connect(str(f))  # a province's file lists its own units (and the levels above them)
        con.execute("DELETE FROM dim_units WHERE business_unit_id IS NOT NULL AND business_unit_id NOT IN "
                    "(SELECT DISTINCT business_unit_id FROM fct_kpi_monthly)")
        con.close()
        lake.push(f, url, prov)
    lake.publish_lake(url)
    ctx = Context.open(url, disk=False)
    branches, committees = {}, {}
    for prov, f in files.items():
        con = duckdb.connect(str(f), read_only=True)
        branches[prov] = [u for (u,) in con.execute(
            "SELECT unit_id FROM dim_units WHERE business_unit_id IS NOT NULL ORDER BY 1 LIMIT 3").fetchall()]
        # each committee with the business units beneath it (one level: the demo's branches hang off them)
        committees[prov] = dict(con.execute("SELECT parent_id, count(*) FROM dim_units WHERE business_unit_id IS NOT NULL "
                                            "GROUP BY parent_id").fetchall())
        root = con.execute("SELECT unit_id FROM dim_units WHERE parent_id IS NULL").fetchone()[0]
        con.close()
    assert upload_provinces(ctx, None) == ["north", "south"]
    assert upload_provinces(ctx, frozenset({root})) == ["north", "south"]
    for prov, units in branches.items():
        assert units and all(upload_provinces(ctx, frozenset({u})) == [prov] for u in units)
    for node in set(committees["north"]) | set(committees["south"]):
        assert upload_provinces(ctx, frozenset({node})) == sorted(p for p in committees if node in committees[p])
    assert upload_provinces(ctx, frozenset({"NO-SUCH-NODE"})) == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_data_page_draws_a_running_job_in_every_phase(province, tmp_path, monkeypatch, lang):
    """Every state a worker writes, as the page may catch it mid-run: each job phase and, while loading,
    each per-file event the loader reports (read, load, done, failed, and the file-less panels/publish)."""
    import json

    from catalogue import t
    from tests.ui.test_pages import run_page, texts

    url, db, demo = province
    path = tmp_path / "kpi.csv"
    kpi_file(demo, path, 1)
    job = jobs.submit(url, "company", "dev", None, [("kpi.csv", path, None), ("b.csv", path, None)])
    cat = lake.catalog(url)
    try:
        events = [{"file": "kpi.csv", "index": 1, "total": 2, "phase": "read"},
                  {"file": "kpi.csv", "index": 1, "total": 2, "phase": "load"},
                  {"file": "kpi.csv", "index": 1, "total": 2, "phase": "done", "loaded": 68, "rejected": 0, "skipped": 0, "error": None},
                  {"file": "b.csv", "index": 2, "total": 2, "phase": "failed", "loaded": 0, "rejected": 0, "skipped": 0, "error": "x"},
                  {"file": None, "index": 2, "total": 2, "phase": "panels"},
                  {"file": None, "index": 2, "total": 2, "phase": "publish"}]
        states = [("fetch", [])] + [("load", events[:k]) for k in range(len(events) + 1)] + [("push", events), ("publish", events)]
        for phase, progress in states:
            cat.execute("UPDATE pbkpi_jobs SET state = 'running', phase = %s, progress = %s, attempts = 2 WHERE id = %s",
                        [phase, json.dumps(progress), job])
            at = run_page(str(url), "pages/data_page.py", lang, monkeypatch=monkeypatch)
            assert not at.exception, (phase, progress, [e.value for e in at.exception])
            shown = texts(at).replace("\\", "")
            assert t("page.data.job.retry", lang).format(n=2) in shown, (phase, progress)
    finally:
        cat.execute("DELETE FROM pbkpi_jobs WHERE id = %s", [job])
        cat.close()
