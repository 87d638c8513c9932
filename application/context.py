"""What a view needs besides its selection and parameters: the warehouse at one version, the result
store, and the job runner — created once by the app (or a CLI, or a test) and passed in.

`Context.outcomes` is how a view asks for its statistics: each comes back as an `Outcome` — the value, the
domain error that explains why there is none, or "pending" when the slice is large and the statistic is
being computed in the background (the page shows what it has and a notice, and reruns when it is ready)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

import settings
from analytics.errors import DomainError
from application.runner import JobRunner
from application.selection import Selection
from application.store import Job, ResultStore
from application.warehouse import Snapshot, Warehouse

T = TypeVar("T")


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """A statistic as a view model holds it: exactly one of value / error / pending."""
    job: Job
    value: T | None = None
    error: DomainError | None = None
    pending_rows: int | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.pending_rows is None

    @property
    def pending(self) -> bool:
        return self.pending_rows is not None

    @property
    def message(self) -> str:
        return str(self.error) if self.error is not None else ""


@dataclass
class Context:
    snapshot: Snapshot
    store: ResultStore
    runner: JobRunner | None = None  # None: everything is computed inline (CLIs, tests, the warm-up)
    inline_rows: int = 50_000  # a statistic over fewer panel rows is computed while the page waits

    @classmethod
    def open(cls, db_path, background: bool = False, disk: bool = True) -> Context:
        """A context over a warehouse file, with its on-disk results beside it (the CLIs and the warm-up)."""
        warehouse = Warehouse(db_path)
        store = ResultStore(warehouse.results() if disk else None)
        return cls(warehouse.snapshot(), store, JobRunner(store) if background else None, settings.background_rows())

    @property
    def version(self) -> str:
        return self.snapshot.version

    def narrowed(self, org: str | None) -> Context:
        """This context over the business units beneath an organisation of the org tree (within the scope it
        already has): how a Selection's `org` is applied — like a user's data permission, so every read and
        every kept result of the narrower view is its own."""
        if not org:
            return self
        return Context(self.snapshot.beneath(org), self.store, self.runner, self.inline_rows)

    def rows(self, job: Job) -> int:
        """Panel rows a statistic works on: its selection's when it has one, else the monthly panel's."""
        sel = next((a for a in job.args if isinstance(a, Selection)), Selection())
        return self.snapshot.count(sel)

    def outcomes(self, jobs: dict[str, Job]) -> dict[str, Outcome]:
        """Every job's outcome. Kept ones are read; missing ones are computed now when the slice is small (or
        there is no runner), else handed to the runner in the given order and reported pending."""
        missing = [j for j in jobs.values() if not self.store.ready(self.snapshot, j)]
        pending: dict[Job, int] = {}
        if missing and self.runner is not None:
            rows = max(self.rows(j) for j in missing)
            if rows >= self.inline_rows:
                for j in reversed(missing):  # the runner takes the newest first: keep the view's order
                    self.runner.submit(self.snapshot, j)
                pending = {j: rows for j in missing}
        out = {}
        for name, job in jobs.items():
            if job in pending:
                out[name] = Outcome(job, pending_rows=pending[job])
                continue
            try:
                out[name] = Outcome(job, value=self.store.get(self.snapshot, job))
            except DomainError as exc:
                out[name] = Outcome(job, error=exc)
        return out

    def outcome(self, job: Job) -> Outcome:
        return self.outcomes({"_": job})["_"]

    def value(self, job: Job):
        """The statistic itself (computed now if need be); a domain error is raised."""
        return self.store.get(self.snapshot, job)

    def still_pending(self, jobs: list[Job]) -> bool:
        """Some of these are not kept yet; the ones the runner dropped meanwhile are handed back to it."""
        waiting = [j for j in jobs if not self.store.ready(self.snapshot, j)]
        if self.runner is not None:
            for j in reversed(waiting):
                if not self.runner.knows(self.snapshot, j):
                    self.runner.submit(self.snapshot, j)
        return bool(waiting)
