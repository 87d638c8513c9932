"""The audit log: who signed in (or failed to), viewed what with which selection, exported what and
uploaded what, and who changed which account — one JSON object per line, appended, outside the warehouse
(`PBKPI_AUDIT`, default data/audit.jsonl), so it survives every publish. Passwords and secrets are never
written: entries hold accounts, event names and the facts of the event."""
from __future__ import annotations

import json
import os
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

EVENTS = ("signin", "signin_failed", "signout", "session_expired", "page_view", "url_rejected", "export",
          "upload", "upload_queued", "account_changed", "mapping_saved", "mapping_deleted",
          "targets_changed", "note_added", "note_deleted", "metric_defined", "metric_removed",
          "session_resumed")
FORBIDDEN = ("password", "secret", "token")  # detail keys refused outright
_lock = threading.Lock()


class AuditLog:
    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, event: str, account: str | None, **details) -> dict:
        if event not in EVENTS:
            raise ValueError(f"unknown audit event {event!r}")
        bad = [k for k in details if any(f in k.lower() for f in FORBIDDEN)]
        if bad:
            raise ValueError(f"audit details may not hold {bad}")
        entry = {"time": datetime.now(timezone.utc).isoformat(timespec="seconds"), "event": event,
                 "account": account, **details}
        line = json.dumps(entry, ensure_ascii=False, default=str) + "\n"
        with _lock:  # one line per write(2) on an O_APPEND descriptor: lines from processes never interleave
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode("utf-8"))
            finally:
                os.close(fd)
        return entry

    def entries(self, account: str | None = None, event: str | None = None, since: str | None = None,
                limit: int | None = None) -> list[dict]:
        """Newest first, filtered by account, event and ISO date (`since`, inclusive)."""
        if not self.path.exists():
            return []
        out = []
        with open(self.path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    e = json.loads(line)
                except json.JSONDecodeError:  # a torn last line after a crash: skipped, not fatal
                    continue
                if (account and e.get("account") != account) or (event and e.get("event") != event) \
                        or (since and e.get("time", "") < since):
                    continue
                out.append(e)
        out.reverse()
        return out[:limit] if limit else out

    def prune(self, keep_days: int) -> int:
        """Drop entries older than `keep_days` (the retention setting); returns how many went."""
        if not self.path.exists():
            return 0
        cutoff = datetime.fromtimestamp(time.time() - keep_days * 86400, timezone.utc).isoformat(timespec="seconds")
        with _lock:
            lines = self.path.read_text(encoding="utf-8").splitlines(keepends=True)
            keep = [ln for ln in lines if _time(ln) >= cutoff]
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text("".join(keep), encoding="utf-8")
            os.replace(tmp, self.path)
        return len(lines) - len(keep)


def _time(line: str) -> str:
    try:
        return json.loads(line).get("time", "")
    except json.JSONDecodeError:
        return ""
