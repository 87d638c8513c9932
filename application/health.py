"""Health and readiness: what an operator (`python -m etl health`) or a proxy (GET /health on
PBKPI_HEALTH_PORT, served beside the dashboard by ui/serve.py) asks before sending people to a server.

Ready means: every setting is usable and the warehouse file opens as a database of a schema this program
reads. The rest is information: the warehouse's version and last publish, the last load, the warm-up's
state (application/warm.py) and the log file in use."""
from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import duckdb

import settings
from etl import engine

log = logging.getLogger(__name__)


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts).isoformat(timespec="seconds")


def warehouse_facts(db: Path) -> dict:
    """Whether the warehouse is there and readable, with its schema, version and last load."""
    from etl import migrations

    out: dict = {"path": str(db), "exists": db.exists(), "readable": False}
    if not out["exists"]:
        out["problem"] = f"仓库文件不存在：{db}。(no warehouse)"
        return out
    info = db.stat()
    out.update(bytes=info.st_size, published=_iso(info.st_mtime), version=f"{info.st_mtime_ns}:{info.st_size}")
    try:
        con = engine.connect(db, read_only=True)
        try:
            schema = migrations.stored_version(con)
            last = con.execute("SELECT max(loaded_at), count(*) FROM etl_loads").fetchall()[0] if schema else (None, 0)
        finally:
            con.close()
    except duckdb.Error as exc:
        log.error("health: warehouse %s unreadable: %s", db, exc)
        out["problem"] = f"仓库文件无法读取：{exc}"
        return out
    out.update(readable=True, schema_version=schema, supported_schema=migrations.SCHEMA_VERSION,
               last_load=None if last[0] is None else last[0].isoformat(timespec="seconds"), loads=last[1])
    if schema is not None and schema > migrations.SCHEMA_VERSION:
        out["readable"] = False
        out["problem"] = f"仓库结构版本 {schema} 比本程序支持的 {migrations.SCHEMA_VERSION} 新，请升级程序。(schema too new)"
    return out


_LAKES: dict = {}  # one Warehouse per lake URL: a proxy polls every few seconds, attaching is not free


def lake_facts(target) -> dict:
    """Whether the lake answers and has a published snapshot readers can attach, with that snapshot."""
    from application.warehouse import Warehouse

    out: dict = {"path": str(target), "exists": False, "readable": False}
    try:
        wh = _LAKES.get(str(target))
        if wh is None:
            wh = _LAKES.setdefault(str(target), Warehouse(str(target)))
        snap = wh.source.published()
        out["exists"] = snap is not None
        if snap is None:
            out["problem"] = "湖仓还没有已发布的快照，请运行 `python -m etl publish`。(nothing published)"
            return out
        loads = wh.query("SELECT max(loaded_at) AS last, count(*) AS n FROM etl_loads")
    except Exception as exc:  # the catalog or the object store is unreachable: not ready, and why
        log.error("health: lake %s unreadable: %s", target, exc)
        out["problem"] = f"湖仓无法读取：{exc}"
        return out
    last = loads["last"].iloc[0]
    out.update(readable=True, version=wh.version(), snapshot=snap,
               last_load=None if last is None or last != last else last.isoformat(timespec="seconds"),
               loads=int(loads["n"].iloc[0]))
    return out


def check(db: Path | None = None) -> dict:
    """{"ready", "checked_at", "settings", "warehouse", "warm", "log_file"}."""
    from application import warm

    problems = settings.check()
    doc: dict = {"checked_at": dt.datetime.now().isoformat(timespec="seconds"),
                 "settings": {"ok": not problems, "problems": problems}}
    if problems and db is None:
        doc.update(ready=False, warehouse=None, warm=None, log_file=None)
        return doc
    from etl import lake

    target = db if db is not None else settings.warehouse()
    if lake.is_lake(target):
        db = str(target)
        doc["warehouse"] = lake_facts(db)
    else:
        db = Path(target)
        doc["warehouse"] = warehouse_facts(db)
    doc["warm"] = warm.read_state(db)
    doc["log_file"] = None if problems else (str(settings.log_file()) if settings.log_file() else None)
    doc["ready"] = not problems and doc["warehouse"]["readable"]
    return doc


def describe(doc: dict) -> str:
    """The health document as lines for a terminal."""
    lines = [f"{'就绪 READY' if doc['ready'] else '未就绪 NOT READY'}  ({doc['checked_at']})"]
    for p in doc["settings"]["problems"]:
        lines.append(f"  ✗ {p}")
    w = doc.get("warehouse")
    if w:
        if w.get("problem"):
            lines.append(f"  ✗ {w['problem']}")
        else:
            if "snapshot" in w:
                lines.append(f"  ✓ 湖仓 lake {w['path']}  已发布快照 published snapshot {w['snapshot']}  "
                             f"最近导入 last load {w['last_load'] or '—'}  ({w['loads']} loads)")
            else:
                lines.append(f"  ✓ 仓库 warehouse {w['path']}  结构 schema {w['schema_version']}  "
                             f"发布于 published {w['published']}  最近导入 last load {w['last_load'] or '—'}  ({w['loads']} loads)")
    state = doc.get("warm")
    if state:
        why = f"：{state['reason']}" if state.get("reason") else ""
        lines.append(f"  · 预热 warm-up: {state['state']} (started {state.get('started')}, finished {state.get('finished') or '—'}){why}")
    else:
        lines.append("  · 预热 warm-up: 尚未运行 never ran")
    lines.append(f"  · 日志 log file: {doc.get('log_file') or '仅终端 stderr only'}")
    return "\n".join(lines)
