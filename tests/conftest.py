"""Shared fixtures. The demo warehouse is built once per test run by the real generator and loader
(shared across xdist workers through a file lock), and opened read-only by the tests."""
from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import duckdb
import pytest

from etl import warehouse
from etl.load import load_files
from tests.etl.files import ORG_HEADER, write_csv

DEMO_SEED = 2024
# uploads in the tests must not start background cache warm-ups (application/warm.py); the warm-up is tested directly
os.environ["PBKPI_WARM"] = "0"
# pages are tested without sign-in (as an administrator, the whole company) except in tests/auth, which turn
# it on with their own accounts file and audit log
os.environ["PBKPI_AUTH"] = "none"
# test servers run side by side: no health port each (tests/etl/test_operations.py serves one on a free port);
# and no log file in the project's data/ (tests that check logging point PBKPI_LOG_FILE at a temporary file)
os.environ["PBKPI_HEALTH_PORT"] = "0"
os.environ["PBKPI_LOG_FILE"] = "off"


def _shared_dir(tmp_path_factory) -> Path:
    base = tmp_path_factory.getbasetemp()
    # under xdist every worker has its own basetemp below a common parent
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def build_once(tmp_path_factory, name: str, **kw) -> Path:
    from etl.demo import build_demo

    root = _shared_dir(tmp_path_factory) / name
    root.mkdir(parents=True, exist_ok=True)
    db = root / "warehouse.duckdb"
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "done").exists():
            build_demo(db, root / "src", **kw)
            (root / "done").write_text("ok")
    return db


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory) -> Path:
    return build_once(tmp_path_factory, "demo_default", seed=DEMO_SEED)


@pytest.fixture(scope="session")
def oilfield_db(tmp_path_factory) -> Path:
    """The synthetic oilfield production plant (`etl demo --profile oilfield`)."""
    return build_once(tmp_path_factory, "demo_oilfield", seed=DEMO_SEED, profile="oilfield")


@pytest.fixture(scope="session")
def plant_db(tmp_path_factory) -> Path:
    """The synthetic non-ferrous materials plant (`etl demo --profile plant`)."""
    return build_once(tmp_path_factory, "demo_plant", seed=DEMO_SEED, profile="plant")


@pytest.fixture(autouse=True)
def _power_catalogue_unless_told():
    """Each test starts with the power profile's catalogue (the default); a test that opens another
    industry's warehouse, or says `catalogue.using(...)`, switches for itself."""
    import catalogue

    catalogue.activate("power")
    yield


@pytest.fixture(scope="session")
def demo_manifest(demo_db) -> dict:
    return json.loads((demo_db.parent / "src" / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture()
def demo_con(demo_db):
    con = duckdb.connect(str(demo_db), read_only=True)
    yield con
    con.close()


@pytest.fixture()
def empty_db(tmp_path) -> Path:
    db = tmp_path / "empty.duckdb"
    con = warehouse.connect(db)
    warehouse.init_schema(con)
    con.close()
    return db


@pytest.fixture(scope="session")
def first_week_db(tmp_path_factory) -> Path:
    """Three business units, two of them with a few months of activities and KPIs, one with nothing yet."""
    tmp = tmp_path_factory.mktemp("first_week")
    org = write_csv(tmp / "org.csv", ORG_HEADER, [
        ["P1", "试点公司党委", "", "党委", "", "", "机关", "城区", "2001-01-01"],
        ["B1", "城东供电所党支部", "P1", "党支部", "BU1", "城东供电所", "供电所", "城区", "2005-03-01"],
        ["B2", "河口供电所党支部", "P1", "党支部", "BU2", "河口供电所", "供电所", "农村", "2006-05-01"],
        ["B3", "运维班党支部", "P1", "党支部", "BU3", "变电运维班", "变电运维", "县城", "2010-01-01"],
    ])
    act = write_csv(tmp / "act.csv", ["组织编码", "活动日期", "活动类型", "实到人数", "应到人数"], [
        [b, f"2025-{m:02d}-{d:02d}", kind, 18, 20]
        for b in ("B1", "B2") for m in (8, 9, 10) for d, kind in ((5, "主题党日"), (12, "支部委员会"), (20, "党小组会"))])
    kpi = write_csv(tmp / "kpi.csv", ["业务单元编码", "月份", "用户数", "投诉件数", "售电量", "电费回收率"], [
        [bu, f"2025-{m:02d}", 12000 + 500 * i, 3 + m % 3, 5200 + 40 * m, 99.5]
        for i, bu in enumerate(("BU1", "BU2")) for m in (8, 9, 10)])
    db = tmp / "w.duckdb"
    results = load_files([org, act, kpi], db)
    assert all(r.error is None for r in results), [r.error for r in results]
    return db
