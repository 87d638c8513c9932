"""The lake's benchmarks (issue #18): `python -m bench.lake [--scales demo,province] [--repeat 3]`.

Against a real PostgreSQL catalog and SeaweedFS object store started for the run (cluster/services.py),
for a warehouse split into two provinces (every business unit's facts in one of them):
- two provinces' pushes one after the other vs at the same instant;
- the publish (group views, meta, aggregates and panels rebuilt from every province);
- time from a province's commit until a freshly asked dashboard version shows the published snapshot;
- the panel reads of the one read path (application/warehouse.py) on the file and on the lake;
- page runs per second sustained by one dashboard server and by two behind HAProxy, under a bounded load
  of concurrent simulated browsers: each opens Streamlit's websocket, asks for the overview and waits for
  the end of the script run (what a browser waits for before it draws).
Medians of --repeat runs; writes bench/results/lake.json and bench/LAKE.md."""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "lake"
SCALES = {"demo": (120, 5), "province": (2000, 10)}  # group: the warehouse `python -m bench --scales group` built


def split_provinces(db: Path, out: Path) -> dict[str, Path]:
    """Two provinces' warehouse files from one: every business unit's facts in exactly one of them
    (alternating), the org tree in both (the group view keeps one copy of each node)."""
    con = duckdb.connect(str(db), read_only=True)
    units = [u for (u,) in con.execute("SELECT DISTINCT business_unit_id FROM dim_units WHERE business_unit_id "
                                       "IS NOT NULL ORDER BY 1").fetchall()]
    con.close()
    files = {}
    out.mkdir(parents=True, exist_ok=True)
    for k, prov in enumerate(("north", "south")):
        f = out / f"{prov}.duckdb"
        shutil.copyfile(db, f)
        con = duckdb.connect(str(f))
        con.execute("CREATE TEMP TABLE mine AS SELECT unnest(?) AS bu", [units[k::2]])
        con.execute("CREATE TEMP TABLE mine_units AS SELECT unit_id FROM dim_units WHERE business_unit_id IN (SELECT bu FROM mine)")
        for t, col, ref, pick in (("fct_activities", "unit_id", "mine_units", "unit_id"),
                                  ("fct_membership", "unit_id", "mine_units", "unit_id"),
                                  ("fct_initiatives", "unit_id", "mine_units", "unit_id"),
                                  ("fct_assessments", "unit_id", "mine_units", "unit_id"),
                                  ("fct_outages", "business_unit_id", "mine", "bu"),
                                  ("fct_kpi_monthly", "business_unit_id", "mine", "bu"),
                                  ("fct_kpi_custom", "business_unit_id", "mine", "bu")):
            con.execute(f"DELETE FROM {t} WHERE {col} NOT IN (SELECT {pick} FROM {ref})")
        con.execute("CHECKPOINT")
        con.close()
        files[prov] = f
    return files


def build(scale: str, work: Path) -> Path:
    db = work / "w.duckdb"
    if db.exists():
        return db
    if scale == "group":  # 27 minutes to generate and load: the one `python -m bench --scales group` left
        group = Path(os.environ.get("GROUP_DB", ROOT / "bench" / "results" / "group" / "w.duckdb"))
        if not group.exists():
            raise SystemExit(f"no group-scale warehouse at {group}: run `python -m bench --scales group` first (or set GROUP_DB)")
        return group
    n, years = SCALES[scale]
    env = {**os.environ, "PBKPI_MAX_UPLOAD_MB": "100000", "PBKPI_MAX_ROWS": str(10**9), "PBKPI_LOG_FILE": "off"}
    subprocess.run([sys.executable, "-m", "etl", "demo", "--db", str(db), "--out", str(work / "src"), "--units", str(n),
                    "--years", str(years)], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return db


def _push(db: Path, url, prov: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "etl", "push", "--province", prov, "--db", str(db), "--to", str(url)],
                            cwd=ROOT, env={**os.environ, "PBKPI_LOG_FILE": "off"}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def _wait(p: subprocess.Popen) -> None:
    _, err = p.communicate()
    if p.returncode:
        raise RuntimeError(f"push failed: {err[-2000:]}")


def _median(fn, repeat: int) -> tuple[float, list[float]]:
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return statistics.median(runs), [round(r, 3) for r in runs]


# ---------------------------------------------------------------------------------- page runs per second

async def _page_run(ws_url: str) -> float:
    """One simulated browser: open the websocket, ask for the default page, wait for the script to finish."""
    import websockets  # Streamlit's own dependency
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    t = time.perf_counter()
    async with websockets.connect(ws_url, subprotocols=["streamlit"], max_size=None) as conn:
        msg = BackMsg()
        msg.rerun_script.query_string = ""
        msg.rerun_script.page_script_hash = ""
        await conn.send(msg.SerializeToString())
        while True:
            data = await conn.recv()
            fm = ForwardMsg()
            fm.ParseFromString(data)
            if fm.WhichOneof("type") == "script_finished":
                if fm.script_finished == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                    raise RuntimeError("the app did not compile")
                return time.perf_counter() - t


async def _load(ws_url: str, clients: int, seconds: float) -> dict:
    """`clients` browsers, each opening a new session as soon as its last page finished, for `seconds`."""
    done: list[float] = []
    stop = time.perf_counter() + seconds

    async def client():
        while time.perf_counter() < stop:
            done.append(await _page_run(ws_url))

    await asyncio.gather(*(client() for _ in range(clients)))
    return {"pages": len(done), "per_second": len(done) / seconds, "median_page_s": statistics.median(done) if done else None}


def page_rate(url, servers: int, clients: int, seconds: float, work: Path) -> dict:
    """Start `servers` dashboard servers on the lake (HAProxy in front when more than one), warm them with a
    few page runs, then measure page runs per second under `clients` concurrent simulated browsers."""
    from cluster.__main__ import HAPROXY_CFG, _haproxy, _wait_http
    from cluster.services import free_port

    procs, ports = [], []
    env = {**os.environ, "PBKPI_DB": str(url), "PBKPI_AUTH": "none", "PBKPI_WARM": "0", "PBKPI_LOG_FILE": "off",
           "PBKPI_HEALTH_PORT": "0"}
    try:
        for _ in range(servers):
            port = free_port()
            procs.append(subprocess.Popen([sys.executable, "-m", "ui.serve", "--server.port", str(port), "--server.address",
                                           "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
                                          cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                          start_new_session=True))
            ports.append(port)
        for port, p in zip(ports, procs):
            _wait_http(f"http://127.0.0.1:{port}/_stcore/health", 120, p, "dashboard server")
        target = ports[0]
        if servers > 1:  # a simulated browser opens one websocket: round robin without stickiness is enough
            target = free_port()
            cfg = work / "haproxy.cfg"
            cfg.write_text(HAPROXY_CFG.format(port=target, servers="\n".join(
                f"    server s{i} 127.0.0.1:{p}" for i, p in enumerate(ports))).replace(
                "    option httpchk GET /health\n    http-check expect status 200\n", ""))
            procs.append(subprocess.Popen([_haproxy(), "-db", "-f", str(cfg)], stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL, start_new_session=True))
            _wait_http(f"http://127.0.0.1:{target}/_stcore/health", 60, procs[-1], "haproxy")
        ws = f"ws://127.0.0.1:{target}/_stcore/stream"
        # warm until page runs stop getting faster: every server has read the panel into memory and the shelf
        # holds the statistics (at group scale the first runs compute them: seconds each)
        last = None
        for _ in range(12):
            now = asyncio.run(_load(ws, servers * 2, 5))["median_page_s"]
            if last is not None and now is not None and now > 0.8 * last:
                break
            last = now
        return asyncio.run(_load(ws, clients, seconds))
    finally:
        for p in procs:
            try:
                os.killpg(p.pid, 9)
            except ProcessLookupError:
                pass
            p.wait()


# ---------------------------------------------------------------------------------- the run

def bench_scale(scale: str, pg, s3, repeat: int, clients: int, seconds: float, only: str | None = None,
                kept: dict | None = None) -> dict:
    from application.warehouse import Warehouse
    from etl import lake

    work = OUT / scale
    work.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    db = build(scale, work)
    built = time.perf_counter() - t
    files = split_provinces(db, work / "provinces")
    dbname = pg.create_database(f"bench_{scale}_{int(time.time())}")
    url = lake.parse(f"ducklake+postgres://{pg.user}@127.0.0.1:{pg.port}/{dbname}"
                     f"?data_path=s3://lake/{dbname}/&s3_endpoint={s3.endpoint}&s3_use_ssl=false")
    for prov, f in files.items():  # the lake's first state (schemas and tables exist)
        lake.push(f, url, prov)
    lake.publish_lake(url)
    con = duckdb.connect(str(db), read_only=True)
    sizes = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
             for t in ("fct_activities", "fct_outages", "panel_month")}
    sizes["business_units"] = con.execute("SELECT count(DISTINCT business_unit_id) FROM dim_units").fetchone()[0]
    con.close()
    rows: dict = {"sizes": sizes, "build_s": round(built, 1), "date": time.strftime("%Y-%m-%d %H:%M")}
    if only == "pages":  # the page rates again, the other rows as the last run measured them
        rows = {**(kept or {}), "sizes": sizes}
        for servers in (1, 2):
            rows[f"pages/s, {servers} server(s)"] = page_rate(url, servers, clients, seconds, work)
        rows["pages_date"] = time.strftime("%Y-%m-%d %H:%M")
        return rows

    def serial():
        for prov, f in files.items():
            _wait(_push(f, url, prov))

    def concurrent():
        ps = [_push(f, url, prov) for prov, f in files.items()]
        for p in ps:
            _wait(p)

    rows["two provinces' pushes, one after the other"] = _median(serial, repeat)
    rows["two provinces' pushes, at the same instant"] = _median(concurrent, repeat)
    rows["publish (group views, meta, aggregates and panels rebuilt)"] = _median(lambda: lake.publish_lake(url), repeat)

    def commit_to_visible():
        before = Warehouse(str(url)).version()
        _wait(_push(files["north"], url, "north"))
        t0 = time.perf_counter()
        lake.publish_lake(url)
        while Warehouse(str(url)).version() == before:
            time.sleep(0.05)
        return time.perf_counter() - t0

    visible = [commit_to_visible() for _ in range(repeat)]
    rows["a province's commit → published snapshot seen by a dashboard"] = (statistics.median(visible),
                                                                           [round(v, 3) for v in visible])

    for name, read in (("panel month", lambda s: s.panel("month")), ("panel quarter", lambda s: s.panel("quarter")),
                       ("business units", lambda s: s.business_units()), ("org tree", lambda s: s.org_nodes())):
        for backend, target in (("file", str(db)), ("lake", str(url))):
            # a new server's first read (the lake attached first), and a running server's (memory dropped)
            rows[f"read {name}, {backend}, new server"] = _median(lambda: read(Warehouse(target).snapshot()), repeat)
            running = Warehouse(target)
            read(running.snapshot())

            def again():
                running.forget()
                read(running.snapshot())

            rows[f"read {name}, {backend}, running server"] = _median(again, repeat)
    for servers in (1, 2):
        rows[f"pages/s, {servers} server(s)"] = page_rate(url, servers, clients, seconds, work)
    return rows


def markdown(doc: dict) -> str:
    out = [f"# The lake's benchmarks ({doc['date']})", "",
           f"Machine: {doc['machine']}; Python {doc['python']}; DuckDB {doc['duckdb']}; PostgreSQL 15 and SeaweedFS "
           f"on loopback. Medians of {doc['repeat']} runs (the runs in brackets). Written by `python -m bench.lake`.", ""]
    for scale, r in doc["scales"].items():
        s = r["sizes"]
        out += [f"## {scale}: {s['business_units']:,} business units, {s['fct_activities']:,} activities, "
                f"{s['fct_outages']:,} outages, {s['panel_month']:,} panel rows (two provinces)"
                + (f"; measured {r['date']}" if r.get("date") else ""), "",
                "| step | seconds | runs |", "| --- | --- | --- |"]
        for k, v in r.items():
            if isinstance(v, (list, tuple)) and len(v) == 2:
                out.append(f"| {k} | {v[0]:.3f} | {', '.join(f'{x:.3f}' for x in v[1])} |")
        ser = r["two provinces' pushes, one after the other"][0]
        con = r["two provinces' pushes, at the same instant"][0]
        out.append(f"| two pushes at once ÷ one after the other | {con / ser:.2f}× | |")
        if r.get("pages_date"):
            out += ["", f"Page rates measured again on {r['pages_date']} (`--only pages`)."]
        out += ["", "| dashboard servers | page runs per second | median page run (s) | pages in the window |",
                "| --- | --- | --- | --- |"]
        for k, v in r.items():
            if k.startswith("pages/s"):
                out.append(f"| {k.split(', ')[1]} | {v['per_second']:.2f} | {v['median_page_s']:.2f} | {v['pages']} |")
        out.append("")
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.lake", description=__doc__.splitlines()[0])
    ap.add_argument("--scales", default="demo")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--clients", type=int, default=4, help="concurrent simulated browsers")
    ap.add_argument("--seconds", type=float, default=20.0, help="length of each page-rate window")
    ap.add_argument("--only", choices=["pages"], help="re-measure only the page rates (the other rows are kept)")
    args = ap.parse_args(argv)
    from cluster.services import ObjectStore, Postgres

    OUT.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(OUT / "services", ignore_errors=True)
    pg = Postgres(OUT / "services" / "pg").start()
    s3 = ObjectStore(OUT / "services" / "s3").start()
    os.environ.update(PBKPI_LAKE_PG_PASSWORD=pg.password, PBKPI_LAKE_S3_KEY_ID=s3.key_id, PBKPI_LAKE_S3_SECRET=s3.secret)
    old = ROOT / "bench" / "results" / "lake.json"
    before = json.loads(old.read_text()) if old.exists() else {"scales": {}}
    kept = {k: {"date": before.get("date"), **v} for k, v in before["scales"].items()}
    try:  # the scales measured now replace their earlier rows; the others are kept (each row carries its date)
        doc = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
               "python": platform.python_version(), "duckdb": duckdb.__version__, "repeat": args.repeat,
               "scales": {**kept, **{s: bench_scale(s, pg, s3, args.repeat, args.clients, args.seconds, args.only,
                                                    kept.get(s)) for s in args.scales.split(",")}}}
    finally:
        s3.stop()
        pg.stop()
    (ROOT / "bench" / "results" / "lake.json").write_text(json.dumps(doc, indent=2, default=str))
    (ROOT / "bench" / "LAKE.md").write_text(markdown(doc))
    print(markdown(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
