"""Load jobs on a lake: what the Data page does with an upload when `PBKPI_DB` is a lake.

A dashboard server never loads into a lake itself. The upload page puts the files into the lake's object
store (`uploads_shelf`, beside the data and never inside it) and a job row into the catalog database
(`pbkpi_jobs`): who asked, for which province, with which org scope and which column mappings. Each
province's loader — one `python -m etl worker --province P --db P.duckdb` per province, on the machine that
keeps the province's warehouse file — claims its province's jobs in order and runs exactly the path of
`etl load` + `etl push` + `etl publish`: validated, upserted on natural keys, rejects kept, then one commit
into the province's tables and a new published snapshot. The job row carries every phase and the results,
so any server (the proxy may send a browser to another one) shows the same progress.

Guarantees:
- one worker per province: it holds a PostgreSQL advisory lock for its lifetime (released when it dies);
- a job a dead worker left running is run again by the next worker (a load is idempotent: natural-key
  upserts into a working copy that replaces the file only when whole), at most MAX_ATTEMPTS times;
- the worker beats every BEAT seconds in `pbkpi_workers`, so a page can say that no loader is running."""
from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from etl import lake, mappings
from etl.errors import EtlError

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]
WORKER_LOCK = 0x50424B57  # "PBKW": with hashtext(province), the advisory lock of a province's one worker
MAX_ATTEMPTS = 3
BEAT = 5.0  # seconds between a worker's heartbeats
ALIVE = 30.0  # a worker silent for longer is reported as not running
ACTIVE = ("queued", "running")


@dataclass
class JobView:
    """One job as the page shows it (times in the catalog's clock, seconds since each event)."""

    id: str
    province: str
    account: str
    state: str  # queued, running, done, failed
    phase: str | None  # fetch, load, push, publish, warm
    labels: list[str]
    progress: list[dict]
    results: list[dict] = field(default_factory=list)
    snapshot: int | None = None
    error: str | None = None
    attempts: int = 0
    created: str = ""
    age_seconds: float = 0.0
    worker_alive: bool = False

    @property
    def active(self) -> bool:
        return self.state in ACTIVE


class JobError(EtlError):
    pass


# ---------------------------------------------------------------------------------------- the page's side

def submit(url: lake.LakeURL, province: str, account: str, scope: frozenset[str] | None,
           files: list[tuple[str, Path, mappings.Profile | None]], creds: lake.Credentials | None = None) -> str:
    """Queue a load job: the files into the object store, then one job row (a job is visible only whole).
    `files` holds (label, path, the saved column mapping the file was recognised through or None)."""
    lake.check_province(province)
    if not files:
        raise JobError("没有可装载的文件。(no files)")
    job = uuid.uuid4().hex[:12]
    shelf = lake.uploads_shelf(url, creds)
    listed = []
    for i, (label, path, profile) in enumerate(files):
        obj = f"{job}/{i}{Path(label).suffix.lower()}"
        shelf.put_file(obj, Path(path))
        listed.append({"label": label, "object": obj, "bytes": Path(path).stat().st_size,
                       "mapping": profile.to_dict() if profile is not None else None})
    cat = lake.catalog(url, creds)
    try:
        cat.execute("INSERT INTO pbkpi_jobs (id, province, account, scope, files) VALUES (%s, %s, %s, %s, %s)",
                    [job, province, account, json.dumps(sorted(scope)) if scope is not None else None,
                     json.dumps(listed, ensure_ascii=False)])
    finally:
        cat.close()
    log.info("job %s queued for province %s by %s: %d file(s) %s", job, province, account, len(files),
             ", ".join(f["label"] for f in listed))
    return job


def recent(url: lake.LakeURL, account: str | None = None, ids: list[str] | None = None, limit: int = 8,
           creds: lake.Credentials | None = None) -> list[JobView]:
    """The newest jobs (of one account, or these ids), newest first, each with whether its province's
    worker beat within ALIVE seconds."""
    cat = lake.catalog(url, creds)
    try:
        where, params = [], []
        if account is not None:
            where.append("account = %s")
            params.append(account)
        if ids is not None:
            where.append("id = ANY(%s)")
            params.append(list(ids))
        rows = cat.execute(f"""
            SELECT j.id, j.province, j.account, j.state, j.phase, j.files, j.progress, j.results, j.snapshot, j.error,
                   j.attempts, to_char(j.created, 'YYYY-MM-DD HH24:MI:SS'),
                   extract(epoch FROM now() - j.created),
                   coalesce(extract(epoch FROM now() - w.beat) < %s, false)
            FROM pbkpi_jobs j LEFT JOIN pbkpi_workers w USING (province)
            {'WHERE ' + ' AND '.join(where) if where else ''}
            ORDER BY j.created DESC LIMIT %s""", [ALIVE, *params, limit]).fetchall()
    finally:
        cat.close()
    return [JobView(id=r[0], province=r[1], account=r[2], state=r[3], phase=r[4], labels=[f["label"] for f in r[5]],
                    progress=r[6] or [], results=r[7] or [], snapshot=r[8], error=r[9], attempts=r[10], created=r[11],
                    age_seconds=float(r[12]), worker_alive=bool(r[13])) for r in rows]


# ---------------------------------------------------------------------------------------- the worker

class Worker:
    """A province's loader: claims its jobs one at a time and loads, pushes and publishes them."""

    def __init__(self, url: lake.LakeURL, province: str, db: Path, creds: lake.Credentials | None = None,
                 warm: bool = True):
        self.url, self.province, self.db = url, lake.check_province(province), Path(db)
        self.creds = creds or lake.credentials()
        self.warm = warm
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.cat = lake.catalog(url, self.creds)  # holds the province's worker lock as long as it lives
        if not self.cat.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", [WORKER_LOCK, province]).fetchone()[0]:
            self.cat.close()
            raise JobError(f"省份 {province} 已有一个装载进程在运行（每个省份只能有一个）。"
                           f"(another worker serves province {province})")
        self._stop = threading.Event()
        # a job the previous worker left running died with it: run it again (a load is idempotent), or give up
        for job, attempts, files in self.cat.execute(
                "SELECT id, attempts, files FROM pbkpi_jobs WHERE province = %s AND state = 'running'", [province]).fetchall():
            if attempts >= MAX_ATTEMPTS:
                self._finish(job, "failed", error=f"装载进程在本任务中已中断 {attempts} 次，不再重试；请检查文件或联系管理员。"
                                                   f"(the loader stopped during this job {attempts} times)")
                self._discard({"files": files})
            else:
                self.cat.execute("UPDATE pbkpi_jobs SET state = 'queued', phase = NULL WHERE id = %s", [job])
                log.warning("job %s was left running by a stopped worker: queued again (attempt %d of %d)", job,
                            attempts + 1, MAX_ATTEMPTS)
        self._beat()

    def _beat(self, busy: str | None = None) -> None:
        self.cat.execute("""INSERT INTO pbkpi_workers (province, worker, started, beat, busy) VALUES (%s, %s, now(), now(), %s)
                            ON CONFLICT (province) DO UPDATE SET worker = excluded.worker, beat = now(), busy = excluded.busy,
                              started = CASE WHEN pbkpi_workers.worker = excluded.worker THEN pbkpi_workers.started
                                             ELSE excluded.started END""", [self.province, self.name, busy])

    def _beating(self, job: str) -> threading.Thread:
        """Beats from a thread (with its own connection) while a job runs: a load may take minutes."""
        def run():
            cat = lake.catalog(self.url, self.creds)
            try:
                while not self._stop.wait(BEAT):
                    cat.execute("UPDATE pbkpi_workers SET beat = now(), busy = %s WHERE province = %s AND worker = %s",
                                [job, self.province, self.name])
            finally:
                cat.close()

        self._stop.clear()
        t = threading.Thread(target=run, name=f"beat-{job}", daemon=True)
        t.start()
        return t

    def close(self) -> None:
        self._stop.set()
        try:
            self.cat.execute("DELETE FROM pbkpi_workers WHERE province = %s AND worker = %s", [self.province, self.name])
        finally:
            self.cat.close()

    def claim(self) -> dict | None:
        row = self.cat.execute("""
            UPDATE pbkpi_jobs SET state = 'running', phase = 'fetch', started = now(), attempts = attempts + 1, worker = %s
            WHERE id = (SELECT id FROM pbkpi_jobs WHERE province = %s AND state = 'queued'
                        ORDER BY created LIMIT 1 FOR UPDATE SKIP LOCKED)
            RETURNING id, account, scope, files""", [self.name, self.province]).fetchone()
        if row is None:
            return None
        return {"id": row[0], "account": row[1], "scope": row[2], "files": row[3]}

    def _set(self, job: str, **cols) -> None:
        sets = ", ".join(f"{k} = %s" for k in cols)
        vals = [json.dumps(v, ensure_ascii=False) if k in ("progress", "results") else v for k, v in cols.items()]
        self.cat.execute(f"UPDATE pbkpi_jobs SET {sets} WHERE id = %s", [*vals, job])

    def _finish(self, job: str, state: str, **cols) -> None:
        self._set(job, state=state, **cols)
        self.cat.execute("UPDATE pbkpi_jobs SET finished = now() WHERE id = %s", [job])

    def run_one(self) -> str | None:
        """Claim and run the oldest queued job of the province; its id, or None when none waits."""
        job = self.claim()
        if job is None:
            return None
        beat = self._beating(job["id"])
        try:
            self._run(job)
        except EtlError as exc:  # the warehouse as a whole refused, or the push/publish did: the job says why
            log.warning("job %s failed: %s", job["id"], exc)
            self._finish(job["id"], "failed", error=str(exc))
        except Exception as exc:
            ref = uuid.uuid4().hex[:8]
            log.exception("job %s failed, ref=%s", job["id"], ref)
            self._finish(job["id"], "failed", error=f"内部错误（编号 {ref}），已记入日志；请联系管理员。(internal error, ref {ref}: {type(exc).__name__})")
        finally:  # a worker stopped mid-job (SIGTERM) leaves the job running and its files: the next one reruns it
            self._stop.set()
            beat.join(timeout=BEAT + 5)
        self._beat()
        self._discard(job)
        return job["id"]

    def _discard(self, job: dict) -> None:
        shelf = lake.uploads_shelf(self.url, self.creds)
        for f in job["files"]:
            shelf.delete(f["object"])

    def _run(self, job: dict) -> None:
        from etl.load import load_files

        jid = job["id"]
        shelf = lake.uploads_shelf(self.url, self.creds)
        with tempfile.TemporaryDirectory(prefix=f"pbkpi-job-{jid}-") as tmp:
            tmp = Path(tmp)
            paths, labels = [], []
            store = mappings.Store(tmp / "mappings")
            for i, f in enumerate(job["files"]):
                path = tmp / f"{i}{Path(f['label']).suffix.lower()}"
                if not shelf.get_file(f["object"], path):
                    raise JobError(f"上传的文件「{f['label']}」已不在对象存储中（{f['object']}），请重新上传。"
                                   f"(the uploaded file is gone)")
                paths.append(path)
                labels.append(f["label"])
                if f.get("mapping"):
                    store.dir.mkdir(exist_ok=True)
                    (store.dir / f"{f['mapping']['name']}.json").write_text(
                        json.dumps(f["mapping"], ensure_ascii=False), encoding="utf-8")
            progress: list[dict] = []
            last = [0.0]

            def step(ev: dict) -> None:
                shown = {k: v for k, v in ev.items() if k != "result"}
                if ev.get("result") is not None:
                    r = ev["result"]
                    shown.update(loaded=r.rows_loaded, rejected=r.rows_rejected, skipped=r.rows_skipped, error=r.error)
                progress.append(shown)
                now = time.monotonic()
                if now - last[0] > 0.5 or ev["phase"] in ("done", "failed", "publish"):
                    last[0] = now
                    self._set(jid, phase="load", progress=progress)

            scope = frozenset(job["scope"]) if job["scope"] is not None else None
            self._set(jid, phase="load")
            results = load_files(paths, self.db, labels=labels, progress=step, mapping_store=store, scope=scope)
            self._set(jid, progress=progress, results=[r.to_dict() for r in results])
            if not any(r.rows_loaded for r in results):
                self._finish(jid, "done")
                log.info("job %s: nothing loaded, nothing pushed", jid)
                return
            self._set(jid, phase="push")
            lake.push(self.db, self.url, self.province, self.creds)
            self._set(jid, phase="publish")
            snapshot = lake.publish_lake(self.url, self.creds, note=f"job {jid} ({self.province})")
            self._finish(jid, "done", snapshot=snapshot)
            log.info("job %s done: %d row(s) loaded, published snapshot %d", jid,
                     sum(r.rows_loaded for r in results), snapshot)
        if self.warm:
            self._warm()

    def _warm(self) -> None:
        """The statistics of the new published snapshot, once, on the lake's shelf for every server."""
        import settings

        if not settings.warm_after_load():
            return
        proc = subprocess.Popen([sys.executable, "-m", "application.warm", "--db", str(self.url)], cwd=ROOT,
                                start_new_session=True, stdout=subprocess.DEVNULL, stderr=None)
        log.info("warm-up of the new snapshot started, pid %s", proc.pid)

    def serve(self, once: bool = False, poll: float = 2.0) -> int:
        """Run jobs until stopped (SIGTERM/SIGINT), or, with `once`, until none waits. Returns jobs run."""
        done = 0
        quiet = time.monotonic()
        while True:
            if self.run_one() is not None:
                done += 1
                continue
            if once:
                return done
            time.sleep(poll)
            if time.monotonic() - quiet >= BEAT:
                quiet = time.monotonic()
                self._beat()


def run(args) -> int:
    """`python -m etl worker` (etl/__main__.py): serve a province's jobs until stopped, or --once."""
    import signal

    import settings

    target = args.to or settings.warehouse()
    url = lake.parse(target) if isinstance(target, str) else target
    if not isinstance(url, lake.LakeURL):
        raise JobError("请用 --to 指定湖仓地址，或把 PBKPI_DB 设为湖仓地址（ducklake+postgres://…）。(no lake URL given)")
    if not args.db:
        raise JobError("请用 --db 指定本省份的仓库文件。(the province's warehouse file is needed)")
    worker = Worker(url, args.province, Path(args.db), warm=not args.no_warm)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # a service stop: close cleanly (the lock goes anyway)
    try:
        n = worker.serve(once=args.once, poll=args.poll)
    finally:
        worker.close()
    print(f"省份 {args.province}: 已运行 {n} 个任务 ran {n} job(s)")
    return 0
