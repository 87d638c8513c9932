"""批注 (application/notes.py): written against a unit and month outside the warehouse, read through the
reader's scope, shown on the unit's profile and in the briefing."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from application.notes import NoteError, NoteStore, visible
from application.warehouse import Warehouse

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def test_notes_are_kept_validated_and_deleted_softly(tmp_path):
    store = NoteStore(tmp_path / "notes.sqlite")
    a = store.add("BU001", "2025-07", "  7 月台风，\n线路抢修  ", "zhang")
    store.add("BU002", "2025-08", "更换配变", "li")
    assert a.text == "7 月台风， 线路抢修"
    assert [n.text for n in store.notes()] == ["7 月台风， 线路抢修", "更换配变"]
    assert [n.business_unit_id for n in store.notes({"BU002"})] == ["BU002"]
    assert [n.month for n in store.notes(first="2025-08", last="2025-09")] == ["2025-08"]
    store.delete(a.id, "admin")
    assert [n.text for n in store.notes()] == ["更换配变"]
    for bad, words in ((("BU1", "2025-07", "  "), "不能为空"), (("BU1", "2025-13", "x"), "2025-07"),
                       (("BU1", "2025-07", "长" * 201), "最多")):
        with pytest.raises(NoteError, match=words):
            store.add(*bad, "x")


def test_a_reader_sees_only_notes_on_units_in_their_scope(tmp_path, demo_db):
    store = NoteStore(tmp_path / "notes.sqlite")
    wh = Warehouse(demo_db)
    jiangbei = wh.snapshot(frozenset({"P江北"}))
    inside = sorted(jiangbei.scope)[0]
    outside = sorted(set(wh.snapshot().business_units()["business_unit_id"]) - set(jiangbei.scope))[0]
    store.add(inside, "2025-10", "inside", "x")
    store.add(outside, "2025-10", "outside", "x")
    assert [n.text for n in visible(store, jiangbei)] == ["inside"]
    assert visible(store, jiangbei, outside) == []
    assert sorted(n.text for n in visible(store, wh.snapshot())) == ["inside", "outside"]


def test_the_profile_and_the_briefing_show_the_note(tmp_path, demo_db, monkeypatch):
    from analytics.panel import PanelFilter
    from application.warehouse import open_snapshot
    from briefing import export
    from briefing.content import build

    monkeypatch.setenv("PBKPI_DB", str(demo_db))
    monkeypatch.setenv("PBKPI_NOTES", str(tmp_path / "notes.sqlite"))
    NoteStore(tmp_path / "notes.sqlite").add("BU001", "2025-11", "<b>更换配变</b>，停电增加", "zhang")
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["pf_unit"] = "BU001"
    at.run()
    at.switch_page("pages/unit_profile_page.py")
    at.run()
    assert not at.exception
    captions = [c.value for c in at.caption]
    assert any("2025-11" in c and "更换配变" in c and "zhang" in c for c in captions)
    html = export.to_html(build(open_snapshot(demo_db), "2025Q4", PanelFilter()), "zh",
                          annotations=[("江北城关供电所", "2025-11", "<b>更换配变</b>，停电增加", "zhang")])
    assert "&lt;b&gt;更换配变&lt;/b&gt;" in html and "<b>更换配变" not in html
