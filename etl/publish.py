"""Publishing a new warehouse version without ever blocking or confusing a reader.

DuckDB lets one process write a database file, and a writer's lock also shuts out read-only openers.
So loaders never write the live file: under an exclusive lock file they copy it to a private working
copy, load into that (one transaction per file), checkpoint, close, and `os.replace` it over the live
path. A reader that opened the old file keeps reading that consistent version; the next open sees the new
one. A killed loader leaves only its working copy behind (removed by the next loader): the live
warehouse is always exactly the state before or after a whole command."""
from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

import settings
from etl.errors import EtlError

WORK_SUFFIX = ".work"


class WarehouseBusy(EtlError):
    """Another writer has held the warehouse longer than the lock timeout."""


log = logging.getLogger(__name__)


def lock_path(db: Path) -> Path:
    return db.with_name(db.name + ".lock")


@contextmanager
def writer_lock(db: Path, timeout: float | None = None):
    """Serialise writers (loaders, demo builds, refreshes) across processes. A writer waits up to
    PBKPI_LOCK_TIMEOUT seconds for another one, then gives up naming it (process id, since when): a hung
    or very long load never blocks later ones silently. The holder writes who it is into the lock file."""
    db.parent.mkdir(parents=True, exist_ok=True)
    timeout = settings.lock_timeout() if timeout is None else timeout
    with open(lock_path(db), "a+") as fh:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WarehouseBusy(_busy_message(db, timeout)) from None
                time.sleep(0.2)
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps({"pid": os.getpid(), "since": dt.datetime.now().isoformat(timespec="seconds")}))
        fh.flush()
        try:
            yield
        finally:
            fh.seek(0)
            fh.truncate()
            fh.flush()
            fcntl.flock(fh, fcntl.LOCK_UN)


def _busy_message(db: Path, timeout: float) -> str:
    try:
        holder = json.loads(lock_path(db).read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        holder = {}
    who = f"进程 {holder.get('pid', '?')}，自 {holder.get('since', '?')} 起" if holder else "另一个进程"
    return (f"仓库正被另一个导入任务写入（{who}），等待 {timeout:.0f} 秒后仍未结束，本次未作任何修改。"
            f"请稍后重试；若该任务已无响应，请系统管理员结束该进程后再导入。"
            f"(warehouse busy: held by pid {holder.get('pid', '?')} since {holder.get('since', '?')})")


def _remove_stale(db: Path) -> None:
    for p in db.parent.glob(db.name + WORK_SUFFIX + "*"):
        p.unlink(missing_ok=True)


@contextmanager
def working_copy(db: Path, fresh: bool = False):
    """Yield a private path to write; on success it replaces `db` atomically, on failure it is dropped.
    `fresh=True` starts from an empty file instead of a copy of the live warehouse."""
    db = Path(db).resolve()  # a symlinked path loads into the real file, under the real file's one lock
    if not fresh and not db.parent.is_dir():  # a typo in PBKPI_DB must not silently start a new warehouse
        raise EtlError(f"仓库所在目录不存在：{db.parent}。请检查 PBKPI_DB 或 --db 是否写错；"
                       f"如确要新建仓库，请先创建该目录。(warehouse directory does not exist)")
    with writer_lock(db):
        _remove_stale(db)  # we hold the writer lock: any working copy left is from a killed writer
        work = db.with_name(db.name + WORK_SUFFIX)
        if db.exists() and not fresh:
            shutil.copyfile(db, work)
        try:
            yield work
        except BaseException:
            work.unlink(missing_ok=True)
            Path(str(work) + ".wal").unlink(missing_ok=True)
            raise
        if Path(str(work) + ".wal").exists():
            raise RuntimeError("working copy was not checkpointed and closed before publishing")
        with open(work, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(work, db)
        dir_fd = os.open(db.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        log.info("published %s (%.1f MB)", db, db.stat().st_size / 1048576)
