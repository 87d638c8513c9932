"""The result store: each statistic computed once per warehouse version and kept twice — in memory for the
server process, and on disk beside the warehouse (`<warehouse>.cache/<key>/`), so that a freshly started
server, and the first leader to open a page after a load, reads instead of fitting.

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


class ResultStore:
    """Results in memory (least recently used dropped past `memory_entries`) over pickles on disk under
    `root` (None: memory only)."""

    def __init__(self, root: Path | None, memory_entries: int = 64, code: str | None = None):
        self.root = Path(root) if root is not None else None
        self.code = code or code_version()
        self.memory_entries = memory_entries
        self.stats = {"computed": 0, "from_disk": 0, "background": 0}
        self._lock = threading.RLock()
        self._memory: OrderedDict = OrderedDict()
        self._failed: dict = {}  # key -> (exception, sticky)

    # ------------------------------------------------------------------ where

    def version_dir(self, version: str) -> Path | None:
        if self.root is None:
            return None
        return self.root / hashlib.sha256(f"{version}|{self.code}".encode()).hexdigest()[:16]

    def _path(self, key) -> Path | None:
        d = self.version_dir(key[1])
        return None if d is None else d / f"{key[0].rsplit('.', 1)[-1]}-{key[2]}.pkl"

    def prune(self, version: str) -> int:
        """Remove the results of other warehouse versions (and code versions); how many directories went."""
        keep = self.version_dir(version)
        gone = 0
        if keep is not None and keep.parent.is_dir():
            for d in keep.parent.iterdir():
                if d.is_dir() and d != keep:
                    shutil.rmtree(d, ignore_errors=True)
                    gone += 1
        return gone

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
        path = self._path(key)
        if path is None or not path.exists():
            return False, None
        try:
            value = pickle.loads(path.read_bytes())
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            log.warning("kept result %s unreadable; computing it again", path, exc_info=True)
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
        path = self._path(key)
        return path is not None and path.exists()

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
        path = self._path(key)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)  # readers see the whole file or none
        except OSError:
            log.warning("could not keep %s on disk (read-only or full?); it stays in memory", path, exc_info=True)

    def get(self, snapshot, job: Job):
        found, value = self.lookup(snapshot, job)
        return value if found else self.compute(snapshot, job)

    def forget_memory(self) -> None:
        """Drop every result held in memory (the disk copies stay): what a freshly started server has."""
        with self._lock:
            self._memory.clear()
            self._failed.clear()
