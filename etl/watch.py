"""A drop folder: `python -m etl watch DIR` loads files as branches and systems put them there.

DIR is the inbox. A file is taken once it has stopped changing (the same size and modification time on
two looks `settle` seconds apart; hidden, `~$` lock and `.tmp`/`.part` files are never taken). The files
taken together are loaded together (organisation units first, one transaction per file), then each moves
to DIR/done/ or DIR/failed/ with `<name>.result.json` beside it: what was loaded, rejected and why, or
why the file was refused.

Idempotent across restarts: the warehouse itself is the ledger. A file whose exact content was already
loaded (etl_loads.content_hash) is not loaded again but moved to done/ naming the earlier load; so a file
that arrived while the watcher was stopped is loaded once when it starts, and one whose load was published
just before a crash, before it could be moved, is moved without a second load. When the warehouse is busy
or cannot be written, the files stay in the inbox and are tried again on the next look."""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import signal
import time
from pathlib import Path

import duckdb

from etl import engine
from etl.errors import EtlError

log = logging.getLogger(__name__)
IGNORED_SUFFIXES = (".tmp", ".part", ".crdownload", ".partial", ".result.json")


def candidates(inbox: Path) -> dict[Path, tuple[int, int]]:
    """The files in the inbox, with (size, mtime_ns). A file of a type the loader does not read is taken as
    well: it goes to failed/ with the reason, instead of lying in the inbox unexplained."""
    out = {}
    for p in sorted(inbox.iterdir()):
        name = p.name
        if not p.is_file() or name.startswith((".", "~$")) or name.lower().endswith(IGNORED_SUFFIXES):
            continue
        try:
            info = p.stat()
        except FileNotFoundError:  # taken away between the listing and the look
            continue
        out[p] = (info.st_size, info.st_mtime_ns)
    return out


def _loaded_before(db: Path, digests: dict[Path, str]) -> dict[Path, tuple[int, str]]:
    """Files whose content the warehouse already holds: {path: (load_id, loaded_at)}."""
    if not db.exists() or not digests:
        return {}
    con = engine.connect(db, read_only=True)
    try:
        rows = con.execute("SELECT content_hash, max(load_id), strftime(max(loaded_at), '%Y-%m-%d %H:%M:%S') "
                           "FROM etl_loads WHERE list_contains(?, content_hash) GROUP BY content_hash",
                           [list(set(digests.values()))]).fetchall()
    except duckdb.CatalogException:  # a new warehouse without its tables yet
        return {}
    finally:
        con.close()
    seen = {h: (lid, at) for h, lid, at in rows}
    return {p: seen[h] for p, h in digests.items() if h in seen}


def _move(path: Path, folder: Path, result: dict) -> Path:
    """Move a file into done/ or failed/ (never over another file) and write its result beside it."""
    folder.mkdir(exist_ok=True)
    target = folder / path.name
    if target.exists():
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        target = folder / f"{path.stem}.{stamp}{path.suffix}"
        n = 1
        while target.exists():
            target = folder / f"{path.stem}.{stamp}-{n}{path.suffix}"
            n += 1
    result_file = target.with_name(target.name + ".result.json")
    tmp = result_file.with_name(result_file.name + ".tmp")
    tmp.write_text(json.dumps(result, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, result_file)
    shutil.move(str(path), str(target))
    return target


class Watcher:
    def __init__(self, inbox: Path, db: Path, settle: float = 2.0, mapping: str | None = None):
        self.inbox, self.db, self.settle, self.mapping = Path(inbox), Path(db), settle, mapping
        self.inbox.mkdir(parents=True, exist_ok=True)
        self.seen: dict[Path, tuple[int, int]] = {}
        self.stopping = False

    def stable(self) -> list[Path]:
        """Files unchanged since the previous look."""
        now = candidates(self.inbox)
        ready = [p for p, stamp in now.items() if self.seen.get(p) == stamp]
        self.seen = now
        return ready

    def process(self, files: list[Path]) -> list[dict]:
        """Load the files and move each to done/ or failed/; the results written. Files stay in the inbox
        when the warehouse as a whole cannot take them (busy, not writable)."""
        from etl.load import file_hash, load_files

        if not files:
            return []
        digests = {}
        for p in files:
            try:
                digests[p] = file_hash(p)
            except OSError as exc:  # gone or unreadable: the loader says which, below
                log.warning("could not read %s: %s", p.name, exc)
        before = _loaded_before(self.db, digests)
        out = []
        for p, (load_id, at) in before.items():
            result = {"file": p.name, "status": "already loaded", "load_id": load_id, "loaded_at": at,
                      "note": f"同样内容的文件已于 {at} 导入（导入编号 {load_id}），未重复导入。(already loaded)"}
            _move(p, self.inbox / "done", result)
            log.info("watch: %s already loaded (load %s): moved to done", p.name, load_id)
            out.append(result)
        todo = [p for p in files if p not in before]
        if not todo:
            return out
        try:
            results = load_files(todo, self.db, labels=[p.name for p in todo], mapping=self.mapping)
        except EtlError as exc:  # busy or not writable: nothing changed, try again on the next look
            log.warning("watch: the warehouse did not take %d file(s), will retry: %s", len(todo), exc)
            return out
        by_name = {r.file: r for r in results}
        finished = dt.datetime.now().isoformat(timespec="seconds")
        for p in todo:
            r = by_name.get(p.name)
            result = {"status": "failed" if (r is None or r.error) else "loaded", "finished": finished,
                      **(r.to_dict() if r is not None else {"file": p.name, "error": "未处理 (not processed)"})}
            target = _move(p, self.inbox / ("failed" if result["status"] == "failed" else "done"), result)
            log.info("watch: %s %s → %s", p.name, result["status"], target.parent.name)
            out.append(result)
        return out

    def run(self, interval: float = 5.0, once: bool = False) -> int:
        """Look every `interval` seconds until stopped (SIGTERM/SIGINT: after the batch in hand)."""
        def stop(signum, frame):
            log.info("watch: stopping on signal %s", signum)
            self.stopping = True

        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, stop)
        log.info("watching %s for files to load into %s", self.inbox, self.db)
        self.stable()
        while not self.stopping:
            time.sleep(self.settle if once else interval)
            ready = self.stable()
            self.process(ready)
            if once and not (set(candidates(self.inbox)) - set(ready)):
                break
        return 0
