"""The result store: each statistic computed once per warehouse version and kept twice — in memory for the
server process, and on a shelf: on disk beside a warehouse file (`<warehouse>.cache/<key>/`), or in a lake's
object store shared by every dashboard server — so that a freshly started server, a second server, and the
first leader to open a page after a load, read instead of fitting.

A result's key holds the warehouse version (file size and modification time), the statistic and its
arguments, and `code_version()`: a hash of every first-party module results depend on and the versions of
the libraries that compute them, so neither a load nor an upgrade (ours or numpy's) serves a stale result.
A domain error (analytics.errors.DomainError: "too few treated units") holds for the whole version and is
kept in memory like a result; any other failure is raised once and tried again on the next request.
Results are shared objects: callers must not modify them."""
from __future__ import annotations

import functools
import hashlib
import logging
import os
import pickle
import shutil
import sys
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Callable

from analytics.errors import DomainError

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]
# what a kept result is computed by: our packages (the views' statistics, the estimators, the briefing,
# the metric catalogue) and the libraries underneath them
CODE = ("analytics", "application", "briefing", "catalogue")
LIBRARIES = ("numpy", "pandas", "scipy", "statsmodels", "pyfixest", "duckdb", "formulaic")


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    h = hashlib.sha256(sys.version.encode())
    for pkg in CODE:
        for f in sorted((ROOT / pkg).rglob("*")):
            if f.suffix in (".py", ".toml", ".sql") and "__pycache__" not in f.parts:
                h.update(str(f.relative_to(ROOT)).encode())
                h.update(f.read_bytes())
    for lib in LIBRARIES:
        try:
            h.update(f"{lib}=={metadata.version(lib)}".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{lib} absent".encode())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Job:
    """One statistic: `fn(snapshot, *args)`, a module-level function of hashable, picklable arguments."""
    fn: Callable
    args: tuple = ()

    @property
    def name(self) -> str:
        return f"{self.fn.__module__}.{self.fn.__qualname__}"

    def key(self, snapshot) -> tuple[str, str, str]:
        """(statistic, warehouse version, digest of the arguments and the snapshot's scope): results of
        different scopes never share a key."""
        scope = getattr(snapshot, "scope_tag", "")
        digest = hashlib.sha256(pickle.dumps((self.name, self.args, scope), protocol=4)).hexdigest()[:32]
        return self.name, snapshot.version, digest


class DirShelf:
    """Kept results as files in a directory (beside a warehouse file, or a lake's shared directory)."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def __str__(self) -> str:
        return str(self.root)

    def exists(self, rel: str) -> bool:
        return (self.root / rel).exists()

    def read(self, rel: str) -> bytes | None:
        try:
            return (self.root / rel).read_bytes()
        except FileNotFoundError:
            return None

    def write(self, rel: str, data: bytes) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)  # readers see the whole file or none

    def put_file(self, rel: str, source: Path) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        os.close(fd)
        shutil.copyfile(source, tmp)
        os.replace(tmp, path)

    def get_file(self, rel: str, target: Path) -> bool:
        """Copy an object to a local file; False when there is none."""
        try:
            shutil.copyfile(self.root / rel, target)
        except FileNotFoundError:
            return False
        return True

    def delete(self, rel: str) -> None:
        (self.root / rel).unlink(missing_ok=True)

    def prune(self, keep: str) -> int:
        gone = 0
        if self.root.is_dir():
            for d in self.root.iterdir():
                if d.is_dir() and d.name != keep:
                    shutil.rmtree(d, ignore_errors=True)
                    gone += 1
        return gone


class S3Shelf:
    """Kept results as objects in S3-compatible storage, shared by every dashboard server of a lake: the
    first server (or the warm-up) to compute a statistic for a published snapshot puts it, the others get it.
    A PUT is atomic: a reader gets the whole object or none."""

    def __init__(self, endpoint: str, key_id: str, secret: str, bucket: str, prefix: str, secure: bool, region: str):
        from minio import Minio

        self.client = Minio(endpoint, access_key=key_id, secret_key=secret, secure=secure, region=region)
        self.bucket, self.prefix = bucket, prefix.strip("/") + "/"

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def _missing(self, exc) -> bool:
        return getattr(exc, "code", "") in ("NoSuchKey", "NoSuchObject", "ResourceNotFound")

    def exists(self, rel: str) -> bool:
        from minio.error import S3Error

        try:
            self.client.stat_object(self.bucket, self.prefix + rel)
            return True
        except S3Error as exc:
            if self._missing(exc):
                return False
            raise

    def read(self, rel: str) -> bytes | None:
        from minio.error import S3Error

        try:
            resp = self.client.get_object(self.bucket, self.prefix + rel)
        except S3Error as exc:
            if self._missing(exc):
                return None
            raise
        try:
            return resp.read()
        finally:
            resp.close()
            resp.release_conn()

    def write(self, rel: str, data: bytes) -> None:
        import io

        self.client.put_object(self.bucket, self.prefix + rel, io.BytesIO(data), len(data))

    def put_file(self, rel: str, source: Path) -> None:
        self.client.fput_object(self.bucket, self.prefix + rel, str(source))  # streamed, in parts when big

    def get_file(self, rel: str, target: Path) -> bool:
        """Copy an object to a local file; False when there is none."""
        from minio.error import S3Error

        try:
            self.client.fget_object(self.bucket, self.prefix + rel, str(target))
        except S3Error as exc:
            if self._missing(exc):
                return False
            raise
        return True

    def delete(self, rel: str) -> None:
        self.client.remove_object(self.bucket, self.prefix + rel)

    def prune(self, keep: str) -> int:
        dirs = set()
        for obj in self.client.list_objects(self.bucket, prefix=self.prefix, recursive=True):
            top = obj.object_name[len(self.prefix):].split("/", 1)[0]
            if top != keep:
                self.client.remove_object(self.bucket, obj.object_name)
                dirs.add(top)
        return len(dirs)


class ResultStore:
    """Results in memory (least recently used dropped past `memory_entries`) over pickles kept on a shelf:
    a directory (a Path or DirShelf), a lake's object store (S3Shelf), or None (memory only)."""

    def __init__(self, root, memory_entries: int = 64, code: str | None = None):
        self.shelf = None if root is None else DirShelf(root) if isinstance(root, (str, Path)) else root
        self.root = self.shelf.root if isinstance(self.shelf, DirShelf) else None
        self.code = code or code_version()
        self.memory_entries = memory_entries
        self.stats = {"computed": 0, "from_disk": 0, "background": 0}
        self._lock = threading.RLock()
        self._memory: OrderedDict = OrderedDict()
        self._failed: dict = {}  # key -> (exception, sticky)

    # ------------------------------------------------------------------ where

    def version_name(self, version: str) -> str:
        """The directory (or object prefix) of one warehouse and code version's results."""
        return hashlib.sha256(f"{version}|{self.code}".encode()).hexdigest()[:16]

    def version_dir(self, version: str) -> Path | None:
        return None if self.root is None else self.root / self.version_name(version)

    def _rel(self, key) -> str | None:
        if self.shelf is None:
            return None
        return f"{self.version_name(key[1])}/{key[0].rsplit('.', 1)[-1]}-{key[2]}.pkl"

    def prune(self, version: str) -> int:
        """Remove the results of other warehouse versions (and code versions); how many directories went."""
        return 0 if self.shelf is None else self.shelf.prune(self.version_name(version))

    # ------------------------------------------------------------------ reading

    def _remember(self, key, value) -> None:
        with self._lock:
            self._memory[key] = value
            self._memory.move_to_end(key)
            while len(self._memory) > self.memory_entries:
                self._memory.popitem(last=False)

    def lookup(self, snapshot, job: Job) -> tuple[bool, object]:
        """(True, value) when kept in memory or on disk; a kept failure is raised again."""
        key = job.key(snapshot)
        with self._lock:
            if key in self._memory:
                self._memory.move_to_end(key)
                return True, self._memory[key]
            if key in self._failed:
                exc, sticky = self._failed[key]
                if not sticky:
                    del self._failed[key]
                raise exc
        rel = self._rel(key)
        if rel is None:
            return False, None
        try:
            data = self.shelf.read(rel)
            if data is None:
                return False, None
            value = pickle.loads(data)
        except Exception:  # damaged, or the shelf unreachable: computed again, and said so in the log
            log.warning("kept result %s/%s unreadable; computing it again", self.shelf, rel, exc_info=True)
            return False, None
        self.stats["from_disk"] += 1
        self._remember(key, value)
        return True, value

    def ready(self, snapshot, job: Job) -> bool:
        """Kept already; a kept failure counts too (left in place: `get` raises it)."""
        key = job.key(snapshot)
        with self._lock:
            if key in self._memory or key in self._failed:
                return True
        rel = self._rel(key)
        try:
            return rel is not None and self.shelf.exists(rel)
        except Exception:
            log.warning("kept result %s/%s: shelf unreachable", self.shelf, rel, exc_info=True)
            return False

    # ------------------------------------------------------------------ computing

    def compute(self, snapshot, job: Job):
        key = job.key(snapshot)
        try:
            value = job.fn(snapshot, *job.args)
        except DomainError as exc:
            with self._lock:
                self._failed[key] = (exc, True)
            raise
        except Exception as exc:
            with self._lock:
                self._failed[key] = (exc, False)
            raise
        self.stats["computed"] += 1
        self._remember(key, value)
        self._write(key, value)
        return value

    def _write(self, key, value) -> None:
        rel = self._rel(key)
        if rel is None:
            return
        try:
            self.shelf.write(rel, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
        except Exception:
            log.warning("could not keep %s/%s (read-only, full or unreachable?); it stays in memory", self.shelf, rel,
                        exc_info=True)

    def get(self, snapshot, job: Job):
        found, value = self.lookup(snapshot, job)
        return value if found else self.compute(snapshot, job)

    def forget_memory(self) -> None:
        """Drop every result held in memory (the disk copies stay): what a freshly started server has."""
        with self._lock:
            self._memory.clear()
            self._failed.clear()
