"""Provincial writers on one lake: two provinces pushing at the same instant, round after round, both
commit and nothing is lost or doubled; a push killed at a random moment leaves the lake as it was (or
wholly pushed), readers on the published snapshot never notice, a re-run completes, and maintenance
removes what the killed push left in the object store."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from application.warehouse import Warehouse
from bench.lake import split_provinces
from etl import lake
from tests.lake.conftest import lake_url

pytestmark = [pytest.mark.xdist_group("lake")]
ROUNDS = 4 * int(os.environ.get("PBKPI_STRESS", "1"))
ROOT = Path(__file__).resolve().parents[2]


# a push's transaction with its data written to the object store, waiting to be killed before COMMIT
KILLED_WRITER = """
import sys, time
from etl import lake
con = lake.connect(lake.parse(sys.argv[1]))
con.execute(f"ATTACH '{sys.argv[2]}' AS src (READ_ONLY)")
con.execute("BEGIN")
con.execute("DELETE FROM north.fct_activities")
con.execute("INSERT INTO north.fct_activities SELECT * FROM src.main.fct_activities")
con.execute("INSERT INTO north.fct_outages SELECT * FROM src.main.fct_outages")
print("written", flush=True)
time.sleep(600)
"""


def _push_cmd(db: Path, url, prov: str) -> list[str]:
    return [sys.executable, "-m", "etl", "push", "--province", prov, "--db", str(db), "--to", str(url)]


def _env():
    return {**os.environ, "PBKPI_LOG_FILE": "off", "PYTHONPATH": str(ROOT)}


def _set_round(db: Path, r: int) -> None:
    """A province reloads its KPI file: complaints of round r (so the lake must hold the last round's)."""
    con = duckdb.connect(str(db))
    con.execute("UPDATE fct_kpi_monthly SET complaints = (hash(business_unit_id, month) % 50) + ?", [r])
    con.execute("CHECKPOINT")
    con.close()


def _province_equals_file(url, prov: str, db: Path) -> None:
    con = lake.connect(url)
    try:
        con.execute(f"ATTACH '{db}' AS src (READ_ONLY)")
        tables = [t for t in lake.PROVINCE_TABLES if t in set(lake._tables(con, "src", "main"))]
        lake.verify_copy(con, tables, f"{lake.ALIAS}.{prov}")
    finally:
        con.close()


@pytest.fixture(scope="module")
def provinces(services, demo_db, tmp_path_factory):
    pg, s3 = services
    url = lake_url(pg, s3, pg.create_database("provinces"), "provinces")
    files = split_provinces(demo_db, tmp_path_factory.mktemp("provinces"))
    return url, files


def test_two_provinces_pushing_at_once_both_commit_every_round(provinces, demo_db):
    url, files = provinces
    for r in range(ROUNDS):
        for f in files.values():
            _set_round(f, r)
        procs = {p: subprocess.Popen(_push_cmd(f, url, p), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True) for p, f in files.items()}
        for p, proc in procs.items():
            out, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, f"round {r} {p}: {err[-2000:]}"
    for p, f in files.items():  # each province holds exactly its last push: nothing lost, nothing doubled
        _province_equals_file(url, p, f)
    lake.publish_lake(url)
    snap = Warehouse(str(url)).snapshot()
    con = duckdb.connect(str(demo_db), read_only=True)
    try:  # the group is the two provinces side by side: as many facts as the company had
        for t in ("fct_activities", "fct_outages", "fct_membership", "fct_kpi_monthly", "dim_units"):
            assert snap._query(f"SELECT count(*) AS n FROM {t}")["n"].iloc[0] == con.execute(f"SELECT count(*) FROM {t}").fetchone()[0], t
        panel = snap.panel("month")
        assert len(panel) == con.execute("SELECT count(*) FROM panel_month").fetchone()[0]
        ref = con.execute("SELECT business_unit_id, period, saidi, meetings FROM panel_month ORDER BY 1, 2").df()
    finally:
        con.close()
    got = panel.sort_values(["business_unit_id", "period"])[["business_unit_id", "period", "saidi", "meetings"]]
    import pandas as pd

    pd.testing.assert_frame_equal(got.reset_index(drop=True), ref, check_dtype=False)  # facts untouched: same panel


def test_a_killed_push_leaves_nothing_half_done(provinces):
    url, files = provinces
    f = files["north"]
    for p, pf in files.items():  # a published lake to start from (whatever ran before)
        lake.push(pf, url, p)
    lake.publish_lake(url)
    reader = Warehouse(str(url)).snapshot()
    seen_before = reader._query("SELECT sum(complaints) AS s, count(*) AS n FROM fct_kpi_monthly")
    rng = random.Random(7)
    started = time.monotonic()  # how long a whole push takes here: kills fall anywhere in it, or just after
    out = subprocess.run(_push_cmd(f, url, "north"), env=_env(), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    whole = time.monotonic() - started
    outcomes = []
    cat = lake.catalog(url)
    try:
        published = lake.published(cat)
        for k in range(4 * int(os.environ.get("PBKPI_STRESS", "1"))):
            _set_round(f, 100 + k)
            con = duckdb.connect(str(f), read_only=True)
            new_sum = con.execute("SELECT sum(complaints) FROM fct_kpi_monthly").fetchone()[0]
            con.close()
            probe = lake.connect(url)
            old_sum = probe.execute("SELECT sum(complaints) FROM north.fct_kpi_monthly").fetchone()[0]
            probe.close()
            log = f.with_suffix(f".kill{k}.log")
            with open(log, "wb") as fh:
                proc = subprocess.Popen(_push_cmd(f, url, "north"), env=_env(), stdout=fh, stderr=fh, start_new_session=True)
                time.sleep(rng.uniform(0.1, 3.0) * whole)
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            finished = log.read_text(errors="replace")
            assert "错误" not in finished, finished  # the push was killed or it succeeded; it did not fail
            probe = lake.connect(url)
            try:  # the lake's latest state: the push wholly, or not at all
                now = probe.execute("SELECT sum(complaints) FROM north.fct_kpi_monthly").fetchone()[0]
                assert now in (old_sum, new_sum)
                outcomes.append("before commit" if now == old_sum else "after commit")
            finally:
                probe.close()
            assert lake.published(cat) == published  # nothing was published by a push
            pd_now = reader._query("SELECT sum(complaints) AS s, count(*) AS n FROM fct_kpi_monthly")
            assert pd_now.equals(seen_before)  # a reader on the published snapshot saw nothing
            out = subprocess.run(_push_cmd(f, url, "north"), env=_env(), capture_output=True, text=True, timeout=300)
            assert out.returncode == 0, out.stderr[-2000:]  # a re-run is not blocked by anything the kill left
            _province_equals_file(url, "north", f)
    finally:
        cat.close()
    print("killed pushes:", outcomes, "whole push", round(whole, 2), "s")  # shown with -s: where the kills fell
    # and one writer killed for certain with its data written and its commit not made (its files stay behind)
    writer = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(url), str(f)], env=_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    assert writer.stdout.readline().strip() == "written", writer.stderr.read()[-2000:]
    os.killpg(writer.pid, signal.SIGKILL)
    writer.wait()
    con = lake.connect(url)
    try:  # what the killed writers left: files in the store that no commit recorded (DuckLake's own dry run)
        left = [r[0] for r in con.execute("CALL ducklake_delete_orphaned_files('lake', dry_run => true, "
                                          "older_than => now())").fetchall()]
        stored = {r[0] for r in con.execute(f"SELECT file FROM glob('{url.data_path}**')").fetchall()}
    finally:
        con.close()
    assert left and set(left) <= stored
    removed = lake.maintain(url, orphans_older_than_s=0)
    assert removed["orphans"] == len(left)
    con = lake.connect(url)
    try:
        assert not con.execute("CALL ducklake_delete_orphaned_files('lake', dry_run => true, older_than => now())").fetchall()
        assert not set(left) & {r[0] for r in con.execute(f"SELECT file FROM glob('{url.data_path}**')").fetchall()}
    finally:
        con.close()
    _province_equals_file(url, "north", f)  # maintenance removed nothing the lake still reads
    lake.publish_lake(url)
    assert Warehouse(str(url)).snapshot().has_data()


def test_a_published_snapshot_never_mixes_panels_with_newer_facts(provinces):
    """Provinces push while the publisher publishes: DuckLake merges a push that lands during a publish into
    the publisher's commit, so that commit holds facts its panels were not computed from. Such a snapshot is
    never published (the publisher computes again): at every published snapshot the panels' complaints are
    exactly the KPI files' complaints."""
    import threading

    url, files = provinces
    for p, f in files.items():
        lake.push(f, url, p)
    stop = threading.Event()
    errors = []

    def pushing():
        r = 200
        while not stop.is_set():
            r += 1
            try:
                for p, f in files.items():
                    _set_round(f, r)
                    lake.push(f, url, p)
            except Exception as exc:  # reported below: the test fails with it
                errors.append(exc)
                return

    t = threading.Thread(target=pushing)
    t.start()
    try:
        published = [lake.publish_lake(url) for _ in range(3 * int(os.environ.get("PBKPI_STRESS", "1")))]
    finally:
        stop.set()
        t.join()
    assert not errors, errors
    for snap in published:
        con = lake.connect(url, snapshot=snap)
        try:
            panel, facts = con.execute("SELECT (SELECT sum(complaints) FROM panel_month), "
                                       "(SELECT sum(complaints) FROM fct_kpi_monthly)").fetchone()
        finally:
            con.close()
        assert panel == facts, snap
