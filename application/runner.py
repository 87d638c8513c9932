"""The job runner: one background thread computing statistics too large to compute while a page waits.

The newest request runs first (a visitor clicking through filters only gets the last one computed), a
request starts `start_delay` after it arrived (the page run that asked finishes first: the two would share
the interpreter lock), and requests older than the last `queue_limit` are dropped (the visitor has long
moved on). One statistic at a time: each may need a GB at group scale."""
from __future__ import annotations

import logging
import threading
import time

from analytics.errors import DomainError
from application.store import Job, ResultStore

log = logging.getLogger(__name__)


class JobRunner:
    def __init__(self, store: ResultStore, queue_limit: int = 16, start_delay: float = 0.4):
        self.store = store
        self.queue_limit, self.start_delay = queue_limit, start_delay
        self._lock = threading.RLock()
        self._wake = threading.Condition(self._lock)
        self._queue: list = []  # (key, snapshot, job, time asked), newest last
        self._running: list = []
        self._worker: threading.Thread | None = None

    def submit(self, snapshot, job: Job) -> None:
        key = job.key(snapshot)
        with self._lock:
            if key in self._running:
                return
            self._queue[:] = [item for item in self._queue if item[0] != key]  # a repeat moves to the front
            self._queue.append((key, snapshot, job, time.monotonic()))
            del self._queue[:-self.queue_limit]
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._work, name="pbkpi-statistics", daemon=True)
                self._worker.start()
            self._wake.notify()

    def busy(self) -> bool:
        """Something is queued or running."""
        with self._lock:
            return bool(self._queue) or bool(self._running)

    def running(self) -> list:
        with self._lock:
            return list(self._running)

    def knows(self, snapshot, job: Job) -> bool:
        """Queued or running."""
        key = job.key(snapshot)
        with self._lock:
            return key in self._running or any(item[0] == key for item in self._queue)

    def _work(self) -> None:
        while True:
            with self._lock:
                while True:
                    while not self._queue:
                        self._wake.wait()
                    wait = self._queue[-1][3] + self.start_delay - time.monotonic()
                    if wait <= 0:
                        break
                    self._wake.wait(wait)
                key, snapshot, job, _ = self._queue.pop()
                self._running.append(key)
            try:
                if not self.store.ready(snapshot, job):
                    self.store.compute(snapshot, job)
                    self.store.stats["background"] += 1
            except DomainError as exc:  # kept by the store; the page shows it on its next run
                log.info("background %s: %s", job.name, exc)
            except Exception:  # kept by the store for one showing on the page; logged here with its traceback
                log.exception("background %s failed", job.name)
            finally:
                with self._lock:
                    self._running.remove(key)
