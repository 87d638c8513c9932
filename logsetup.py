"""Logging for every process of PB-KPI Lens: the dashboard, the command lines, the warm-up.

Library code only ever calls `logging.getLogger(__name__)`; a process's entry point calls `configure()`
once. Each event is one line — a traceback is folded into the same line — written to stderr and to a
rotating file beside the warehouse (`logs/pbkpi.log`, PBKPI_LOG_FILE), as text or as one JSON object per line
(PBKPI_LOG_FORMAT=json). Several processes write the same file safely (concurrent-log-handler locks it and
rotates it for all of them).

Every line carries the process's component (app, etl, warm, auth …) and whatever `context()` has set
for the work in hand — the load id of a file being loaded, the request id and account of a page run —
so that an operator can follow one load or one visit through the file:

    2026-12-01 19:20:03,412 INFO etl etl.load [load=3f2a9c01] loaded 江北供电所.xlsx …
"""
from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import sys
from pathlib import Path

import settings

_context: contextvars.ContextVar[dict] = contextvars.ContextVar("pbkpi_log_context", default={})
_configured: dict = {}
TEXT_FORMAT = "%(asctime)s %(levelname)s %(component)s %(name)s [%(ctx)s] %(message)s"


@contextlib.contextmanager
def context(**fields):
    """Add fields (load=…, request=…, user=…) to every line logged inside the block, in this thread."""
    token = _context.set({**_context.get(), **{k: str(v) for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


class _ContextFilter(logging.Filter):
    def __init__(self, component: str):
        super().__init__()
        self.component = component

    def filter(self, record: logging.LogRecord) -> bool:
        _mask_personal(record)
        ctx = _context.get()
        record.component = self.component
        record.ctx = " ".join(f"{k}={v}" for k, v in ctx.items()) or "-"
        for k, v in ctx.items():
            setattr(record, f"ctx_{k}", v)
        return True


def _mask_personal(record: logging.LogRecord) -> None:
    """Identity numbers, mobile numbers and e-mail addresses in a message or a traceback are masked before
    the line is written (a database error may quote the cell it could not convert): the log is read by
    operators, who are not to see personal data either."""
    from etl.personal import mask

    if getattr(record, "_pbkpi_masked", False):  # several handlers: once
        return
    record._pbkpi_masked = True
    message = record.getMessage()
    masked = mask(message)
    if masked != message:
        record.msg, record.args = masked, ()
    if record.exc_info or record.exc_text:  # another handler may have formatted the traceback already
        record.exc_text = mask(record.exc_text or logging.Formatter().formatException(record.exc_info))


class OneLineFormatter(logging.Formatter):
    """Text lines, a traceback folded in with ' ⏎ ' so that one event stays one line for grep and tail."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\r", "").replace("\n", " ⏎ ")


def _json_formatter() -> logging.Formatter:
    from pythonjsonlogger.json import JsonFormatter

    return JsonFormatter("%(asctime)s %(levelname)s %(component)s %(name)s %(message)s",
                         rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                         json_ensure_ascii=False)


def _formatter() -> logging.Formatter:
    return _json_formatter() if settings.log_format() == "json" else OneLineFormatter(TEXT_FORMAT)


def configure(component: str, stderr: bool = True) -> Path | None:
    """Set up the root logger for this process (again only if the settings changed); returns the log file
    in use, or None. A log file that cannot be opened (read-only directory) is said once on stderr and
    logging goes on to stderr alone: a dashboard must not fail to start over its log file.

    The dashboard and the warm-up log to stderr and the file. A command line (stderr=False) writes its own
    messages for the person at the terminal and logs to the file only (none with PBKPI_LOG_FILE=off)."""
    level, path = settings.log_level(), settings.log_file()
    key = (component, level, settings.log_format(), str(path), stderr)
    root = logging.getLogger()
    if _configured.get("key") == key:
        return _configured.get("path")
    for handler in _configured.get("handlers", []):
        root.removeHandler(handler)
        handler.close()
    handlers: list[logging.Handler] = []
    if stderr:
        handlers.append(logging.StreamHandler(sys.stderr))
    used = None
    if path is not None:
        try:
            from concurrent_log_handler import ConcurrentRotatingFileHandler

            path.parent.mkdir(parents=True, exist_ok=True)
            handlers.append(ConcurrentRotatingFileHandler(str(path), maxBytes=settings.log_bytes(), backupCount=5,
                                                          encoding="utf-8", use_gzip=False))
            used = path
        except OSError as exc:
            print(f"日志文件无法写入，仅输出到终端 (log file not writable, logging to stderr only): {path}: {exc}",
                  file=sys.stderr)
    if not handlers:  # nothing to write to, by choice: not Python's last-resort handler on stderr either
        handlers.append(logging.NullHandler())
    fmt, filt = _formatter(), _ContextFilter(component)
    for handler in handlers:
        handler.setFormatter(fmt)
        handler.addFilter(filt)
        root.addHandler(handler)
    root.setLevel(level)
    # libraries that talk at INFO about their own internals
    for noisy in ("watchdog", "urllib3", "kaleido", "choreographer", "matplotlib", "PIL", "portalocker"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    _configured.update(key=key, handlers=handlers, path=used)
    logging.getLogger(__name__).debug("logging configured: component=%s file=%s pid=%s", component, used, os.getpid())
    return used


def start_command(component: str, stderr: bool = False) -> bool:
    """The first step of a command line's main(): False, after printing every unusable setting, when one is
    unusable (the command then exits with status 2 before doing anything); else logging is configured."""
    problems = settings.check()
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return False
    configure(component, stderr=stderr)
    return True
