"""The warm-up computes exactly what a first visit asks for: after `application.warm`, a server with empty
memory opens every statistics page (whole company, and a region) without fitting anything."""
from __future__ import annotations

import shutil
from pathlib import Path

from streamlit.runtime.caching import cache_data_api, cache_resource_api
from streamlit.testing.v1 import AppTest

from application.warm import warm

APP = str(Path(__file__).resolve().parents[2] / "app.py")
STAT_PAGES = ["overview", "relationships", "tests", "whatif", "briefing"]


def forget_memory() -> None:
    """What a freshly started server has: nothing in memory (the disk cache stays)."""
    cache_data_api._data_caches._function_caches.clear()
    cache_resource_api._resource_caches._function_caches.clear()  # ui.session.services: a new store


def store_stats(db) -> dict:
    from ui.session import services

    return services(str(db))[1].stats


def test_first_visits_after_warm_up_read_from_disk(demo_db, tmp_path, monkeypatch):
    db = tmp_path / "warehouse.duckdb"
    shutil.copyfile(demo_db, db)
    monkeypatch.setenv("PBKPI_DB", str(db))
    timings = warm(db, "all,regions", log=lambda *a: None)
    assert set(timings) == set(STAT_PAGES)
    cached = list(Path(str(db) + ".cache").glob("*/*.pkl"))
    assert len(cached) >= 4 * 8  # four slices, eight results each

    forget_memory()
    for page in STAT_PAGES:
        at = AppTest.from_file(APP, default_timeout=180)
        at.run()
        at.switch_page(f"pages/{page}_page.py")
        at.run()
        assert not at.exception, (page, at.exception)
        at.multiselect(key="f_regions").set_value(["农村"]).run()
        assert not at.exception, (page, at.exception)
    stats = store_stats(db)
    assert stats["computed"] == 0, "a page asked for something the warm-up did not compute"
    assert stats["from_disk"] >= 8


def test_a_new_warehouse_version_is_computed_afresh_and_old_results_pruned(demo_db, tmp_path, monkeypatch):
    db = tmp_path / "warehouse.duckdb"
    shutil.copyfile(demo_db, db)
    monkeypatch.setenv("PBKPI_DB", str(db))
    warm(db, "all", log=lambda *a: None)
    first = {p.parent.name for p in Path(str(db) + ".cache").glob("*/*.pkl")}
    with open(db, "ab") as fh:  # any change to the file is a new version (size and mtime)
        fh.write(b"\0" * 4096)
    forget_memory()
    warm(db, "all", log=lambda *a: None)
    second = {p.parent.name for p in Path(str(db) + ".cache").glob("*/*.pkl")}
    assert len(first) == len(second) == 1 and first != second


def test_one_process_per_page_keeps_the_same_results(demo_db, tmp_path, monkeypatch):
    """`python -m application.warm` warms each page in its own process; it keeps exactly what one process keeps."""
    kept = {}
    for isolate in (False, True):
        db = tmp_path / f"{isolate}" / "warehouse.duckdb"
        db.parent.mkdir()
        shutil.copyfile(demo_db, db)
        monkeypatch.setenv("PBKPI_DB", str(db))
        forget_memory()
        timings = warm(db, "all", log=lambda *a: None, isolate=isolate)
        assert set(timings) == set(STAT_PAGES)
        kept[isolate] = sorted(p.name for p in Path(str(db) + ".cache").glob("*/*.pkl"))
    assert kept[True] == kept[False] and len(kept[True]) >= 8
