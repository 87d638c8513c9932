"""Red-team cases: every file in a batch gets its own fate, implausible dates and numbers are refused
with a reason, duplicated headers are refused, nothing printed can drive a terminal."""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from etl.load import load_files
from tests.etl.files import q, write_csv

ROOT = Path(__file__).resolve().parents[2]
MEMBERS = ["组织编码", "月份", "党员人数"]


def bad_files(tmp: Path) -> dict[str, Path]:
    """Files that cannot be loaded, each in its own way."""
    d = tmp / "x.csv"
    d.mkdir()
    dangling = tmp / "dangling.csv"
    dangling.symlink_to(tmp / "nowhere.csv")
    loop = tmp / "loop.csv"
    loop.symlink_to(loop)
    mixed = tmp / "mixed.csv"  # UTF-8 for the first 64 KB, GBK after
    body = "组织编码,月份,党员人数\n" + "".join(f"B1,2024-{m:02d},20\n" for m in range(1, 13)) * 3000
    mixed.write_bytes(body.encode("utf-8")[: 1 << 16].rsplit(b"\n", 1)[0] + b"\n" + "B2,2024-07,城西".encode("gbk") + b"\n")
    dup = write_csv(tmp / "dup.csv", ["组织编码", "月份", "党员人数", "党员人数"], [["B1", "2024-07", 20, 21]])
    return {"missing": tmp / "nope.csv", "directory": d, "dangling": dangling, "loop": loop, "mixed": mixed, "dup": dup}


def test_each_file_stands_alone(tmp_path, db):
    """Audit: a missing path, a directory named x.csv, a dangling or looping symlink or a file that changes
    encoding ended the whole command with a traceback, and the good files were not loaded."""
    good = write_csv(tmp_path / "good.csv", MEMBERS, [["B1", "2024-07", 20], ["B2", "2024-07", 18]])
    bad = bad_files(tmp_path)
    results = load_files([bad["missing"], good, bad["directory"], bad["dangling"], bad["loop"], bad["mixed"], bad["dup"]], db)
    by_file = {r.file: r for r in results}
    assert by_file["good.csv"].error is None and by_file["good.csv"].rows_loaded == 2
    assert q(db, "SELECT count(*) FROM fct_membership") == [(2,)]
    reasons = {name: by_file[p.name].error for name, p in bad.items()}
    assert all(reasons.values()), reasons
    assert "找不到文件" in reasons["missing"] and "不是普通文件" in reasons["directory"]
    assert "找不到文件" in reasons["dangling"] and "无法打开" in reasons["loop"]
    assert "编码" in reasons["mixed"] or "无法识别" in reasons["mixed"]
    assert "出现了两次" in reasons["dup"] and "第 3 列和第 4 列" in reasons["dup"]
    assert not any("Traceback" in r for r in reasons.values())


def test_cli_mixed_batch_exit_code_and_no_traceback(tmp_path, db):
    good = write_csv(tmp_path / "good.csv", MEMBERS, [["B1", "2024-07", 20]])
    out = subprocess.run([sys.executable, "-m", "etl", "load", str(tmp_path / "nope.csv"), str(good), "--db", str(db)],
                         cwd=ROOT, capture_output=True, text=True, env=dict(os.environ, PBKPI_WARM="0"))
    assert out.returncode == 1
    assert "Traceback" not in out.stderr and "找不到文件" in out.stderr and "good.csv" in out.stdout


def test_implausible_dates_refused(tmp_path, db):
    """Audit: an activity dated 2052 was accepted and stretched every panel to 2052."""
    today = dt.date.today()
    far = today + dt.timedelta(days=60)
    near = today + dt.timedelta(days=5)
    rows = [["城东供电所党支部", far.isoformat(), "主题党日", 20, 22, 2, "future"],
            ["城东供电所党支部", "2052-05-01", "主题党日", 20, 22, 2, "typo"],
            ["城东供电所党支部", "1999-12-31", "主题党日", 20, 22, 2, "old"],
            ["城东供电所党支部", near.isoformat(), "主题党日", 20, 22, 2, "within tolerance"],
            ["城东供电所党支部", "2024-07-05", "主题党日", 20, 22, 2, "fine"]]
    (r,) = load_files([write_csv(tmp_path / "a.csv", ["组织名称", "活动日期", "活动类型", "实到人数", "应到人数",
                                                      "时长（小时）", "活动主题"], rows)], db)
    reasons = {x["row"]: x["reason"] for x in r.rejects}
    assert "在未来" in reasons[2] and "在未来" in reasons[3] and "早于 2000 年" in reasons[4]
    assert r.rows_loaded == 2
    last = q(db, "SELECT max(period_start) FROM panel_month")[0][0]
    assert last <= near.replace(day=1)
    # founding dates may be old (from the Party's founding), a project's planned end may lie ahead
    org = write_csv(tmp_path / "o.csv", ["组织编码", "组织名称", "上级组织编码", "组织类别", "业务单元编码", "成立日期"],
                    [["B9", "老支部", "P1", "党支部", "BU1", "1950-10-01"], ["B8", "错支部", "P1", "党支部", "BU1", "1900-01-01"]])
    (ro,) = load_files([org], db)
    assert ro.rows_loaded == 1 and "早于 1921 年 7 月" in ro.rejects[0]["reason"]


@pytest.mark.parametrize("cell,ok", [("20", True), ("1,234", True), ("inf", False), ("Infinity", False), ("nan", False),
                                     ("1e400", False), ("1,2,3", False), ("12%", False), ("1_000", False),
                                     ("①", False), ("²", False), ("-0", False), ("２０", True)])
def test_malformed_numbers_refused(tmp_path, db, cell, ok):
    """Audit: inf, nan, Infinity, 1e400, 1,2,3 (-> 123), 12% as a head count, 1_000, ① (-> 1) and -0 were all
    accepted. Full-width digits (what a Chinese input method types) are still numbers."""
    (r,) = load_files([write_csv(tmp_path / "m.csv", MEMBERS, [["B1", "2024-07", cell]])], db)
    assert (r.rows_loaded == 1) == ok, r.rejects
    if not ok:
        assert "党员人数" in r.rejects[0]["reason"]


def test_control_characters_never_printed(tmp_path, db):
    p = write_csv(tmp_path / "m.csv", MEMBERS, [["B1\x1b[31m", "2024-07\x1b]0;pwned\x07", 20]])
    out = subprocess.run([sys.executable, "-m", "etl", "load", str(p), "--db", str(db)], cwd=ROOT, capture_output=True,
                         text=True, env=dict(os.environ, PBKPI_WARM="0"))
    assert "\x1b" not in out.stdout + out.stderr and "\x07" not in out.stdout + out.stderr
    js = subprocess.run([sys.executable, "-m", "etl", "load", str(p), "--db", str(db), "--json"], cwd=ROOT,
                        capture_output=True, text=True, env=dict(os.environ, PBKPI_WARM="0"))
    assert "\x1b" not in js.stdout and json.loads(js.stdout)["files"]


def test_symlinked_warehouse_loads_into_the_real_file(tmp_path, db):
    """Audit: loading through a symlink replaced the link with a new file; the real warehouse never got the
    rows, and the two paths used different lock files."""
    link = tmp_path / "link.duckdb"
    link.symlink_to(db)
    (r,) = load_files([write_csv(tmp_path / "m.csv", MEMBERS, [["B1", "2024-07", 20]])], link)
    assert r.error is None and link.is_symlink()
    assert q(db, "SELECT count(*) FROM fct_membership") == [(1,)]


def test_a_hung_loader_is_named_and_times_out(tmp_path, db):
    """Audit: a hung loader blocked every later load forever, with no message."""
    import signal

    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; sys.path.insert(0, %r)\n"
        "from pathlib import Path\nfrom etl import publish\n"
        "with publish.writer_lock(Path(%r)):\n    print('held', flush=True); time.sleep(60)\n") % (str(ROOT), str(db))],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        holder.send_signal(signal.SIGSTOP)  # hung, still holding the lock
        started = time.monotonic()
        out = subprocess.run([sys.executable, "-m", "etl", "load", str(write_csv(tmp_path / "m.csv", MEMBERS, [["B1", "2024-07", 20]])),
                              "--db", str(db)], cwd=ROOT, capture_output=True, text=True,
                             env=dict(os.environ, PBKPI_WARM="0", PBKPI_LOCK_TIMEOUT="2"))
        assert out.returncode == 2 and time.monotonic() - started < 30
        assert f"进程 {holder.pid}" in out.stderr and "Traceback" not in out.stderr
        assert q(db, "SELECT count(*) FROM fct_membership") == [(0,)]
    finally:
        holder.send_signal(signal.SIGCONT)
        holder.kill()
        holder.wait()


def test_a_file_changed_while_loading_is_refused(tmp_path, db):
    """Audit: a file rewritten during its load was half-loaded and recorded under the original's hash."""
    from etl import warehouse
    from etl.errors import UnreadableFile
    from etl.load import load_prepared, prepare

    p = write_csv(tmp_path / "m.csv", MEMBERS, [["B1", f"2024-{m:02d}", 20] for m in range(1, 13)])
    prep = prepare(p)
    time.sleep(0.01)
    write_csv(p, MEMBERS, [["B1", "2024-01", 99]])  # the branch saves a new version meanwhile
    con = warehouse.connect(db)
    try:
        with pytest.raises(UnreadableFile, match="导入过程中被修改"):
            load_prepared(con, prep)
        assert con.execute("SELECT count(*) FROM fct_membership").fetchone() == (0,)
    finally:
        prep.discard()
        con.close()


def test_keys_repeated_across_sheets_are_rejected_with_both_places(tmp_path, db):
    """Audit: keys repeated across sheets of one workbook silently overwrote each other, and rows_loaded
    counted both."""
    from tests.etl.files import write_xlsx

    rows = [["B1", f"2024-{m:02d}", 20] for m in range(1, 7)]
    p = write_xlsx(tmp_path / "w.xlsx", MEMBERS, rows, sheet="上半年",
                   extra_sheets={"补报": (MEMBERS, [["B1", "2024-03", 25], ["B2", "2024-03", 9]])})
    (r,) = load_files([p], db)
    assert r.rows_loaded == 7 and r.rows_rejected == 1
    assert q(db, "SELECT count(*) FROM fct_membership") == [(r.rows_loaded,)]  # rows_loaded is what is stored
    (reject,) = r.rejects
    assert reject["sheet"] == "补报" and reject["row"] == 2 and "与工作表「上半年」第 4 行重复" in reject["reason"]
    assert q(db, "SELECT members FROM fct_membership WHERE month = DATE '2024-03-01' AND unit_id = 'B1'") == [(20,)]


def test_transcoded_copies_live_beside_the_working_copy_and_are_swept(tmp_path, db):
    """Audit: a killed GBK load leaked its full-size UTF-8 copy in $TMPDIR. The copy is now written beside
    the working copy, and what a killed loader left there is swept by the next one."""
    stale = db.with_name(db.name + ".work.transcode-killed.csv")
    stale.write_text("left by a killed loader", encoding="utf-8")
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    gbk = write_csv(tmp_path / "g.csv", MEMBERS, [["B1", f"2024-{m:02d}", 20] for m in range(1, 13)], encoding="gb18030")
    out = subprocess.run([sys.executable, "-m", "etl", "load", str(gbk), "--db", str(db)], cwd=ROOT, capture_output=True,
                         text=True, env=dict(os.environ, PBKPI_WARM="0", TMPDIR=str(tmpdir)))
    assert out.returncode == 0, out.stderr
    assert not stale.exists() and list(tmpdir.iterdir()) == []
    assert not list(db.parent.glob(db.name + ".work*"))
    assert q(db, "SELECT count(*) FROM fct_membership") == [(12,)]


def test_transcoded_copy_is_made_beside_the_given_working_copy(tmp_path):
    from etl import bulk_csv

    gbk = write_csv(tmp_path / "g.csv", MEMBERS, [["B1", "2024-01", 20]], encoding="gb18030")
    work = tmp_path / "wh" / "w.duckdb.work"
    work.parent.mkdir()
    src = bulk_csv.probe(gbk, "g.csv", scratch=work)
    try:
        assert src.temporary and src.path.parent == work.parent and src.path.name.startswith("w.duckdb.work.transcode-")
    finally:
        src.discard()
    assert list(work.parent.iterdir()) == []


def test_full_disk_during_the_working_copy_is_one_message(tmp_path, db, monkeypatch, capsys):
    """Audit: a full disk or read-only directory during the working copy gave a raw traceback. (As root the
    tests cannot make a directory read-only, so the copy's failure is injected.)"""
    import errno
    import shutil

    from etl import __main__ as etl_cli

    before = db.read_bytes()

    def full_disk(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(shutil, "copyfile", full_disk)
    p = write_csv(tmp_path / "m.csv", MEMBERS, [["B1", "2024-07", 20]])
    assert etl_cli.main(["load", str(p), "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and "仓库未被修改" in err and "Traceback" not in err
    assert db.read_bytes() == before and not list(db.parent.glob(db.name + ".work*"))


def test_password_protected_workbook_and_header_only_file(tmp_path, db):
    # the first bytes of an encrypted Office file: OLE signature, then the EncryptedPackage stream's name
    enc = tmp_path / "加密.xlsx"
    enc.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504 + "EncryptedPackage".encode("utf-16-le") + b"\x00" * 2048)
    header_only = write_csv(tmp_path / "空.csv", MEMBERS, [])
    r_enc, r_empty = load_files([enc, header_only], db)
    assert "设置了打开密码" in r_enc.error
    assert r_empty.error is None and r_empty.rows_loaded == 0 and any("只有表头" in n for n in r_empty.notes)


def test_a_mistyped_warehouse_directory_is_not_created(tmp_path):
    """Audit: a typo in PBKPI_DB's directory silently created it (and a new, empty warehouse)."""
    typo = tmp_path / "dta" / "warehouse.duckdb"
    out = subprocess.run([sys.executable, "-m", "etl", "load", str(write_csv(tmp_path / "m.csv", MEMBERS, [["B1", "2024-07", 20]]))],
                         cwd=ROOT, capture_output=True, text=True, env=dict(os.environ, PBKPI_WARM="0", PBKPI_DB=str(typo)))
    assert out.returncode == 2 and "仓库所在目录不存在" in out.stderr and "Traceback" not in out.stderr
    assert not typo.parent.exists()


@pytest.mark.parametrize("cmd", [["etl", "status"], ["analytics", "fit", "--y", "complaints_per_10k", "--x", "theme_days"],
                                 ["briefing", "--quarter", "2025Q3", "--format", "html", "--out", "x.html"], ["application.warm"]])
def test_every_cli_says_a_damaged_warehouse_in_one_line(tmp_path, cmd):
    """Audit: the CLIs exited with tracebacks on a corrupted warehouse (and application.warm said "no data")."""
    db = tmp_path / "w.duckdb"
    db.write_bytes(os.urandom(300_000))
    args = [sys.executable, "-m", *cmd] + ([] if cmd == ["application.warm"] else ["--db", str(db)])
    out = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True,
                         env=dict(os.environ, PBKPI_WARM="0", PBKPI_DB=str(db), PYTHONPATH=str(ROOT)))
    assert out.returncode == 2, out.stderr
    assert "仓库文件无法读取" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_empty_trailing_columns_are_not_columns(tmp_path, db, fmt):
    """Audit: an Excel export with 297 empty trailing columns was refused as having too many columns."""
    rows = [["B1", "2024-07", 20], ["B1", "2024-08", 21]]
    if fmt == "csv":
        p = write_csv(tmp_path / "m.csv", MEMBERS + [""] * 297, [r + [""] * 297 for r in rows])
    else:
        from openpyxl import Workbook
        from openpyxl.styles import PatternFill

        wb = Workbook()
        ws = wb.active
        for r in [MEMBERS, *rows]:
            ws.append(r)
        for i in range(1, 4):  # formatted but empty cells far to the right: what Excel leaves behind
            ws.cell(row=i, column=300).fill = PatternFill("solid", fgColor="FFFF00")
        p = tmp_path / "m.xlsx"
        wb.save(p)
    (r,) = load_files([p], db)
    assert r.error is None and r.rows_loaded == 2, (r.error, r.rejects)
    # a file that really is that wide is still refused
    wide = write_csv(tmp_path / "w.csv", MEMBERS + [f"列{i}" for i in range(297)], [r + ["1"] * 297 for r in rows])
    (w,) = load_files([wide], db)
    assert w.error and "列" in w.error


def test_encoding_note_names_the_encoding_the_file_was_read_in(tmp_path, db):
    """Audit: a GBK file whose first 64 KB happen to be plain ASCII was loaded as GBK but noted as utf-8."""
    head = "Unit code,Unit name,Parent unit code,Organisation level,Business unit code,Founded\n"
    ascii_rows = "".join(f"A{i},Branch {i},,Branch,BU1,2005-03-01\n" for i in range(3000))  # > 64 KB of ASCII
    gbk_rows = "".join(f"C{i},城东第{i}支部,,党支部,BU1,2005-03-01\n" for i in range(5))
    p = tmp_path / "org.csv"
    p.write_bytes(head.encode("ascii") + ascii_rows.encode("ascii") + gbk_rows.encode("gbk"))
    assert len(head) + len(ascii_rows) > 65_536
    (r,) = load_files([p], db)
    assert r.error is None and r.rows_loaded == 3005
    assert "编码 encoding: gbk" in r.notes and "编码 encoding: utf-8" not in r.notes
    assert q(db, "SELECT unit_name FROM dim_units WHERE unit_id = 'C3'") == [("城东第3支部",)]
