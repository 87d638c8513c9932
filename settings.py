"""The one configuration surface: environment variables, declared here, read here and nowhere else.

Every setting is one `Setting` in SETTINGS: its name, kind, default and what it does. `check()` parses them
all and returns every problem at once (the app, the CLIs and the warm-up call it before anything else, and
`python -m etl config` lists them); the accessors below (`settings.max_rows()` …) parse on each call, so a
test may change the environment. Kinds accept what people write:

- bool: 1/0, true/false, yes/no, on/off, 是/否 (any case)
- count, number: thousand separators (2,000,000 · 2_000_000 · 2 000 000 · 2，000，000)
- size: a number of the setting's unit, or with its own unit: 50, 50MB, 1.5 GB, 512KiB
- memory: a size DuckDB understands (3GB, 500MB)
- choice: one of the listed words; list: comma-separated
The README's table of settings is generated from SETTINGS (python -m etl docs --write)."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent
DATA_DIR = ROOT / "data"


class SettingError(ValueError):
    """A setting's value cannot be used; the message names the variable, the value and what it accepts."""


@dataclass(frozen=True)
class Setting:
    name: str
    kind: str  # path | warehouse | count | number | size | memory | bool | choice | text | list
    default: str  # as it would be written in the environment ("" for a path: see `fallback`)
    doc: str
    choices: tuple[str, ...] = ()
    lo: float | None = None
    hi: float | None = None
    unit: str = ""  # size: the unit of a bare number (MB)


SETTINGS: tuple[Setting, ...] = (
    Setting("PBKPI_DB", "warehouse", "data/warehouse.duckdb",
            "the warehouse: a DuckDB file path, or a DuckLake URL `ducklake+postgres://user@host:port/db?data_path=…` "
            "(etl/lake.py; README, \"Beyond one machine\")"),
    Setting("PBKPI_LAKE_SECRETS", "path", "",
            "TOML file with the lake's catalog password ([postgres] password) and object-store keys ([s3] key_id, "
            "secret), readable by its owner only; PBKPI_LAKE_PG_PASSWORD, PBKPI_LAKE_S3_KEY_ID and "
            "PBKPI_LAKE_S3_SECRET override it"),
    Setting("PBKPI_DEMO_DIR", "path", "data/demo", "where `etl demo` writes its synthetic source files"),
    Setting("PBKPI_PROFILE", "choice", "power", "the industry profile a new warehouse is created with (an existing "
            "warehouse keeps the one it records)", choices=("power", "oilfield", "plant")),
    Setting("PBKPI_MAPPINGS", "path", "data/mappings",
            "column-mapping profiles for files with their own headers (outside the warehouse; etl/mappings.py)"),
    Setting("PBKPI_TARGETS", "path", "data/targets.json",
            "the company's own KPI targets, set by an administrator in the app (outside the warehouse; over "
            "the active industry profile's targets)"),
    Setting("PBKPI_NOTES", "path", "data/notes.sqlite",
            "批注: notes people write against a unit and month, outside the warehouse (application/notes.py)"),
    Setting("PBKPI_PUSH", "path", "data/push.toml",
            "channels `python -m briefing push` sends the quarterly briefing to (企业微信/钉钉 robots, e-mail)"),
    Setting("PBKPI_MAX_UPLOAD_MB", "size", "50", "largest file the ETL and the upload page accept", lo=0.001, unit="MB"),
    Setting("PBKPI_MAX_ROWS", "count", "2000000", "most data rows one file may hold", lo=1),
    Setting("PBKPI_MAX_COLS", "count", "200", "most columns one file may hold", lo=2),
    Setting("PBKPI_DUCKDB_MEMORY", "memory", "3GB",
            "memory DuckDB may use in loaders and analyses before spilling to disk"),
    Setting("PBKPI_BACKGROUND_ROWS", "count", "50000",
            "a statistic not yet kept for a filtered slice of at least this many panel rows is computed in a "
            "background thread while the page answers at once (application/context.py)", lo=0),
    Setting("PBKPI_SCREEN_SECONDS", "number", "20",
            "seconds each panel stays on the meeting-room screen (/screen) before the next; the screen also "
            "checks this often for a newly published warehouse", lo=2, hi=3600, unit="s"),
    Setting("PBKPI_UNIT_LIST_MAX", "count", "300",
            "a list of business units longer than this (the sidebar's, the unit profile's) is found by a search "
            "box above it, which lists the first 50 matches: at group scale every run sent each list of 11,842 "
            "names (0.45 MB)", lo=2),
    Setting("PBKPI_WARM", "bool", "1",
            "after an upload, warm the dashboard caches in a background process (application/warm.py)"),
    Setting("PBKPI_LOCK_TIMEOUT", "number", "900",
            "seconds a loader waits for another one before giving up with its name", lo=0),
    Setting("PBKPI_FUTURE_DAYS", "count", "31",
            "how far past today a date in a file may lie: later ones are refused as typos", lo=0),
    Setting("PBKPI_AUTH", "choice", "local",
            "sign-in: local (accounts in PBKPI_AUTH_DB) | header (the account named by a trusted intranet gateway "
            "in PBKPI_AUTH_HEADER, only from PBKPI_TRUSTED_PROXIES) | oidc (company single sign-on through "
            "OpenID Connect, st.login, configured in .streamlit/secrets.toml) | none (no sign-in: development and "
            "tests only)", choices=("local", "header", "oidc", "none")),
    Setting("PBKPI_OIDC_PROVIDER", "text", "", "PBKPI_AUTH=oidc: the provider's name in secrets.toml ([auth.NAME]; "
            "empty: the single provider of [auth])"),
    Setting("PBKPI_OIDC_CLAIM", "text", "email", "PBKPI_AUTH=oidc: the identity-token claim that names the account "
            "in PBKPI_AUTH_DB (email, preferred_username, an employee number claim …)"),
    Setting("PBKPI_AUTH_HEADER", "text", "X-Remote-User", "the request header the gateway puts the signed-in account in"),
    Setting("PBKPI_TRUSTED_PROXIES", "list", "127.0.0.1,::1", "addresses the sign-in header is accepted from"),
    Setting("PBKPI_AUTH_DB", "path", "data/auth.sqlite", "the accounts file, outside the warehouse"),
    Setting("PBKPI_AUDIT", "path", "data/audit.jsonl", "the audit log, outside the warehouse"),
    Setting("PBKPI_AUDIT_DAYS", "count", "365", "how long `python -m auth prune` keeps audit entries", lo=1),
    Setting("PBKPI_SESSION_MINUTES", "number", "30", "idle minutes before a signed-in session ends", lo=1),
    Setting("PBKPI_WATERMARK_TEXT", "text", "内部资料", "the watermark's fixed words after the viewer's name"),
    Setting("PBKPI_WATERMARK_OPACITY", "number", "0.12", "how visible the watermark is", lo=0.05, hi=0.5),
    Setting("PBKPI_LOG_LEVEL", "choice", "INFO", "the least severe log lines written",
            choices=("DEBUG", "INFO", "WARNING", "ERROR")),
    Setting("PBKPI_LOG_FORMAT", "choice", "text", "log lines as text, or one JSON object per line",
            choices=("text", "json")),
    Setting("PBKPI_LOG_FILE", "path", "",
            "the rotating log file (default: logs/pbkpi.log beside the warehouse; `off`: stderr only)"),
    Setting("PBKPI_HEALTH_PORT", "count", "8599",
            "port of the health check beside the dashboard (GET /health: 200 ready, 503 not; 0 turns it off)",
            lo=0, hi=65535),
    Setting("PBKPI_HEALTH_ADDRESS", "text", "127.0.0.1", "address the health check listens on"),
    Setting("PBKPI_LOG_MB", "size", "20", "size at which the log file is rotated (five old files are kept)",
            lo=1, unit="MB"),
)
BY_NAME = {s.name: s for s in SETTINGS}

TRUE, FALSE = {"1", "true", "yes", "on", "y", "是"}, {"0", "false", "no", "off", "n", "否"}
UNITS = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "kib": 1024, "m": 1e6, "mb": 1e6, "mib": 1024 ** 2,
         "g": 1e9, "gb": 1e9, "gib": 1024 ** 3, "t": 1e12, "tb": 1e12, "tib": 1024 ** 4}
# The upload limit has always been binary megabytes (PBKPI_MAX_UPLOAD_MB=50 is 50 × 1,048,576 bytes).
BINARY = {"kb": 1024, "mb": 1024 ** 2, "gb": 1024 ** 3, "tb": 1024 ** 4}
SEPARATORS = re.compile(r"(?<=\d)[,_，\s'](?=\d{3}(\D|$))")


def raw(name: str) -> tuple[str, bool]:
    """(the text of a setting, whether it came from the environment)"""
    text = os.environ.get(name)
    if text is None or text.strip() == "":
        return BY_NAME[name].default, False
    return text.strip(), True


def _number(text: str) -> float:
    return float(SEPARATORS.sub("", text))


def parse(setting: Setting, text: str):
    """The value of `text` for `setting`, or SettingError saying what the setting accepts."""
    k = setting.kind

    def bad(expected_zh: str, expected_en: str) -> SettingError:
        return SettingError(f"环境变量 {setting.name} 的值「{text}」无效：{expected_zh}。"
                            f"({setting.name}={text!r}: {expected_en})")

    if k == "bool":
        word = text.lower()
        if word in TRUE:
            return True
        if word in FALSE:
            return False
        raise bad("应为 1/0、true/false、yes/no 或 on/off", "expected a boolean: 1/0, true/false, yes/no, on/off")
    if k in ("count", "number", "size"):
        m = re.fullmatch(r"([-+]?[\d.,_，\s']+)\s*([A-Za-z]*)", text)
        try:
            if not m or (m.group(2) and k != "size"):
                raise ValueError(text)
            value = _number(m.group(1).strip())
            if k == "size":
                unit = (m.group(2) or setting.unit).lower()
                if unit not in UNITS:
                    raise ValueError(text)
                value = value * BINARY.get(unit, UNITS[unit])
                # bounds are written in the setting's own unit
                scale = BINARY.get(setting.unit.lower(), 1)
                lo, hi = (None if b is None else b * scale for b in (setting.lo, setting.hi))
            else:
                lo, hi = setting.lo, setting.hi
        except ValueError:
            what = {"count": ("应为整数（可用千位分隔符，如 2,000,000）", "expected a whole number, e.g. 2,000,000"),
                    "number": ("应为数字", "expected a number"),
                    "size": (f"应为大小，如 50、50MB、1.5GB（不写单位时按 {setting.unit}）",
                             f"expected a size such as 50, 50MB, 1.5GB (bare numbers are {setting.unit})")}[k]
            raise bad(*what) from None
        if k == "count" and value != int(value):
            raise bad("应为整数", "expected a whole number")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            lo_s = "" if setting.lo is None else f"≥ {setting.lo:g}"
            hi_s = "" if setting.hi is None else f"≤ {setting.hi:g}"
            rng = "，".join(s for s in (lo_s, hi_s) if s)
            raise bad(f"应 {rng}{setting.unit and ' ' + setting.unit}", f"expected {rng} {setting.unit}".strip())
        return int(value) if k in ("count", "size") else value
    if k == "memory":
        m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", text, re.IGNORECASE)
        if not m:
            raise bad("应为内存大小，如 3GB 或 500MB", "expected a memory size such as 3GB or 500MB")
        return f"{m.group(1)}{m.group(2).upper().replace('IB', 'iB')}"
    if k == "choice":
        for c in setting.choices:
            if text.lower() == c.lower():
                return c
        raise bad(f"应为 {' / '.join(setting.choices)} 之一", f"expected one of {', '.join(setting.choices)}")
    if k == "list":
        return tuple(a.strip() for a in text.split(",") if a.strip())
    if k == "path":
        return Path(text)
    if k == "warehouse":  # a lake URL is parsed (and checked) by etl/lake.py; anything else is a file path
        from etl import lake

        if lake.is_lake(text):
            try:
                return lake.parse(text)
            except lake.LakeError as exc:
                raise SettingError(str(exc)) from None  # it names PBKPI_DB; the text (a password?) is not echoed
        return Path(text)
    return text


def value(name: str):
    setting = BY_NAME[name]
    text, from_env = raw(name)
    if setting.kind in ("path", "warehouse") and not from_env:  # defaults lie in the project; a value given stays as written
        return ROOT / text if text else None
    return parse(setting, text)


def check() -> list[str]:
    """Every setting parsed; the messages of those that cannot be used (empty: all is well)."""
    problems = []
    for s in SETTINGS:
        try:
            value(s.name)
        except SettingError as exc:
            problems.append(str(exc))
    return problems


def require_valid() -> None:
    """Raise SettingError listing every unusable setting (called first by the app and the command lines)."""
    problems = check()
    if problems:
        raise SettingError("\n".join(problems))


def listing() -> list[dict]:
    """name, value in effect, whether it came from the environment, and what it does: `python -m etl config`."""
    rows = []
    for s in SETTINGS:
        text, from_env = raw(s.name)
        try:
            shown, problem = value(s.name), None
        except SettingError as exc:
            shown, problem = text, str(exc)
            if s.kind == "warehouse":  # a password wrongly written into a lake URL is not shown again
                from etl import lake

                shown = lake.redact(text)
        if s.name == "PBKPI_LOG_FILE" and not from_env:
            shown = log_file()
        if isinstance(shown, tuple):
            shown = ",".join(shown)
        elif s.kind == "size" and problem is None:
            shown = f"{text} (= {shown:,} bytes)"
        rows.append({"name": s.name, "value": "" if shown is None else str(shown), "source": "env" if from_env else "default",
                     "problem": problem, "doc": s.doc})
    return rows


def warehouse():
    """The warehouse PBKPI_DB names: a file Path, or an etl.lake.LakeURL."""
    return value("PBKPI_DB")


def db_path() -> Path:
    """The warehouse file, for what works on a file only (loads, the demo, the Data page): a lake URL in
    PBKPI_DB is refused with what to do instead."""
    target = warehouse()
    if not isinstance(target, Path):
        raise SettingError(f"PBKPI_DB 指向湖仓 {target}：此命令只用于单文件仓库。在文件仓库中导入后，用 "
                           f"`python -m etl migrate --to <湖仓地址>` 迁入湖仓。(this command needs a warehouse file)")
    return target


def lake_secrets() -> Path | None:
    return value("PBKPI_LAKE_SECRETS")


def demo_dir() -> Path:
    return value("PBKPI_DEMO_DIR")


def mappings_dir() -> Path:
    return value("PBKPI_MAPPINGS")


def targets_path() -> Path:
    return value("PBKPI_TARGETS")


def notes_path() -> Path:
    return value("PBKPI_NOTES")


def push_path() -> Path:
    return value("PBKPI_PUSH")


def max_upload_bytes() -> int:
    return value("PBKPI_MAX_UPLOAD_MB")


def max_rows() -> int:
    return value("PBKPI_MAX_ROWS")


def max_cols() -> int:
    return value("PBKPI_MAX_COLS")


def duckdb_memory() -> str:
    return value("PBKPI_DUCKDB_MEMORY")


def background_rows() -> int:
    return value("PBKPI_BACKGROUND_ROWS")


def screen_seconds() -> float:
    return float(value("PBKPI_SCREEN_SECONDS"))


def unit_list_max() -> int:
    return value("PBKPI_UNIT_LIST_MAX")


def warm_after_load() -> bool:
    return value("PBKPI_WARM")


def future_days() -> int:
    return value("PBKPI_FUTURE_DAYS")


def lock_timeout() -> float:
    return value("PBKPI_LOCK_TIMEOUT")


def auth_mode() -> str:
    return value("PBKPI_AUTH")


def auth_db() -> Path:
    return value("PBKPI_AUTH_DB")


def audit_path() -> Path:
    return value("PBKPI_AUDIT")


def audit_days() -> int:
    return value("PBKPI_AUDIT_DAYS")


def session_minutes() -> float:
    return value("PBKPI_SESSION_MINUTES")


def watermark_text() -> str:
    return value("PBKPI_WATERMARK_TEXT")


def watermark_opacity() -> float:
    return value("PBKPI_WATERMARK_OPACITY")


def oidc_provider() -> str | None:
    return value("PBKPI_OIDC_PROVIDER") or None


def oidc_claim() -> str:
    return value("PBKPI_OIDC_CLAIM")


def auth_header() -> str:
    return value("PBKPI_AUTH_HEADER")


def trusted_proxies() -> set[str]:
    return set(value("PBKPI_TRUSTED_PROXIES"))


def log_level() -> str:
    return value("PBKPI_LOG_LEVEL")


def log_format() -> str:
    return value("PBKPI_LOG_FORMAT")


def log_file() -> Path | None:
    """The log file, or None when PBKPI_LOG_FILE is `off` (stderr only)."""
    text, from_env = raw("PBKPI_LOG_FILE")
    if from_env and text.lower() in ("off", "none", "-", "0", "false", "no"):
        return None
    if from_env:
        return Path(text)
    try:
        target = warehouse()
    except SettingError:  # reported by check(); meanwhile the log goes where a lake's would
        target = None
    return (target.parent if isinstance(target, Path) else DATA_DIR) / "logs" / "pbkpi.log"


def health_port() -> int:
    return value("PBKPI_HEALTH_PORT")


def health_address() -> str:
    return value("PBKPI_HEALTH_ADDRESS")


def log_bytes() -> int:
    return value("PBKPI_LOG_MB")
