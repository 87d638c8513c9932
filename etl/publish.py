"""Publishing a new warehouse version without ever blocking or confusing a reader.

DuckDB lets one process write a database file, and a writer's lock also shuts out read-only openers.
So loaders never write the live file: under an exclusive lock file they copy it to a private working
copy, load into that (one transaction per file), checkpoint, close, and `os.replace` it over the live
path. A reader that opened the old file keeps reading that consistent version; the next open sees the new
one. A killed loader leaves only its working copy behind (removed by the next loader): the live
warehouse is always exactly the state before or after a whole command."""
from __future__ import annotations

import fcntl
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

WORK_SUFFIX = ".work"


def lock_path(db: Path) -> Path:
    return db.with_name(db.name + ".lock")


@contextmanager
def writer_lock(db: Path):
    """Serialise writers (loaders, demo builds, refreshes) across processes."""
    db.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path(db), "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _remove_stale(db: Path) -> None:
    for p in db.parent.glob(db.name + WORK_SUFFIX + "*"):
        p.unlink(missing_ok=True)


@contextmanager
def working_copy(db: Path, fresh: bool = False):
    """Yield a private path to write; on success it replaces `db` atomically, on failure it is dropped.
    `fresh=True` starts from an empty file instead of a copy of the live warehouse."""
    db = Path(db)
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
