"""What an operator runs and reads: settings validated at start, logging, progress, health, the warm-up's
state, the drop folder, mixed encodings, panels from other tools, and no swallowed exception anywhere."""
from __future__ import annotations

import ast
import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import logsetup
import settings
from etl.load import load_files
from tests.etl.files import ORG_HEADER, ORG_ROWS, q, write_csv

ROOT = Path(__file__).resolve().parents[2]
MEMBERS = ["组织编码", "月份", "党员人数"]


def run(module: str, *args, env_extra=None, **kw):
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, env=env, **kw)


# --- settings ------------------------------------------------------------------------------------

@given(word=st.sampled_from(["1", "true", "TRUE", "yes", "On", "y", "是"]), falsy=st.sampled_from(["0", "false", "No", "off", "N", "否"]))
def test_booleans_read_as_people_write_them(word, falsy):
    s = settings.BY_NAME["PBKPI_WARM"]
    assert settings.parse(s, word) is True and settings.parse(s, falsy) is False


@given(n=st.integers(1, 10**9), sep=st.sampled_from([",", "_", " ", "，", ""]))
def test_numbers_accept_thousand_separators(n, sep):
    text = f"{n:,}".replace(",", sep)
    assert settings.parse(settings.BY_NAME["PBKPI_MAX_ROWS"], text) == n


@pytest.mark.parametrize("text,bytes_", [("50", 50 * 2**20), ("50MB", 50 * 2**20), ("1.5 GB", int(1.5 * 2**30)),
                                          ("512KiB", 512 * 1024), ("0.5mb", 2**19)])
def test_sizes_accept_units(text, bytes_):
    assert settings.parse(settings.BY_NAME["PBKPI_MAX_UPLOAD_MB"], text) == bytes_


@pytest.mark.parametrize("name,bad,words", [("PBKPI_WARM", "maybe", "1/0"), ("PBKPI_MAX_ROWS", "2.5", "整数"),
                                            ("PBKPI_MAX_ROWS", "lots", "整数"), ("PBKPI_AUTH", "ldap", "local / header / oidc / none"),
                                            ("PBKPI_WATERMARK_OPACITY", "0.9", "≤ 0.5"), ("PBKPI_DUCKDB_MEMORY", "lots", "3GB"),
                                            ("PBKPI_MAX_UPLOAD_MB", "50 parsecs", "50MB")])
def test_an_unusable_setting_is_named_with_what_it_accepts(monkeypatch, name, bad, words):
    monkeypatch.setenv(name, bad)
    (problem,) = settings.check()
    assert name in problem and repr(bad) in problem and words in problem
    with pytest.raises(settings.SettingError):
        settings.require_valid()


def test_false_means_off_and_every_command_refuses_bad_settings_before_work(tmp_path):
    """Audit: PBKPI_WARM=false meant warm-up *on*; PBKPI_MAX_ROWS=2,000,000 died with a traceback."""
    assert run("etl", "config", env_extra={"PBKPI_WARM": "false", "PBKPI_MAX_ROWS": "2,000,000"}).returncode == 0
    for module, args in (("etl", ["status"]), ("application.warm", []), ("auth", ["list"]), ("ui.serve", [])):
        out = run(module, *args, env_extra={"PBKPI_MAX_ROWS": "two million", "PBKPI_DB": str(tmp_path / "w.duckdb")})
        assert out.returncode == 2, (module, out.stderr)
        assert "PBKPI_MAX_ROWS" in out.stderr and "Traceback" not in out.stderr, module
    cfg = run("etl", "config", "--json", env_extra={"PBKPI_WARM": "false"})
    rows = {r["name"]: r for r in json.loads(cfg.stdout)}
    assert rows["PBKPI_WARM"]["value"] == "False" and rows["PBKPI_WARM"]["source"] == "env"
    assert set(rows) == {s.name for s in settings.SETTINGS}


# --- logging -------------------------------------------------------------------------------------

@pytest.fixture()
def log_file(tmp_path, monkeypatch):
    path = tmp_path / "logs" / "pbkpi.log"
    monkeypatch.setenv("PBKPI_LOG_FILE", str(path))
    yield path
    monkeypatch.setenv("PBKPI_LOG_FILE", "off")
    logsetup.configure("test", stderr=False)


def test_one_line_per_event_with_its_context_even_with_a_traceback(log_file):
    logsetup.configure("test", stderr=False)
    log = logging.getLogger("pbkpi.test")
    with logsetup.context(load="abc123"):
        try:
            raise ValueError("boom\nsecond line")
        except ValueError:
            log.exception("it failed")
    log.info("after")
    lines = log_file.read_text(encoding="utf-8").splitlines()
    failed = [ln for ln in lines if "it failed" in ln]
    assert len(failed) == 1 and "[load=abc123]" in failed[0] and "Traceback" in failed[0] and "ValueError: boom" in failed[0]
    assert "[-]" in next(ln for ln in lines if ln.endswith("after"))


def test_personal_data_never_reaches_the_log(log_file):
    logsetup.configure("test", stderr=False)
    log = logging.getLogger("pbkpi.test")
    log.warning("could not convert %s", "11010519491231002X")
    try:
        raise ValueError("Could not convert string '13812345678' to INT32")
    except ValueError:
        log.exception("load failed for zhang@example.com")
    text = log_file.read_text(encoding="utf-8")
    assert "11010519491231002X" not in text and "13812345678" not in text and "zhang@example.com" not in text
    assert text.count("\n") == 2 and "could not convert" in text and "Could not convert string" in text


def test_json_lines_on_request(log_file, monkeypatch):
    monkeypatch.setenv("PBKPI_LOG_FORMAT", "json")
    logsetup.configure("test", stderr=False)
    with logsetup.context(request="r1", user="张三"):
        logging.getLogger("pbkpi.test").warning("读取 %s", "文件")
    doc = json.loads(log_file.read_text(encoding="utf-8").splitlines()[-1])
    assert doc["level"] == "WARNING" and doc["message"] == "读取 文件" and doc["ctx_user"] == "张三"
    assert doc["component"] == "test" and doc["logger"] == "pbkpi.test"


def test_a_command_leaves_log_lines_an_operator_can_follow(tmp_path, log_file):
    db = tmp_path / "w.duckdb"
    org = write_csv(tmp_path / "org.csv", ORG_HEADER, ORG_ROWS)
    junk = tmp_path / "junk.csv"
    junk.write_text("a,b\n1,2\n", encoding="utf-8")
    out = run("etl", "load", str(org), str(junk), "--db", str(db))
    assert out.returncode == 1
    lines = log_file.read_text(encoding="utf-8").splitlines()
    load_ids = {ln.split("load=")[1].split("]")[0] for ln in lines if "load=" in ln}
    assert len(load_ids) == 1  # one command, one load id on every line
    assert any("loaded org.csv" in ln and "rows=4" in ln for ln in lines)
    assert any("WARNING" in ln and "refused junk.csv" in ln for ln in lines)
    assert "loading" not in out.stderr  # the terminal shows the command's own messages, not the log


def test_no_exception_is_swallowed_anywhere():
    """No `except …: pass` (or `...`) in the product's code: every handler does something or says why."""
    offenders = []
    for folder in ("etl", "analytics", "application", "auth", "briefing", "catalogue", "ui", "pages"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ExceptHandler) and all(
                        isinstance(b, ast.Pass) or (isinstance(b, ast.Expr) and isinstance(b.value, ast.Constant))
                        for b in node.body):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    for path in (ROOT / "app.py", ROOT / "settings.py", ROOT / "logsetup.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ExceptHandler) and all(isinstance(b, ast.Pass) for b in node.body):
                offenders.append(f"{path.name}:{node.lineno}")
    assert not offenders


def test_a_failing_background_statistic_leaves_a_log_line_and_a_visible_state(tmp_path, caplog):
    from application.context import Context
    from application.runner import JobRunner
    from application.store import Job, ResultStore
    from application.warehouse import Warehouse

    def broken(snapshot):
        raise RuntimeError("disk on fire")

    db = tmp_path / "w.duckdb"
    load_files([write_csv(tmp_path / "org.csv", ORG_HEADER, ORG_ROWS)], db)
    store = ResultStore(tmp_path / "cache")
    runner = JobRunner(store, start_delay=0)
    snap = Warehouse(db).snapshot()
    job = Job(broken, ())
    with caplog.at_level(logging.ERROR):
        runner.submit(snap, job)
        deadline = time.time() + 20
        while runner.busy() and time.time() < deadline:
            time.sleep(0.05)
    assert any("failed" in r.getMessage() and r.exc_info for r in caplog.records)
    # the page's next run meets the failure once (app.py shows it with a reference the log line also has)
    with pytest.raises(RuntimeError, match="disk on fire"):
        Context(snap, store, runner, 0).outcomes({"x": job})


# --- the warm-up's state ---------------------------------------------------------------------------

def test_the_warm_up_says_when_it_failed_and_why(tmp_path, monkeypatch, caplog):
    from application import warm

    db = tmp_path / "w.duckdb"
    load_files([write_csv(tmp_path / "org.csv", ORG_HEADER, ORG_ROWS)], db)

    def broken(*a, **k):
        raise RuntimeError("no memory left")

    monkeypatch.setattr(warm, "warm", broken)
    with caplog.at_level(logging.ERROR):
        assert warm._warm_with_state(db, "all") == 1
    state = warm.read_state(db)
    assert state["state"] == "failed" and "no memory left" in state["reason"] and state["finished"]
    assert any(r.getMessage() == "warm-up failed" and r.exc_info for r in caplog.records)
    # a warm-up whose process died while it said running
    warm._write_state(db, state="running", pid=2**22 + 12345, started="2026-01-01T00:00:00")
    assert warm.read_state(db)["state"] == "interrupted"


def test_a_failing_page_in_the_isolated_warm_up_is_reported(tmp_path, monkeypatch):
    from application import warm

    class Proc:
        returncode, stdout, stderr = 1, "", "Traceback …\nMemoryError: out of memory\n"

    monkeypatch.setattr(subprocess, "run", lambda *a, **k: Proc())
    timings = warm._warm_isolated(tmp_path / "w.duckdb", "all", lambda line: None, ("overview",))
    assert timings["failed"] == {"overview": "MemoryError: out of memory"}


def test_the_data_page_shows_the_warm_up_state(demo_db, tmp_path, monkeypatch):
    import shutil

    from streamlit.testing.v1 import AppTest

    from application import warm

    db = tmp_path / "w.duckdb"
    shutil.copyfile(demo_db, db)
    warm._write_state(db, state="failed", pid=os.getpid(), started="2026-12-01T08:00:00",
                      finished="2026-12-01T08:01:00", reason="relationships: MemoryError")
    monkeypatch.setenv("PBKPI_DB", str(db))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/data_page.py")
    at.run()
    assert not at.exception
    assert any("MemoryError" in w.value and "relationships" in w.value for w in at.warning)


# --- health --------------------------------------------------------------------------------------

def test_health_from_the_command_line(tmp_path, db):
    ok = run("etl", "health", "--db", str(db), "--json")
    doc = json.loads(ok.stdout)
    assert ok.returncode == 0 and doc["ready"] and doc["warehouse"]["schema_version"] == 4 and doc["warehouse"]["last_load"]
    missing = run("etl", "health", "--db", str(tmp_path / "none.duckdb"))
    assert missing.returncode == 1 and "NOT READY" in missing.stdout
    damaged = tmp_path / "bad.duckdb"
    damaged.write_bytes(b"this is not a database" * 100)
    assert run("etl", "health", "--db", str(damaged)).returncode == 1


def test_health_over_http_for_a_proxy(tmp_path, db, monkeypatch):
    from tests.e2e.test_browser import free_port
    from ui.serve import start_health

    monkeypatch.setenv("PBKPI_DB", str(db))
    server = start_health(free_port(), "127.0.0.1")
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/health"
        with urllib.request.urlopen(url, timeout=10) as resp:
            assert resp.status == 200 and json.loads(resp.read())["ready"] is True
        monkeypatch.setenv("PBKPI_DB", str(tmp_path / "gone.duckdb"))
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(url, timeout=10)
        assert err.value.code == 503 and json.loads(err.value.read())["warehouse"]["exists"] is False
    finally:
        server.shutdown()


# --- progress ------------------------------------------------------------------------------------

def test_progress_per_file_and_phase_on_a_terminal_and_silence_elsewhere(tmp_path, db):
    import pty

    files = [write_csv(tmp_path / f"m{i}.csv", MEMBERS, [["B1", f"2024-0{i + 1}", 20]]) for i in range(2)]
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "etl", "load", *map(str, files), "--db", str(db)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=slave, text=True)
    out, _ = proc.communicate(timeout=120)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    text = seen.decode("utf-8", "replace")
    assert proc.returncode == 0
    for phase in ("[1/2]", "[2/2]", "读取", "校验并写入", "刷新分析面板", "发布", "✓"):
        assert phase in text, (phase, text)
    quiet = run("etl", "load", str(files[0]), "--db", str(db))  # stderr is a pipe here: no progress
    assert quiet.returncode == 0 and "[1/1]" not in quiet.stderr
    as_json = run("etl", "load", str(files[0]), "--db", str(db), "--json")
    assert json.loads(as_json.stdout)["files"][0]["seconds"] > 0


def test_the_loader_reports_phases_in_order(tmp_path, db):
    events = []
    files = [write_csv(tmp_path / "m.csv", MEMBERS, [["B1", "2024-07", 20]]), tmp_path / "missing.csv"]
    load_files(files, db, progress=events.append)
    phases = [(e["file"], e["phase"]) for e in events]
    assert phases[:3] == [("m.csv", "read"), ("m.csv", "load"), ("m.csv", "done")]
    assert ("missing.csv", "failed") in phases and phases[-2:] == [(None, "panels"), (None, "publish")]
    assert q(db, "SELECT file_bytes > 0, seconds > 0 FROM etl_loads WHERE file_name = 'm.csv'") == [(True, True)]


# --- the drop folder -------------------------------------------------------------------------------

def wait_for(predicate, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_watch_loads_files_once_across_a_restart(tmp_path):
    inbox, db = tmp_path / "inbox", tmp_path / "w.duckdb"
    inbox.mkdir()
    args = [sys.executable, "-m", "etl", "watch", str(inbox), "--db", str(db), "--interval", "0.3", "--settle", "0.3"]
    watcher = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        write_csv(inbox / "org.csv", ORG_HEADER, ORG_ROWS)
        write_csv(inbox / "七月.csv", MEMBERS, [["B1", "2024-07", 20]])
        assert wait_for(lambda: (inbox / "done" / "七月.csv").exists() and (inbox / "done" / "org.csv").exists())
    finally:
        watcher.send_signal(signal.SIGTERM)
        watcher.wait(30)
    # while it is stopped: a new file, a second copy of a file already loaded, a file that cannot load
    write_csv(inbox / "八月.csv", MEMBERS, [["B1", "2024-08", 21]])
    (inbox / "七月_重发.csv").write_bytes((inbox / "done" / "七月.csv").read_bytes())
    (inbox / "乱码.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (inbox / "~$正在编辑.xlsx").write_bytes(b"lock")  # Excel's lock file: never taken
    again = run("etl", "watch", str(inbox), "--db", str(db), "--once", "--settle", "0.3", timeout=120)
    assert again.returncode == 0, again.stderr
    assert sorted(p.name for p in (inbox / "done").glob("*.csv")) == ["org.csv", "七月.csv", "七月_重发.csv", "八月.csv"]
    assert [p.name for p in (inbox / "failed").glob("*.csv")] == ["乱码.csv"]
    assert (inbox / "~$正在编辑.xlsx").exists()
    failed = json.loads((inbox / "failed" / "乱码.csv.result.json").read_text(encoding="utf-8"))
    assert failed["status"] == "failed" and "无法识别" in failed["error"]
    resent = json.loads((inbox / "done" / "七月_重发.csv.result.json").read_text(encoding="utf-8"))
    assert resent["status"] == "already loaded"
    # each content loaded exactly once
    assert q(db, "SELECT count(*), count(DISTINCT content_hash) FROM etl_loads") == [(3, 3)]
    assert q(db, "SELECT CAST(month AS VARCHAR), members FROM fct_membership ORDER BY month") == [("2024-07-01", 20), ("2024-08-01", 21)]


def test_watch_leaves_files_in_the_inbox_while_the_warehouse_is_busy(tmp_path, monkeypatch):
    from etl import watch
    from etl.errors import EtlError

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    f = write_csv(inbox / "m.csv", MEMBERS, [["B1", "2024-07", 20]])

    def busy(*a, **k):
        raise EtlError("另一个导入正在进行 (busy)")

    monkeypatch.setattr("etl.load.load_files", busy)
    w = watch.Watcher(inbox, tmp_path / "w.duckdb", settle=0)
    assert w.process([f]) == [] and f.exists()


# --- encodings -----------------------------------------------------------------------------------

LINES = ["组织编码,月份,党员人数,备注", "B1,2024-07,20,城东支部学习", "B1,2024-08,21,主题党日活动", "B2,2024-07,18,安全生产"]


@pytest.mark.parametrize("odd", [1, 2, 3])
@pytest.mark.parametrize("majority", ["gbk", "utf-8"])
def test_a_file_mixing_gbk_and_utf8_is_refused_with_line_numbers(tmp_path, db, majority, odd):
    other = "utf-8" if majority == "gbk" else "gbk"
    data = b"\n".join(line.encode(other if i == odd else majority) for i, line in enumerate(LINES)) + b"\n"
    p = tmp_path / "mixed.csv"
    p.write_bytes(data)
    (r,) = load_files([p], db)
    few = "UTF-8" if other == "utf-8" else "GBK"
    assert r.error and "混用了两种编码" in r.error and f"第 {odd + 1} 行是 {few}" in r.error
    assert r.rows_loaded == 0


@given(rows=st.lists(st.text(alphabet="党支部学习主题日安全生产城东西南北一二三四五六七八九十月年", min_size=1, max_size=12),
                     min_size=1, max_size=30))
def test_clean_gbk_and_utf8_files_are_never_taken_for_mixtures(rows):
    from etl.readers import mixed_encoding_lines

    for enc in ("gbk", "utf-8"):
        data = "\n".join(f"B1,{r}" for r in rows).encode(enc)
        assert mixed_encoding_lines(data) is None


def test_a_large_gbk_file_with_one_utf8_line_is_refused_on_the_bulk_path(tmp_path, db):
    body = [f"B1,2024-07,{20 + i % 5},城东支部第{i}次学习" for i in range(6000)]  # > 64 KB: the bulk path reads it
    data = ("组织编码,月份,党员人数,备注\n" + "\n".join(body[:4000])).encode("gbk") + b"\n" + \
        body[4000].encode("utf-8") + b"\n" + "\n".join(body[4001:]).encode("gbk") + b"\n"
    p = tmp_path / "big.csv"
    p.write_bytes(data)
    (r,) = load_files([p], db)
    assert r.error and "第 4002 行是 UTF-8" in r.error


# --- panels from elsewhere -------------------------------------------------------------------------

@pytest.mark.parametrize("times,grain", [(["1935.0", "1936.0"], "custom"), (["2024Q1", "2024Q2"], "quarter"),
                                         (["2024年第1季度", "2024年第2季度"], "quarter"), (["2024-07", "2024-08"], "month"),
                                         (["2024/7/5", "2024/8/5"], "month"), (["202407", "202408"], "month"),
                                         (["2024年7月", "2024年8月"], "month")])
def test_csv_panels_accept_the_common_time_forms_without_warnings(tmp_path, times, grain):
    p = tmp_path / "panel.csv"
    pd.DataFrame({"county": ["A", "A", "B", "B"], "year": times * 2, "y": [1.0, 2, 1, 3], "x": [2.0, 3, 1, 2]}).to_csv(p, index=False)
    from analytics.panel import from_csv

    panel = from_csv(p, "county", "year")
    assert panel.grain == grain and sorted(panel.df["t"].unique().tolist()) == sorted(set(panel.df["t"]))
    assert panel.df.groupby("unit")["t"].diff().dropna().eq(1).all()  # consecutive periods are one step apart
    out = run("analytics", "fit", "--csv", str(p), "--entity", "county", "--time", "year", "--y", "y", "--x", "x", "--lag", "0")
    assert "Warning" not in out.stderr and "不可识别" not in out.stderr


def test_csv_panel_time_errors_name_the_values(tmp_path):
    from analytics.errors import AnalysisError
    from analytics.panel import from_csv

    p = tmp_path / "panel.csv"
    pd.DataFrame({"c": ["A", "B"], "t": ["1935.5", "1936"], "y": [1, 2]}).to_csv(p, index=False)
    with pytest.raises(AnalysisError, match="1935.5"):
        from_csv(p, "c", "t")
    pd.DataFrame({"c": ["A", "B"], "t": ["soon", "2024-07"], "y": [1, 2]}).to_csv(p, index=False)
    with pytest.raises(AnalysisError, match="soon"):
        from_csv(p, "c", "t")
