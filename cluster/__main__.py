"""A local cluster on this machine: `python -m cluster up|down|status` (`make cluster`, `make cluster-stop`).

`up` starts, each as its own process, what a group deployment runs on several machines:
- PostgreSQL, the lake's catalog, and SeaweedFS, its S3 object store (cluster/services.py);
- the lake, filled once from a warehouse file (the synthetic demo unless --db names another) and published;
- the warm-up, which keeps the statistics of the published snapshot on the lake's shelf for every server;
- the demo's sign-in accounts (on the synthetic demo only), in one accounts file every server reads;
- the loader of the lake's one province, `company` (`etl worker`, on its own copy of the warehouse file):
  it runs the load jobs the Data page of any server queues;
- `--servers` dashboard servers (default 2), each with its own health port;
- HAProxy in front of them on --port, with sticky sessions: a cookie (PBKPI_SRV) keeps each browser on
  the server that holds its Streamlit session, and a server whose /health fails is taken out.

Everything it started, with ports and process ids, is written to <dir>/cluster.json (the secrets to
<dir>/lake.toml, mode 600); `down` stops exactly that. Nothing here is needed by the single-file
default (`make run`)."""
from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import logsetup
import settings
from cluster.services import ObjectStore, Postgres, ServiceError, _wait_port, free_port

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("cluster")
HAPROXY_CFG = """global
    maxconn 2000
defaults
    mode http
    timeout connect 5s
    timeout client 1h
    timeout server 1h
    timeout tunnel 1h
    timeout check 10s
frontend pbkpi
    bind 127.0.0.1:{port}
    default_backend dashboards
backend dashboards
    balance roundrobin
    # sticky sessions: a Streamlit session lives in one server process, so a browser stays on it
    cookie PBKPI_SRV insert indirect nocache httponly
    # a server that is down: its browsers go to another one (they sign in again there: sessions are shared)
    option redispatch
    retries 2
    option httpchk GET /health
    http-check expect status 200
    http-response set-header X-PBKPI-Server %s
{servers}
"""


def _state_file(root: Path) -> Path:
    return root / "cluster.json"


def _haproxy() -> str:
    found = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)
    if not found:
        raise ServiceError("HAProxy not found: install Debian's `haproxy` package (make system-deps does, as root)")
    return found


def _wait_http(url: str, timeout: float, proc: subprocess.Popen | None = None, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServiceError(f"{what} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                if resp.status == 200:
                    return
        except OSError as exc:
            last = exc
        time.sleep(0.5)
    raise ServiceError(f"{what or url} not ready within {timeout:.0f} s: {last}")


def up(root: Path, port: int, servers: int, db: Path | None, warm: bool = True) -> dict:
    from etl import lake

    root = root.resolve()
    if _state_file(root).exists():
        raise ServiceError(f"a cluster is already recorded in {_state_file(root)}: `python -m cluster down --dir {root}` first")
    root.mkdir(parents=True, exist_ok=True)
    started: dict = {"root": str(root), "pids": {}}
    try:
        pg = Postgres(root / "pg").start()
        started["pids"]["postgres"] = pg.proc.pid
        started["pg_root"] = str(pg.root)
        s3 = ObjectStore(root / "s3").start()
        started["pids"]["seaweedfs"] = s3.proc.pid
        secrets_file = root / "lake.toml"
        secrets_file.write_text(f'[postgres]\npassword = "{pg.password}"\n[s3]\nkey_id = "{s3.key_id}"\nsecret = "{s3.secret}"\n')
        os.chmod(secrets_file, 0o600)
        url = lake.parse(f"ducklake+postgres://{pg.user}@127.0.0.1:{pg.port}/{pg.dbname}"
                         f"?data_path=s3://lake/warehouse/&s3_endpoint={s3.endpoint}&s3_use_ssl=false")
        started.update(lake=str(url), secrets=str(secrets_file))
        # what people add beside the warehouse (accounts and sign-in sessions, notes) is shared by the servers
        env = {**os.environ, "PBKPI_DB": str(url), "PBKPI_LAKE_SECRETS": str(secrets_file), "PYTHONPATH": str(ROOT),
               "PBKPI_AUTH_DB": str(root / "auth.sqlite"), "PBKPI_NOTES": str(root / "notes.sqlite"),
               "PBKPI_TARGETS": str(root / "targets.json")}
        for k in ("PBKPI_LAKE_PG_PASSWORD", "PBKPI_LAKE_S3_KEY_ID", "PBKPI_LAKE_S3_SECRET"):
            env.pop(k, None)  # the servers read the secrets file, as in production
        source = Path(db) if db else ROOT / "data" / "warehouse.duckdb"
        if not source.exists():
            print(f"building the synthetic demo warehouse {source} …", flush=True)
            subprocess.run([sys.executable, "-m", "etl", "demo", "--db", str(source)], cwd=ROOT, check=True,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
        # the province `company` keeps loading into its own copy of the file: its worker runs the upload jobs
        province_db = root / "company.duckdb"
        shutil.copyfile(source, province_db)
        out = subprocess.run([sys.executable, "-m", "etl", "migrate", "--db", str(province_db), "--to", str(url)], cwd=ROOT,
                             env=env, capture_output=True, text=True)
        if out.returncode:
            raise ServiceError(f"migrating {source} into the lake failed: {out.stderr.strip()[-1500:]}")
        print(out.stdout.strip().splitlines()[-1], flush=True)
        if warm:  # once, for every server: the statistics land on the lake's shelf
            t = time.monotonic()
            subprocess.run([sys.executable, "-m", "application.warm"], cwd=ROOT, env=env, check=True,
                           stdout=subprocess.DEVNULL)
            print(f"warm-up done in {time.monotonic() - t:.0f} s (kept in the lake's object store)", flush=True)
        accounts = subprocess.run([sys.executable, "-m", "auth", "demo"], cwd=ROOT, env=env, capture_output=True,
                                  text=True)
        if accounts.returncode:
            raise ServiceError(f"creating the demo accounts failed: {accounts.stderr.strip()[-1000:]}")
        print(accounts.stdout.strip(), flush=True)
        with open(root / "worker-company.log", "ab") as fh:
            worker = subprocess.Popen([sys.executable, "-m", "etl", "worker", "--province", "company", "--db",
                                       str(province_db)], cwd=ROOT, env={**env, "PBKPI_LOG_FILE": str(root / "worker.pbkpi.log")},
                                      stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
        started["pids"]["worker-company"] = worker.pid
        started["province_db"] = str(province_db)
        cookie_secret = secrets.token_urlsafe(32)
        started["servers"], procs = [], []
        for i in range(servers):
            web, health = free_port(), free_port()
            log_file = root / f"server{i + 1}.log"
            with open(log_file, "ab") as fh:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "ui.serve", "--server.port", str(web), "--server.address", "127.0.0.1",
                     "--server.headless", "true", "--browser.gatherUsageStats", "false"],
                    # one cookie secret for every server (Streamlit takes it from the environment only)
                    cwd=ROOT, env={**env, "STREAMLIT_SERVER_COOKIE_SECRET": cookie_secret,
                                   "PBKPI_HEALTH_PORT": str(health), "PBKPI_HEALTH_ADDRESS": "127.0.0.1",
                                   "PBKPI_LOG_FILE": str(root / f"server{i + 1}.pbkpi.log")},
                    stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
            started["pids"][f"server{i + 1}"] = proc.pid
            started["servers"].append({"name": f"s{i + 1}", "port": web, "health": health, "pid": proc.pid})
            procs.append(proc)
        for s, proc in zip(started["servers"], procs):
            _wait_http(f"http://127.0.0.1:{s['health']}/health", 120, proc, f"server {s['name']} health")
            _wait_http(f"http://127.0.0.1:{s['port']}/_stcore/health", 120, proc, f"server {s['name']}")
        cfg = root / "haproxy.cfg"
        cfg.write_text(HAPROXY_CFG.format(port=port, servers="\n".join(
            f"    server {s['name']} 127.0.0.1:{s['port']} check port {s['health']} inter 3s fall 3 rise 1 cookie {s['name']}"
            for s in started["servers"])))
        with open(root / "haproxy.log", "ab") as fh:
            hap = subprocess.Popen([_haproxy(), "-db", "-f", str(cfg)], stdout=fh, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        started["pids"]["haproxy"] = hap.pid
        started["port"] = port
        _wait_port(port, hap, "haproxy", root / "haproxy.log", timeout=30)
        _wait_http(f"http://127.0.0.1:{port}/_stcore/health", 60, hap, "the proxy")
    except BaseException:
        _stop(started)
        raise
    _state_file(root).write_text(json.dumps(started, indent=2))
    return started


def group_alive(pgid: int) -> bool:
    """Whether any process of a process group still runs (a zombie has finished: it only awaits its parent,
    which `up` is when it ran in the same process, as in the tests)."""
    try:
        os.waitpid(pgid, os.WNOHANG)  # reap it if it is our child
    except ChildProcessError:
        pass
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":  # fields: state, ppid, pgrp, …
            return True
    return False


def _stop(state: dict) -> None:
    order = ["haproxy", *[k for k in state.get("pids", {}) if k.startswith(("server", "worker"))], "seaweedfs", "postgres"]
    for name in order:
        pid = state.get("pids", {}).get(name)
        if not pid:
            continue
        try:
            os.killpg(pid, signal.SIGINT if name == "postgres" else signal.SIGTERM)
        except ProcessLookupError:
            continue
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if not group_alive(pid):
                break
            time.sleep(0.2)
        else:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    pg_root = state.get("pg_root")
    if pg_root and Path(pg_root).name.startswith("pbkpi-pg-"):  # a temporary directory (started as root)
        shutil.rmtree(pg_root, ignore_errors=True)


def down(root: Path) -> bool:
    f = _state_file(root.resolve())
    if not f.exists():
        return False
    _stop(json.loads(f.read_text()))
    f.unlink()
    return True


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m cluster", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    u = sub.add_parser("up", help="start PostgreSQL, SeaweedFS, the lake, dashboard servers and HAProxy")
    u.add_argument("--dir", default=str(settings.DATA_DIR / "cluster"))
    u.add_argument("--port", type=int, default=8080)
    u.add_argument("--servers", type=int, default=2)
    u.add_argument("--db", help="the warehouse file to fill the lake from (default: the demo, built if missing)")
    u.add_argument("--no-warm", action="store_true", help="skip the warm-up (statistics computed on first visits)")
    d = sub.add_parser("down", help="stop everything `up` started")
    d.add_argument("--dir", default=str(settings.DATA_DIR / "cluster"))
    st = sub.add_parser("status", help="what `up` started")
    st.add_argument("--dir", default=str(settings.DATA_DIR / "cluster"))
    args = ap.parse_args(argv)
    logsetup.configure("cluster")
    root = Path(args.dir)
    if args.cmd == "up":
        try:
            with socket.socket() as s:  # taken by a listener (a closed connection's TIME_WAIT is not)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("127.0.0.1", args.port))
        except OSError:
            print(f"port {args.port} is taken: choose another with --port", file=sys.stderr)
            return 2
        try:
            state = up(root, args.port, args.servers, Path(args.db) if args.db else None, warm=not args.no_warm)
        except (ServiceError, subprocess.CalledProcessError) as exc:
            print(f"cluster not started: {exc}", file=sys.stderr)
            return 1
        print(f"PB-KPI Lens cluster: http://127.0.0.1:{state['port']}/ → "
              + ", ".join(f"{s['name']} :{s['port']}" for s in state["servers"])
              + f"; lake {state['lake']} (secrets in {state['secrets']}). Stop: python -m cluster down --dir {root}")
        return 0
    if args.cmd == "down":
        print("stopped" if down(root) else f"no cluster recorded in {root}")
        return 0
    f = _state_file(root.resolve())
    print(f.read_text() if f.exists() else f"no cluster recorded in {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
