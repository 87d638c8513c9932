"""Loads while the dashboard reads, and loaders killed at random points (reduced sizes; `make stress`
runs the same checks longer)."""
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path


from etl.load import load_files
from tests.etl.files import ORG_HEADER, write_csv

ROOT = Path(__file__).resolve().parents[2]
STRESS = float(os.environ.get("PBKPI_STRESS", "1"))  # `make stress` raises it


def company(tmp: Path, n_bu: int = 40) -> Path:
    rows = [["P1", "党委", "", "党委", "", "", "机关", "城区", ""]]
    rows += [[f"B{i}", f"第{i}支部", "P1", "党支部", f"BU{i}", f"单位{i}", "供电所", "城区", ""] for i in range(n_bu)]
    return write_csv(tmp / "org.csv", ORG_HEADER, rows)


def membership_file(tmp: Path, name: str, year: int, n_bu: int = 40) -> Path:
    rows = [[f"B{i}", f"{year}-{m:02d}", 10 + (i + m) % 7] for i in range(n_bu) for m in range(1, 13)]
    return write_csv(tmp / name, ["组织编码", "月份", "党员人数"], rows)


def snapshot(db: Path) -> tuple:
    """One consistent read, as the dashboard does it: read-only, short-lived."""
    from application.warehouse import Warehouse

    df = Warehouse(db).query("""SELECT (SELECT count(*) FROM fct_membership) AS facts,
                         (SELECT COALESCE(sum(rows_loaded), 0) FROM etl_loads WHERE kind = 'membership') AS logged,
                         (SELECT COALESCE(sum(members), 0) FROM fct_membership) AS facts_members,
                         (SELECT COALESCE(sum(members), 0) FROM panel_month) AS panel_members""")
    return tuple(int(x) for x in df.iloc[0])


def cli_load(db: Path, *files: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "etl", "load", *map(str, files), "--db", str(db)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_loads_while_reading(tmp_path):
    db = tmp_path / "w.duckdb"
    load_files([company(tmp_path)], db)
    files = [membership_file(tmp_path, f"m{y}.csv", y) for y in range(2019, 2019 + int(4 * STRESS))]
    errors, seen = [], [[], []]
    stop = threading.Event()

    def reader(mine: list):
        while not stop.is_set():
            try:
                facts, logged, fm, pm = snapshot(db)
                mine.append(facts)
                if facts != logged or fm != pm:  # a half-loaded state would break these
                    errors.append(("inconsistent", facts, logged, fm, pm))
            except Exception as exc:  # noqa: BLE001 - any failure on the reading side counts
                errors.append(repr(exc))

    threads = [threading.Thread(target=reader, args=(seen[i],)) for i in range(2)]
    for th in threads:
        th.start()
    procs = [cli_load(db, f) for f in files]  # concurrent loaders serialise on the writer lock
    outs = [p.communicate(timeout=300) for p in procs]
    time.sleep(0.3)
    stop.set()
    for th in threads:
        th.join()
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    assert not errors, errors[:5]
    for mine in seen:  # each reader only ever saw whole loads, in publication order
        assert len(mine) > 10 and mine == sorted(mine)
        assert len(set(mine)) > 1  # and the loads really happened while it was reading
    serial = tmp_path / "serial.duckdb"
    load_files([company(tmp_path)] + files, serial)
    a, b = snapshot(db), snapshot(serial)
    assert a == b
    assert not list(tmp_path.glob("w.duckdb.work*"))


def test_sigkill_leaves_before_or_after(tmp_path):
    """Kill the loader at random points, several times: the warehouse always opens and holds the state
    before or after the whole command; a re-run finishes the job."""
    files = [membership_file(tmp_path, f"m{y}.csv", y, 200) for y in range(2010, 2022)]
    serial = tmp_path / "serial.duckdb"
    load_files([company(tmp_path, 200)] + files, serial)
    after = snapshot(serial)[::2]
    rng = random.Random(7)
    midway = 0
    for round_ in range(int(4 * STRESS)):
        db = tmp_path / f"w{round_}.duckdb"
        load_files([company(tmp_path, 200)], db)
        before = snapshot(db)[::2]
        p = cli_load(db, *files)
        time.sleep(rng.uniform(0.3, 2.0))
        p.send_signal(signal.SIGKILL)
        p.wait()
        mid = snapshot(db)[::2]
        assert mid in (before, after), (round_, before, mid, after)
        midway += mid == before
        assert cli_load(db, *files).wait(300) == 0
        assert snapshot(db)[::2] == after
        assert not list(tmp_path.glob(f"w{round_}.duckdb.work*"))
    assert midway >= 1  # at least one kill really landed inside a load


def test_the_same_file_loaded_twice_at_the_same_instant(tmp_path):
    """Red team: two loaders of the same file started together lose nothing and duplicate nothing — the
    warehouse equals one load of it (`make stress`: 15 rounds)."""
    f = membership_file(tmp_path, "m.csv", 2024)
    once = tmp_path / "once.duckdb"
    load_files([company(tmp_path)], once)
    load_files([f], once)
    want = snapshot(once)
    for round_ in range(int(3 * STRESS)):
        db = tmp_path / f"w{round_}.duckdb"
        load_files([company(tmp_path)], db)
        pair = [cli_load(db, f), cli_load(db, f)]
        outs = [p.communicate(timeout=300) for p in pair]
        assert all(p.returncode == 0 for p in pair), [o[1] for o in outs]
        facts, logged, members, panel_members = snapshot(db)
        assert (facts, members, panel_members) == (want[0], want[2], want[3]), round_
