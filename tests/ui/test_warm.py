"""The cache warm-up computes exactly what a first visit asks for: after `ui.warm`, a server with empty
memory opens every statistics page (whole company, and a region) without fitting anything."""
from __future__ import annotations

import shutil
from pathlib import Path

from streamlit.runtime.caching import cache_data_api, cache_resource_api
from streamlit.testing.v1 import AppTest

from ui import analyses
from ui.warm import warm

APP = str(Path(__file__).resolve().parents[2] / "app.py")
STAT_PAGES = ["overview", "relationships", "tests", "whatif", "briefing"]


def forget_memory() -> None:
    """What a freshly started server has: nothing in memory (the disk cache stays)."""
    cache_data_api._data_caches._function_caches.clear()
    cache_resource_api._resource_caches._function_caches.clear()
    analyses.forget_memory()


def test_first_visits_after_warm_up_read_from_disk(demo_db, tmp_path, monkeypatch):
    db = tmp_path / "warehouse.duckdb"
    shutil.copyfile(demo_db, db)
    monkeypatch.setenv("PBKPI_DB", str(db))
    timings = warm(db, "all,regions", log=lambda *a: None)
    assert set(timings) == set(STAT_PAGES)
    cached = list(Path(str(db) + ".cache").glob("*/*.pkl"))
    assert len(cached) >= 4 * 9  # four slices, nine results each

    forget_memory()
    analyses.STATS.update(computed=0, from_disk=0)
    for page in STAT_PAGES:
        at = AppTest.from_file(APP, default_timeout=180)
        at.run()
        at.switch_page(f"pages/{page}_page.py")
        at.run()
        assert not at.exception, (page, at.exception)
        at.multiselect(key="f_regions").set_value(["农村"]).run()
        assert not at.exception, (page, at.exception)
    assert analyses.STATS["computed"] == 0, "a page asked for something the warm-up did not compute"
    assert analyses.STATS["from_disk"] >= 8


def test_a_new_warehouse_version_is_computed_afresh_and_old_results_pruned(demo_db, tmp_path, monkeypatch):
    db = tmp_path / "warehouse.duckdb"
    shutil.copyfile(demo_db, db)
    monkeypatch.setenv("PBKPI_DB", str(db))
    warm(db, "all", log=lambda *a: None)
    first = {p.parent.name for p in Path(str(db) + ".cache").glob("*/*.pkl")}
    with open(db, "ab") as fh:  # any change to the file is a new version (size and mtime)
        fh.write(b"\0" * 4096)
    forget_memory()
    analyses.STATS.update(computed=0, from_disk=0)
    warm(db, "all", log=lambda *a: None)
    second = {p.parent.name for p in Path(str(db) + ".cache").glob("*/*.pkl")}
    assert analyses.STATS["computed"] > 0 and analyses.STATS["from_disk"] == 0
    assert len(first) == len(second) == 1 and first != second


def test_one_process_per_page_keeps_the_same_results(demo_db, tmp_path, monkeypatch):
    """`python -m ui.warm` warms each page in its own process; it keeps exactly what one process keeps."""
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
    assert kept[True] == kept[False] and len(kept[True]) >= 9
