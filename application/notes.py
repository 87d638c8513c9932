"""批注 Annotations: what people who know a unit write against a month ("7 月台风", "更换配变") so that everyone
reading its trend — on the unit profile and in the briefing — sees why a figure moved.

Kept in a small SQLite file outside the warehouse (PBKPI_NOTES, default data/notes.sqlite): a publish
replaces the warehouse, never the notes. A note belongs to one business unit and one month; it is read
through a user's scope like everything else (only notes on business units the reader may see are returned)
and written only by a role with the `annotate` permission for a unit inside their scope. Deleting marks a
note deleted (who and when); nothing is erased."""
from __future__ import annotations

import re
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS notes (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    business_unit_id TEXT NOT NULL,
    month            TEXT NOT NULL,       -- 2025-07
    text             TEXT NOT NULL,
    author           TEXT NOT NULL,
    created          REAL NOT NULL,
    deleted_by       TEXT,
    deleted_at       REAL
);
CREATE INDEX IF NOT EXISTS notes_unit ON notes (business_unit_id, month);
"""
MAX_CHARS = 200
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class NoteError(ValueError):
    """A note that cannot be written; the text says why."""


@dataclass(frozen=True)
class Note:
    id: int
    business_unit_id: str
    month: str
    text: str
    author: str
    created: float


class NoteStore:
    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._con()) as con, con:
            con.executescript(SCHEMA)

    def _con(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10)

    def add(self, business_unit_id: str, month: str, text: str, author: str) -> Note:
        text = " ".join(str(text).split())
        if not text:
            raise NoteError("批注内容不能为空。(empty note)")
        if len(text) > MAX_CHARS:
            raise NoteError(f"批注最多 {MAX_CHARS} 个字，现有 {len(text)} 个。(note too long)")
        if not MONTH.match(month):
            raise NoteError(f"月份应写作 2025-07，收到「{month}」。(month must look like 2025-07)")
        now = time.time()
        with closing(self._con()) as con, con:
            cur = con.execute("INSERT INTO notes (business_unit_id, month, text, author, created) VALUES (?, ?, ?, ?, ?)",
                              [business_unit_id, month, text, author, now])
        return Note(int(cur.lastrowid), business_unit_id, month, text, author, now)

    def delete(self, note_id: int, by: str) -> None:
        with closing(self._con()) as con, con:
            con.execute("UPDATE notes SET deleted_by = ?, deleted_at = ? WHERE id = ? AND deleted_by IS NULL",
                        [by, time.time(), int(note_id)])

    def notes(self, business_units: frozenset[str] | set[str] | None = None, first: str | None = None,
              last: str | None = None) -> list[Note]:
        """The notes not deleted, on these business units (None: every unit), months first..last, by month."""
        sql, params = "SELECT id, business_unit_id, month, text, author, created FROM notes WHERE deleted_by IS NULL", []
        if first:
            sql, params = sql + " AND month >= ?", params + [first]
        if last:
            sql, params = sql + " AND month <= ?", params + [last]
        with closing(self._con()) as con:
            rows = con.execute(sql + " ORDER BY month, created", params).fetchall()
        return [Note(*r) for r in rows if business_units is None or r[1] in business_units]


def visible(store: NoteStore, snapshot, business_unit_id: str | None = None, first: str | None = None,
            last: str | None = None) -> list[Note]:
    """The notes a snapshot's scope may read (one unit, or every unit of the scope)."""
    units = None if snapshot.scope is None else set(snapshot.scope)
    if business_unit_id is not None:
        if not snapshot.allowed(business_unit_id):
            return []
        units = {business_unit_id}
    return store.notes(units, first, last)
