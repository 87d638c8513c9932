"""Sign-in, roles, data scopes along the organisation tree, the watermark and the audit log."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from application.context import Context
from application.selection import Selection
from application.store import Job, ResultStore
from application.views import overview
from application.warehouse import Warehouse
from auth.audit import AuditLog
from auth.store import COMPANY, LOCK_MINUTES, MAX_FAILURES, AuthError, AuthStore

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
COUNTIES = ["P江北", "P清河", "P东湖", "P南山", "P石桥"]


@pytest.fixture
def store(tmp_path) -> AuthStore:
    return AuthStore(tmp_path / "auth.sqlite")


def test_passwords_are_hashed_and_verified(store, tmp_path):
    store.add_user("li", "李书记", "secretary", "correct horse", ["BU001-01"])
    assert store.verify("li", "correct horse").nodes == frozenset({"BU001-01"})
    raw = (tmp_path / "auth.sqlite").read_bytes()
    assert b"correct horse" not in raw and b"$argon2id$" in raw
    with pytest.raises(AuthError, match="账号或密码错误"):
        store.verify("li", "wrong password")
    with pytest.raises(AuthError, match="账号或密码错误"):  # the same words for an unknown account
        store.verify("nobody", "correct horse")
    with pytest.raises(AuthError, match="至少"):
        store.add_user("x", "x", "leader", "short", [COMPANY])
    with pytest.raises(AuthError, match="角色"):
        store.add_user("x", "x", "king", "long enough", [COMPANY])


def test_lockout_after_repeated_failures_then_unlock(store):
    store.add_user("wang", "王", "leader", "right password", [COMPANY])
    for _ in range(MAX_FAILURES - 1):
        with pytest.raises(AuthError, match="错误"):
            store.verify("wang", "wrong")
    with pytest.raises(AuthError, match="锁定"):
        store.verify("wang", "wrong")
    with pytest.raises(AuthError, match="锁定"):  # the right password does not open a locked account
        store.verify("wang", "right password")
    import time

    assert store.verify("wang", "right password", now=time.time() + LOCK_MINUTES * 60 + 1).account == "wang"
    for _ in range(MAX_FAILURES):
        with pytest.raises(AuthError):
            store.verify("wang", "wrong")
    store.unlock("wang")
    assert store.verify("wang", "right password").account == "wang"
    store.set_disabled("wang", True)
    with pytest.raises(AuthError, match="停用"):
        store.verify("wang", "right password")


def test_audit_is_appended_outside_the_warehouse_and_never_holds_secrets(tmp_path, demo_db):
    log = AuditLog(tmp_path / "audit.jsonl")
    log.write("signin", "li", role="secretary")
    log.write("export", "li", what="twfe", format="csv")
    with pytest.raises(ValueError):
        log.write("signin", "li", password="x")
    assert [e["event"] for e in log.entries()] == ["export", "signin"]
    assert log.entries(event="signin")[0]["account"] == "li"
    # a publish replaces the warehouse file; the audit log is elsewhere and untouched
    before = (tmp_path / "audit.jsonl").read_bytes()
    db = tmp_path / "w.duckdb"
    import shutil

    from etl.load import load_files
    from tests.etl.files import write_csv
    from tests.etl.test_hardening import MEMBERS

    shutil.copyfile(demo_db, db)
    (r,) = load_files([write_csv(tmp_path / "m.csv", MEMBERS, [["BU001-01", "2025-12", 21]])], db)
    assert r.error is None
    assert (tmp_path / "audit.jsonl").read_bytes() == before


# ---------------------------------------------------------------- scopes in the read path

def test_scope_resolution_along_the_tree(demo_db, tmp_path):
    snap = Warehouse(demo_db).snapshot()
    bus = snap.business_units()
    units = snap._query("SELECT unit_id, parent_id, business_unit_id FROM dim_units")
    jiangbei = set(units.loc[units["parent_id"] == "P江北", "business_unit_id"])
    assert snap.units_beneath(frozenset({"P江北"})) == jiangbei and 0 < len(jiangbei) < len(bus)
    assert snap.units_beneath(frozenset({"P000"})) == set(bus["business_unit_id"])  # the company's committee
    assert snap.units_beneath(frozenset({"BU001-01"})) == {"BU001"}  # a branch: its business unit
    assert snap.units_beneath(frozenset({"BU002"})) == {"BU002"}  # a business unit code
    assert snap.units_beneath(frozenset({"nowhere"})) == frozenset()
    assert snap.units_beneath(frozenset({"P江北", "P清河"})) == jiangbei | snap.units_beneath(frozenset({"P清河"}))


def test_a_unit_moved_between_parents_moves_between_scopes(tmp_path):
    from etl.load import load_files
    from tests.etl.files import ORG_HEADER, write_csv

    db = tmp_path / "w.duckdb"
    org = [["P1", "公司党委", "", "党委", "", "", "机关", "城区", "2001-01-01"],
           ["PA", "甲县党委", "P1", "党委", "", "", "机关", "城区", "2001-01-01"],
           ["PB", "乙县党委", "P1", "党委", "", "", "机关", "城区", "2001-01-01"],
           ["B1", "一支部", "PA", "党支部", "BU1", "一所", "供电所", "城区", "2005-03-01"],
           ["B2", "二支部", "PB", "党支部", "BU2", "二所", "供电所", "农村", "2005-03-01"]]
    load_files([write_csv(tmp_path / "o.csv", ORG_HEADER, org)], db)
    assert Warehouse(db).snapshot().units_beneath(frozenset({"PA"})) == {"BU1"}
    org[4][2] = "PA"  # 二支部 now reports to 甲县
    load_files([write_csv(tmp_path / "o2.csv", ORG_HEADER, org)], db)
    assert Warehouse(db).snapshot().units_beneath(frozenset({"PA"})) == {"BU1", "BU2"}
    assert Warehouse(db).snapshot().units_beneath(frozenset({"PB"})) == frozenset()  # a node with no units


def test_every_read_is_restricted_to_the_scope(demo_db):
    wh = Warehouse(demo_db)
    whole, scoped = wh.snapshot(), wh.snapshot(frozenset({"P江北"}))
    mine = scoped.scope
    other = sorted(set(whole.business_units()["business_unit_id"]) - mine)[0]
    for grain in ("month", "quarter"):
        assert set(scoped.panel(grain)["business_unit_id"]) == mine
        assert scoped.periods(grain) == sorted(scoped.panel(grain)["period"].unique())
    assert set(scoped.business_units()["business_unit_id"]) == mine and set(scoped.unit_names()) == mine
    assert set(scoped.coverage()["business_unit_id"]) == mine
    assert set(scoped.initiatives()["business_unit_id"]) <= mine and set(scoped.initiatives_in_quarter("2025Q3")["business_unit_id"]) <= mine
    for read in (scoped.branches, scoped.activities_by_type, scoped.assessments, scoped.initiatives):
        assert read(other).empty, read.__name__
        assert not whole.branches(other).empty
    assert scoped.load_history().empty and scoped.rejects().empty and not whole.load_history().empty
    assert set(scoped.rows(Selection(unit=other), with_unit=True)["business_unit_id"]) == set()
    assert scoped.latest(Selection()).business_unit_id.isin(mine).all()


def test_results_are_kept_per_scope(demo_db):
    wh = Warehouse(demo_db)
    a, b = wh.snapshot(frozenset({"P江北"})), wh.snapshot(frozenset({"P清河"}))
    job = Job(overview.view, ())
    assert job.key(a) != job.key(b) != job.key(wh.snapshot())
    assert job.key(a) == job.key(wh.snapshot(frozenset({"P江北"})))


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(nodes=st.sets(st.sampled_from(COUNTIES), min_size=1, max_size=3))
def test_statistics_through_the_app_equal_those_on_the_in_scope_rows(demo_db, nodes):
    """For random scopes: the overview's cards and the correlations computed through a scoped context equal
    the same computations on the in-scope rows of the whole panel."""
    from analytics.correlate import correlate
    from analytics.panel import from_warehouse_frame
    from analytics.rollup import rollup
    from application import statistics as stats

    wh = Warehouse(demo_db)
    ctx = Context(wh.snapshot(frozenset(nodes)), ResultStore(None))
    scope = ctx.snapshot.scope
    sel = Selection("month", "2023-01", "2025-12")
    vm = overview.view(ctx, sel)
    q = wh.snapshot().panel("quarter")
    q = q[q["business_unit_id"].isin(scope) & (q["period"] >= "2023Q1") & (q["period"] <= "2025Q4")]
    totals = rollup(q, ["period"]).set_index("period")
    for card in vm.cards:
        want = totals[card.metric].get(vm.quarter)
        assert (card.value is None and pd.isna(want)) or card.value == pytest.approx(float(want), rel=1e-12)
    got = ctx.value(stats.job(stats.corr_matrix, sel, 1)).table
    m = wh.snapshot().panel("month")
    m = m[m["business_unit_id"].isin(scope) & (m["period"] >= "2023-01") & (m["period"] <= "2025-12")]
    want = correlate(from_warehouse_frame(m, "month"), stats.inputs(), stats.kpis(), 1).table
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True))


# ---------------------------------------------------------------- the app, signed in

@pytest.fixture
def accounts(tmp_path, demo_db, monkeypatch):
    monkeypatch.setenv("PBKPI_AUTH", "local")
    monkeypatch.setenv("PBKPI_AUTH_DB", str(tmp_path / "auth.sqlite"))
    monkeypatch.setenv("PBKPI_AUDIT", str(tmp_path / "audit.jsonl"))
    monkeypatch.setenv("PBKPI_DB", str(demo_db))
    from streamlit.runtime.caching import cache_resource_api

    cache_resource_api._resource_caches._function_caches.clear()
    out = subprocess.run([sys.executable, "-m", "auth", "demo"], cwd=ROOT, capture_output=True, text=True,
                         env={**__import__("os").environ})
    assert out.returncode == 0 and "jiangbei" in out.stdout, out.stderr
    return AuditLog(tmp_path / "audit.jsonl")


def signed_in(account: str, password: str, page: str | None = None, **params) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=240)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    at.text_input(key="_signin_account").input(account)
    at.text_input(key="_signin_password").input(password)
    at.button[0].click().run()
    if page:
        at.switch_page(f"pages/{page}_page.py")
        at.run()
    return at


def all_text(at: AppTest) -> str:
    parts = []
    for kind in ("markdown", "caption", "info", "warning", "success", "error", "title", "subheader", "metric"):
        parts += [str(getattr(e, "value", "")) + str(getattr(e, "label", "")) for e in getattr(at, kind)]
    for df in at.dataframe:
        parts.append(df.value.to_string())
    for sb in at.selectbox:
        parts += [str(o) for o in sb.options]
    return "\n".join(parts)


def test_nothing_is_read_before_sign_in(accounts):
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception
    assert at.text_input(key="_signin_account") is not None
    assert not at.metric and not at.dataframe and not at.selectbox  # no data, no unit names


def test_wrong_password_is_refused_and_audited(accounts):
    at = signed_in("leader", "not the password")
    assert at.error and "账号或密码错误" in at.error[0].value
    assert accounts.entries(event="signin_failed")[0]["account"] == "leader"


def test_two_scopes_never_see_each_other(accounts, demo_db):
    snap = Warehouse(demo_db).snapshot()
    names = snap.unit_names()
    jiangbei = snap.units_beneath(frozenset({"P江北"}))
    outside = [names[u] for u in names if u not in jiangbei]
    inside = [names[u] for u in jiangbei]
    for page in ("overview", "unit_profile", "briefing"):
        at = signed_in("jiangbei", "jiangbei-demo-2026", page)
        assert not at.exception, at.exception
        text = all_text(at)
        assert not [n for n in outside if n in text], page
        if page == "unit_profile":
            assert any(n in text for n in inside)
    at = signed_in("jiangbei", "jiangbei-demo-2026")
    assert set(at.selectbox(key="f_unit").options) - {"全部单位"} <= {f"{names[u]}（{u}）" for u in jiangbei}
    assert accounts.entries(event="signin")[0]["scope"] == ["P江北"]
    assert accounts.entries(event="page_view")


def test_a_unit_outside_the_scope_in_the_url_is_dropped_and_logged(accounts, demo_db):
    snap = Warehouse(demo_db).snapshot()
    outside = sorted(set(snap.unit_names()) - snap.units_beneath(frozenset({"P江北"})))[0]
    at = signed_in("jiangbei", "jiangbei-demo-2026", unit=outside)
    at.run()
    assert at.selectbox(key="f_unit").value == ""
    assert any(outside in (e.get("values") or [""])[0] for e in accounts.entries(event="url_rejected"))


def test_roles_decide_pages_and_downloads(accounts):
    sec = signed_in("secretary", "secretary-demo-2026")
    with pytest.raises(ValueError, match="Could not find a navigation page"):  # not among the secretary's pages
        sec.switch_page("pages/relationships_page.py")
    for page in ("relationships", "tests", "whatif", "data", "admin"):
        with pytest.raises(ValueError):
            signed_in("leader" if page in ("data", "admin") else "secretary",
                      "leader-demo-2026" if page in ("data", "admin") else "secretary-demo-2026", page)
    leader = signed_in("leader", "leader-demo-2026", "tests")
    assert not leader.get("download_button")
    analyst = signed_in("analyst", "analyst-demo-2026", "tests")
    assert analyst.get("download_button")


def test_watermark_bears_the_viewers_name(accounts):
    at = signed_in("analyst", "analyst-demo-2026")
    html = [str(e.proto) for e in at.get("html")]
    assert any("pbkpi-watermark" in h for h in html)
    import base64
    import re

    svg = [base64.b64decode(m).decode() for h in html for m in re.findall(r"base64,([A-Za-z0-9+/=]+)", h)]
    assert any("analyst" in s and "分析员（演示）" in s and "内部资料" in s for s in svg)


def test_cli_manages_accounts_and_exports_the_audit(tmp_path, monkeypatch):
    env = {**__import__("os").environ, "PBKPI_AUTH_DB": str(tmp_path / "a.sqlite"), "PBKPI_AUDIT": str(tmp_path / "a.jsonl")}

    def cli(*args, stdin=None):
        return subprocess.run([sys.executable, "-m", "auth", *args], cwd=ROOT, capture_output=True, text=True, env=env, input=stdin)

    assert cli("init-admin", "root", "--password-stdin", stdin="very secret 1\n").returncode == 0
    assert cli("init-admin", "root2", "--password-stdin", stdin="very secret 1\n").returncode == 2
    assert cli("add", "zhang", "--name", "张", "--role", "leader", "--scope", "P江北", "--password-stdin", stdin="another one\n").returncode == 0
    assert cli("disable", "zhang").returncode == 0
    users = json.loads(cli("list", "--json").stdout)
    assert {u["account"]: u["disabled"] for u in users} == {"root": False, "zhang": True}
    lines = [json.loads(x) for x in cli("audit", "--json").stdout.splitlines()]
    assert [e["event"] for e in lines] == ["account_changed"] * 3
    assert "very secret" not in (tmp_path / "a.jsonl").read_text() and "another one" not in (tmp_path / "a.jsonl").read_text()
    bad = cli("role", "nobody", "leader")
    assert bad.returncode == 2 and "没有账号" in bad.stderr


def test_a_damaged_warehouse_is_a_calm_message_for_a_scoped_user_too(accounts, tmp_path, monkeypatch):
    import os

    db = tmp_path / "broken.duckdb"
    db.write_bytes(os.urandom(200_000))
    monkeypatch.setenv("PBKPI_DB", str(db))
    at = signed_in("jiangbei", "jiangbei-demo-2026")
    assert not at.exception, [e.value for e in at.exception]
    assert at.error and str(db) in at.error[0].value


def test_browser_sessions_resume_until_idle_signed_out_disabled_or_reset(store, tmp_path):
    store.add_user("li", "李", "leader", "correct horse 1", ["*"])
    token = store.open_session("li", now=1000.0)
    assert token.encode() not in store.path.read_bytes()  # only its hash is kept
    assert store.resume(token, idle_seconds=600, now=1500.0).account == "li"
    assert store.resume(token, idle_seconds=600, now=2000.0).account == "li"  # the last use moved on
    with pytest.raises(AuthError, match="过期"):
        store.resume(token, idle_seconds=600, now=2601.0)
    with pytest.raises(AuthError, match="失效"):  # and it stays closed
        store.resume(token, idle_seconds=600, now=2602.0)
    for close in (lambda: store.close_session(t2), lambda: store.set_disabled("li", True),
                  lambda: store.set_password("li", "another horse 2")):
        store.set_disabled("li", False)
        t2 = store.open_session("li")
        store.resume(t2, idle_seconds=600)
        close()
        with pytest.raises(AuthError):
            store.resume(t2, idle_seconds=600)
    with pytest.raises(AuthError):
        store.resume("made-up-token", idle_seconds=600)


def test_admin_page_speaks_chinese(accounts):
    """The administration page in a Chinese view: no event ids, English column names or grey "None" in the
    targets editor (tests/ui/devtext)."""
    from tests.ui.devtext import developer_text
    from tests.ui.test_developer_text import visible_texts

    at = signed_in("admin", "admin-demo-2026", "admin")
    assert not at.exception, [e.value for e in at.exception]
    # account names are the company's own ids; an audit entry's details are its record, shown as stored;
    # the targets editor's metric column is hidden (it carries the id the save needs)
    texts = visible_texts(at, skip_columns=("账号", "详情", "metric"))
    accounts_ = {"admin", "analyst", "leader", "secretary", "steward", "jiangbei"}
    found = sorted({f"{frag} ← {text[:100]}" for text in texts for frag in developer_text(text) if frag not in accounts_})
    assert not found, "\n".join(found)
    assert "登录" in texts  # the audit log's events are named (the admin's own sign-in is the first)
    assert len(at.dataframe) >= 3  # accounts, targets editor, audit log: all were read
