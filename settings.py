"""The one configuration surface: environment variables, read here and nowhere else.

PBKPI_DB          path of the DuckDB warehouse (default data/warehouse.duckdb)
PBKPI_DEMO_DIR    where `etl demo` writes its synthetic source files (default data/demo)
PBKPI_MAX_UPLOAD_MB   largest file the ETL and the upload page accept (default 50)
PBKPI_MAX_ROWS    most data rows one file may hold (default 2,000,000)
PBKPI_MAX_COLS    most columns one file may hold (default 200)
PBKPI_DUCKDB_MEMORY  memory DuckDB may use in loaders and analyses before spilling to disk (default 3GB)
PBKPI_BACKGROUND_ROWS  a statistic not yet kept for a filtered slice of at least this many panel rows is
                  computed in a background thread while the page answers at once (default 50,000; application/context.py)
PBKPI_WARM        1 (default): after an upload, warm the dashboard caches in a background process (application/warm.py)
PBKPI_LOCK_TIMEOUT seconds a loader waits for another one before giving up with its name (default 900)
PBKPI_FUTURE_DAYS how far past today a date in a file may lie (default 31): later ones are refused as typos
PBKPI_AUTH        sign-in: local (default: accounts in PBKPI_AUTH_DB) | header (the account named by a trusted
                  intranet gateway in PBKPI_AUTH_HEADER, only from PBKPI_TRUSTED_PROXIES) | none (no sign-in,
                  every page and the whole company for anyone who reaches the server: development and tests only)
PBKPI_AUTH_HEADER  the request header the gateway puts the signed-in account in (default X-Remote-User)
PBKPI_TRUSTED_PROXIES  comma-separated addresses the header is accepted from (default 127.0.0.1,::1)
PBKPI_AUTH_DB     the accounts file, outside the warehouse (default data/auth.sqlite)
PBKPI_AUDIT       the audit log, outside the warehouse (default data/audit.jsonl)
PBKPI_AUDIT_DAYS  how long `python -m auth prune` keeps audit entries (default 365)
PBKPI_SESSION_MINUTES  idle minutes before a signed-in session ends (default 30)
PBKPI_WATERMARK_TEXT   the watermark's fixed words after the viewer's name (default 内部资料)
PBKPI_WATERMARK_OPACITY  how visible the watermark is, 0.05–0.5 (default 0.12)
"""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent
DATA_DIR = ROOT / "data"


def db_path() -> Path:
    return Path(os.environ.get("PBKPI_DB") or DATA_DIR / "warehouse.duckdb")


def demo_dir() -> Path:
    return Path(os.environ.get("PBKPI_DEMO_DIR") or DATA_DIR / "demo")


def max_upload_bytes() -> int:
    return int(float(os.environ.get("PBKPI_MAX_UPLOAD_MB", "50")) * 1024 * 1024)


def max_rows() -> int:
    return int(os.environ.get("PBKPI_MAX_ROWS", "2000000"))


def max_cols() -> int:
    return int(os.environ.get("PBKPI_MAX_COLS", "200"))


def duckdb_memory() -> str:
    return os.environ.get("PBKPI_DUCKDB_MEMORY", "3GB")


def background_rows() -> int:
    return int(os.environ.get("PBKPI_BACKGROUND_ROWS", "50000"))


def warm_after_load() -> bool:
    return os.environ.get("PBKPI_WARM", "1") != "0"


def future_days() -> int:
    return int(os.environ.get("PBKPI_FUTURE_DAYS", "31"))


def lock_timeout() -> float:
    return float(os.environ.get("PBKPI_LOCK_TIMEOUT", "900"))


def auth_mode() -> str:
    mode = os.environ.get("PBKPI_AUTH", "local")
    if mode not in ("local", "header", "none"):
        raise ValueError(f"PBKPI_AUTH must be local, header or none, got {mode!r}")
    return mode


def auth_db() -> Path:
    return Path(os.environ.get("PBKPI_AUTH_DB") or DATA_DIR / "auth.sqlite")


def audit_path() -> Path:
    return Path(os.environ.get("PBKPI_AUDIT") or DATA_DIR / "audit.jsonl")


def audit_days() -> int:
    return int(os.environ.get("PBKPI_AUDIT_DAYS", "365"))


def session_minutes() -> float:
    return float(os.environ.get("PBKPI_SESSION_MINUTES", "30"))


def watermark_text() -> str:
    return os.environ.get("PBKPI_WATERMARK_TEXT", "内部资料")


def watermark_opacity() -> float:
    return min(0.5, max(0.05, float(os.environ.get("PBKPI_WATERMARK_OPACITY", "0.12"))))


def auth_header() -> str:
    return os.environ.get("PBKPI_AUTH_HEADER", "X-Remote-User")


def trusted_proxies() -> set[str]:
    return {a.strip() for a in os.environ.get("PBKPI_TRUSTED_PROXIES", "127.0.0.1,::1").split(",") if a.strip()}
