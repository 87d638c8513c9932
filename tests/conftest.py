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

DEMO_SEED = 2024
# uploads in the tests must not start background cache warm-ups (application/warm.py); the warm-up is tested directly
os.environ["PBKPI_WARM"] = "0"


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
