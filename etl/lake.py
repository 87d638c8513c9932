"""The lake backend: a DuckLake warehouse whose catalog is a PostgreSQL database and whose data are Parquet
files in S3-compatible object storage (or a shared directory), for a group that outgrows one file.

`PBKPI_DB` names it with a URL instead of a file path:

    ducklake+postgres://USER@HOST:PORT/DBNAME?data_path=s3://BUCKET/PREFIX/&s3_endpoint=HOST:PORT&s3_use_ssl=false

Passwords never appear in the URL (it is shown in logs, `etl config` and process lists): the catalog's
password and the object store's keys come from the environment (PBKPI_LAKE_PG_PASSWORD,
PBKPI_LAKE_S3_KEY_ID, PBKPI_LAKE_S3_SECRET) or from a TOML secrets file readable by its owner only
(PBKPI_LAKE_SECRETS, sections [postgres] password and [s3] key_id, secret).

Readers never see "latest": a publisher records a *published snapshot* in the catalog database
(table pbkpi_published, written under a PostgreSQL advisory lock) and every reader attaches the lake at
that snapshot, so nobody sees tables mid-load or panels mid-refresh. The published snapshot id is the
warehouse version that every kept result is keyed by."""
from __future__ import annotations

import hashlib
import logging
import os
import re
import stat
import time
import tomllib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import duckdb

from etl import engine
from etl.errors import EtlError

log = logging.getLogger(__name__)

SCHEME = "ducklake+postgres"
ALIAS = "lake"
PUBLISH_LOCK = 0x50424B50  # "PBKP": the advisory lock key of the one publisher
CREATE_LOCK = 0x50424B43  # "PBKC": held while a new lake's catalog tables are created
CATALOG_TABLES = ("pbkpi_published", "pbkpi_jobs", "pbkpi_workers")
CATALOG_DDL = """CREATE TABLE IF NOT EXISTS pbkpi_published (
    snapshot_id BIGINT NOT NULL, published_at TIMESTAMPTZ NOT NULL DEFAULT now(), note TEXT NOT NULL DEFAULT '');
-- the upload page's load jobs and the provinces' workers that run them (etl/jobs.py)
CREATE TABLE IF NOT EXISTS pbkpi_jobs (
    id TEXT PRIMARY KEY, province TEXT NOT NULL, account TEXT NOT NULL, scope JSONB, files JSONB NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued', phase TEXT, progress JSONB NOT NULL DEFAULT '[]', results JSONB,
    snapshot BIGINT, error TEXT, attempts INTEGER NOT NULL DEFAULT 0, worker TEXT,
    created TIMESTAMPTZ NOT NULL DEFAULT now(), started TIMESTAMPTZ, finished TIMESTAMPTZ);
CREATE INDEX IF NOT EXISTS pbkpi_jobs_queue ON pbkpi_jobs (province, state, created);
CREATE TABLE IF NOT EXISTS pbkpi_workers (
    province TEXT PRIMARY KEY, worker TEXT NOT NULL, started TIMESTAMPTZ NOT NULL, beat TIMESTAMPTZ NOT NULL, busy TEXT)"""
_OPTIONS = {"data_path", "results_path", "s3_endpoint", "s3_use_ssl", "s3_region", "s3_url_style"}


class LakeError(EtlError):
    """The lake URL, its credentials or the lake itself cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class LakeURL:
    """A parsed lake URL (never holding a secret)."""

    text: str
    user: str
    host: str
    port: int
    dbname: str
    data_path: str
    s3_endpoint: str | None = None
    s3_use_ssl: bool = True
    s3_region: str = "us-east-1"
    s3_url_style: str = "path"
    results_path: str = ""  # where every server keeps computed statistics (never under data_path)

    def __str__(self) -> str:
        return self.text

    @property
    def results(self) -> str:
        """The kept statistics' location: results_path, or beside data_path (…/warehouse-results/). Never
        inside data_path: DuckLake's maintenance deletes files there that no snapshot records."""
        return self.results_path or self.data_path.rstrip("/") + "-results/"

    @property
    def uploads(self) -> str:
        """Uploaded files waiting for a province's worker: beside the results, …/<results>-uploads/."""
        return self.results.rstrip("/") + "-uploads/"

    @property
    def key(self) -> str:
        """A short name of this lake (catalog and data path) for local directories and cache keys."""
        ident = f"{self.user}@{self.host}:{self.port}/{self.dbname}|{self.data_path}"
        return hashlib.sha256(ident.encode()).hexdigest()[:12]

    @property
    def on_s3(self) -> bool:
        return self.data_path.startswith("s3://")

    def libpq(self, password: str | None = None) -> str:
        """The catalog's libpq connection string (with the password only when one is given)."""
        parts = {"host": self.host, "port": str(self.port), "dbname": self.dbname, "user": self.user}
        if password:
            parts["password"] = password
        return " ".join(f"{k}={_libpq_quote(v)}" for k, v in parts.items())


def _libpq_quote(v: str) -> str:
    return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"


def redact(text: str) -> str:
    """A lake URL as it may be shown: a password written into it (which parse refuses) replaced by ***."""
    return re.sub(r"(://[^/@:]*):[^/@]*@", r"\1:***@", text)


def is_lake(target) -> bool:
    return isinstance(target, LakeURL) or (isinstance(target, str) and target.strip().lower().startswith(SCHEME + "://"))


def parse(text: str) -> LakeURL:
    """Read a lake URL; a LakeError says in Chinese and English what is wrong with it."""
    def bad(zh: str, en: str) -> LakeError:
        return LakeError(f"PBKPI_DB 的湖仓地址有误：{zh}。格式：{SCHEME}://用户@主机:端口/数据库?data_path=s3://桶/前缀/"
                         f"&s3_endpoint=主机:端口 (lake URL: {en})")

    text = text.strip()
    try:
        u = urlsplit(text)
        port = u.port or 5432
    except ValueError as exc:
        raise bad("无法解析", str(exc)) from None
    if u.scheme.lower() != SCHEME:
        raise bad(f"应以 {SCHEME}:// 开头", f"expected the scheme {SCHEME}://")
    if u.password is not None:
        raise bad("地址中不能写密码（会出现在日志和进程列表中），请放在 PBKPI_LAKE_PG_PASSWORD 或 PBKPI_LAKE_SECRETS 文件中",
                  "no password in the URL: use PBKPI_LAKE_PG_PASSWORD or the PBKPI_LAKE_SECRETS file")
    if not u.username or not u.hostname:
        raise bad("缺少用户名或主机", "user and host are required")
    dbname = unquote(u.path.lstrip("/"))
    if not dbname or "/" in dbname:
        raise bad("缺少目录数据库名（/数据库）", "the catalog database name is required (/DBNAME)")
    query = parse_qs(u.query, keep_blank_values=True)
    unknown = set(query) - _OPTIONS
    if unknown:
        raise bad(f"不认识的参数 {', '.join(sorted(unknown))}", f"unknown option(s) {', '.join(sorted(unknown))}")
    opt = {k: v[-1] for k, v in query.items()}
    data_path = opt.get("data_path", "")
    if not data_path:
        raise bad("缺少 data_path（数据文件所在的 s3://桶/前缀/ 或共享目录）", "data_path is required")
    if not data_path.endswith("/"):
        data_path += "/"
    if not data_path.startswith("s3://") and not Path(data_path).is_absolute():
        raise bad("data_path 应为 s3://… 或绝对路径", "data_path must be s3://… or an absolute path")
    ssl = opt.get("s3_use_ssl", "true").lower()
    if ssl not in ("true", "false", "1", "0"):
        raise bad("s3_use_ssl 只能是 true 或 false", "s3_use_ssl must be true or false")
    style = opt.get("s3_url_style", "path")
    if style not in ("path", "vhost"):
        raise bad("s3_url_style 只能是 path 或 vhost", "s3_url_style must be path or vhost")
    results = opt.get("results_path", "")
    root = data_path == "/" or (data_path.startswith("s3://") and "/" not in data_path[5:].rstrip("/"))
    if root and not results:  # the default, beside data_path, would have nowhere to go but inside it
        raise bad("data_path 是整个存储桶或根目录时，须另给 results_path（看板缓存的统计结果放在 data_path 之外）",
                  "data_path is a whole bucket or the root: give results_path outside it")
    if results:
        results = results.rstrip("/") + "/"
        if not (results.startswith("s3://") or Path(results).is_absolute()) or results.startswith(data_path):
            raise bad("results_path 应为 s3://… 或绝对路径，且不能在 data_path 之内",
                      "results_path must be s3://… or an absolute path outside data_path")
    return LakeURL(text, unquote(u.username), u.hostname, port, dbname, data_path, opt.get("s3_endpoint") or None,
                   ssl in ("true", "1"), opt.get("s3_region") or "us-east-1", style, results)


@dataclass(frozen=True)
class Credentials:
    pg_password: str | None = None
    s3_key_id: str | None = None
    s3_secret: str | None = None

    def __repr__(self) -> str:  # never print a secret
        return "Credentials(" + ", ".join(f"{k}={'***' if v else None}" for k, v in vars(self).items()) + ")"


def credentials() -> Credentials:
    """The catalog password and object-store keys: environment first, then the secrets file (which must
    not be readable by group or others)."""
    import settings

    found: dict[str, str | None] = {"pg_password": None, "s3_key_id": None, "s3_secret": None}
    path = settings.lake_secrets()
    if path is not None:
        path = Path(path)
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            raise LakeError(f"湖仓密钥文件不存在：{path}（PBKPI_LAKE_SECRETS）。(lake secrets file missing)") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise LakeError(f"湖仓密钥文件 {path} 对其他用户可读，请执行 chmod 600 {path}。(secrets file must be private)")
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise LakeError(f"湖仓密钥文件 {path} 不是有效的 TOML：{exc}。(secrets file unreadable)") from None
        found["pg_password"] = (doc.get("postgres") or {}).get("password")
        found["s3_key_id"] = (doc.get("s3") or {}).get("key_id")
        found["s3_secret"] = (doc.get("s3") or {}).get("secret")
    for key, env in (("pg_password", "PBKPI_LAKE_PG_PASSWORD"), ("s3_key_id", "PBKPI_LAKE_S3_KEY_ID"),
                     ("s3_secret", "PBKPI_LAKE_S3_SECRET")):
        if os.environ.get(env):
            found[key] = os.environ[env]
    return Credentials(**found)


# ---------------------------------------------------------------------------------------- connections

def connect(url: LakeURL, snapshot: int | None = None, read_only: bool = False,
            creds: Credentials | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the lake attached as `lake` and made the default database: unqualified
    names are the lake's tables. `snapshot` pins the lake at a published snapshot (read-only)."""
    import settings

    creds = creds or credentials()
    if snapshot is None and not read_only:
        _ensure_created(url, creds)
    con = engine.connect(":memory:", config={"memory_limit": settings.duckdb_memory()})
    try:
        opts = []
        if snapshot is not None:
            opts.append(f"SNAPSHOT_VERSION {int(snapshot)}")
        elif read_only:
            opts.append("READ_ONLY")
        _attach(con, url, creds, opts)
        con.execute(f"USE {ALIAS}")
    except duckdb.Error as exc:
        con.close()
        raise LakeError(f"无法连接湖仓 {url}：{_scrub(str(exc), creds)}。请检查目录数据库与对象存储是否可达、账号是否有权限。"
                        f"(cannot attach the lake)") from None
    except BaseException:
        con.close()
        raise
    return con


def _attach(con, url: LakeURL, creds: Credentials, options: list[str]) -> None:
    """Load the extensions, make the credentials temporary secrets and ATTACH the lake as `lake`."""
    engine.load(con, "postgres_scanner", "ducklake", *(("httpfs",) if url.on_s3 else ()))
    if url.on_s3:
        if not (creds.s3_key_id and creds.s3_secret):
            raise LakeError("缺少对象存储的访问密钥：请设置 PBKPI_LAKE_S3_KEY_ID 与 PBKPI_LAKE_S3_SECRET，"
                            "或在 PBKPI_LAKE_SECRETS 文件的 [s3] 中写 key_id 与 secret。(object-store keys missing)")
        opts = {"KEY_ID": creds.s3_key_id, "SECRET": creds.s3_secret, "REGION": url.s3_region,
                "URL_STYLE": url.s3_url_style, "USE_SSL": "true" if url.s3_use_ssl else "false"}
        if url.s3_endpoint:
            opts["ENDPOINT"] = url.s3_endpoint
        con.execute("CREATE TEMPORARY SECRET pbkpi_s3 (TYPE s3, "
                    + ", ".join(f"{k} {_sql_lit(v)}" for k, v in opts.items()) + ")")
    pg = {"HOST": url.host, "PORT": str(url.port), "DATABASE": url.dbname, "USER": url.user}
    if creds.pg_password:
        pg["PASSWORD"] = creds.pg_password
    # the password travels in a temporary secret, not in the ATTACH string (which errors may echo)
    con.execute("CREATE TEMPORARY SECRET pbkpi_pg (TYPE postgres, "
                + ", ".join(f"{k} {_sql_lit(v)}" for k, v in pg.items()) + ")")
    opts = [f"DATA_PATH {_sql_lit(url.data_path)}", "META_SECRET 'pbkpi_pg'", *options]
    con.execute(f"ATTACH 'ducklake:postgres:' AS {ALIAS} ({', '.join(opts)})")


def results_shelf(url: LakeURL, creds: Credentials | None = None):
    """Where the dashboard servers of this lake keep computed statistics (application/store.py)."""
    return _shelf(url, url.results, creds)


def _shelf(url: LakeURL, where: str, creds: Credentials | None):
    from application.store import DirShelf, S3Shelf

    if not where.startswith("s3://"):
        return DirShelf(Path(where))
    creds = creds or credentials()
    bucket, _, prefix = where[5:].partition("/")
    endpoint = url.s3_endpoint or f"s3.{url.s3_region}.amazonaws.com"
    return S3Shelf(endpoint, creds.s3_key_id or "", creds.s3_secret or "", bucket, prefix, url.s3_use_ssl, url.s3_region)


def uploads_shelf(url: LakeURL, creds: Credentials | None = None):
    """Where the upload page leaves a job's files for the province's worker (etl/jobs.py): beside the kept
    statistics, never inside data_path (DuckLake's cleanup deletes files no snapshot records) nor inside
    the results location (pruned to the current snapshot's)."""
    return _shelf(url, url.uploads, creds)


def _ensure_created(url: LakeURL, creds: Credentials) -> None:
    """DuckLake creates its catalog tables when a first ATTACH finds none, and two processes attaching a
    new lake at once both try (one fails on PostgreSQL's unique type names). The first attach is therefore
    made by one process at a time, under an advisory lock of its own."""
    cat = catalog(url, creds)
    try:
        if cat.execute("SELECT to_regclass('ducklake_metadata') IS NOT NULL").fetchone()[0]:
            return
        cat.execute("SELECT pg_advisory_lock(%s)", [CREATE_LOCK])
        try:
            if not cat.execute("SELECT to_regclass('ducklake_metadata') IS NOT NULL").fetchone()[0]:
                first = engine.connect()
                try:
                    _attach(first, url, creds, [])
                except duckdb.Error as exc:
                    raise LakeError(f"无法创建湖仓 {url}：{_scrub(str(exc), creds)}。(cannot create the lake)") from None
                finally:
                    first.close()
                log.info("created lake %s", url)
        finally:
            cat.execute("SELECT pg_advisory_unlock(%s)", [CREATE_LOCK])
    finally:
        cat.close()


def _sql_lit(v: str) -> str:
    return "'" + str(v).replace("'", "''") + "'"


def _scrub(message: str, creds: Credentials) -> str:
    for secret in (creds.pg_password, creds.s3_secret):
        if secret:
            message = message.replace(secret, "***")
    return message


def catalog(url: LakeURL, creds: Credentials | None = None, autocommit: bool = True):
    """A psycopg connection to the catalog database (the publication table and the advisory lock)."""
    import psycopg

    creds = creds or credentials()
    try:
        con = psycopg.connect(url.libpq(creds.pg_password), autocommit=autocommit, connect_timeout=10)
    except psycopg.Error as exc:
        raise LakeError(f"无法连接湖仓目录数据库 {url.host}:{url.port}/{url.dbname}：{_scrub(str(exc), creds)}"
                        f"(cannot reach the catalog)") from None
    have = con.execute("SELECT count(to_regclass(t)) FROM unnest(%s::text[]) AS t", [list(CATALOG_TABLES)]).fetchone()[0]
    if have < len(CATALOG_TABLES):
        # PostgreSQL's CREATE TABLE IF NOT EXISTS races with itself: two first connections create them in turn
        con.execute("SELECT pg_advisory_lock(%s)", [CREATE_LOCK])
        try:
            con.execute(CATALOG_DDL)
        finally:
            con.execute("SELECT pg_advisory_unlock(%s)", [CREATE_LOCK])
    return con


def published(cat) -> int | None:
    """The snapshot readers are to see (None before the first publish)."""
    row = cat.execute("SELECT max(snapshot_id) FROM pbkpi_published").fetchone()
    return None if row is None or row[0] is None else int(row[0])


def current_snapshot(con: duckdb.DuckDBPyConnection) -> int:
    """The lake's latest committed snapshot, as this connection (or its open transaction) sees it."""
    return int(con.execute(f"SELECT id FROM {ALIAS}.current_snapshot()").fetchone()[0])


def committed_snapshot(con: duckdb.DuckDBPyConnection) -> int:
    """The snapshot this connection's last commit made (another writer may have committed after it)."""
    return int(con.execute(f"FROM ducklake_last_committed_snapshot('{ALIAS}')").fetchone()[0])


class _Overtaken(duckdb.TransactionException):
    """The publisher's commit landed on top of another writer's: its panels do not describe that snapshot."""


def _advisory(cat, shared: bool, timeout: float, busy: str) -> None:
    """Wait up to `timeout` seconds for the publish lock, shared (pushes) or exclusive (the publisher).
    PostgreSQL queues a request behind a waiting one it conflicts with, so a waiting publisher is not
    starved by pushes that keep coming, and pushes wait while a publish computes."""
    import psycopg

    cat.execute(f"SET lock_timeout = '{max(1, int(timeout * 1000))}ms'")
    try:
        cat.execute(f"SELECT pg_advisory_lock{'_shared' if shared else ''}(%s)", [PUBLISH_LOCK])
    except psycopg.errors.LockNotAvailable:
        raise LakeError(busy) from None
    finally:
        cat.execute("SET lock_timeout = 0")


@contextmanager
def publisher(url: LakeURL, creds: Credentials | None = None, timeout: float = 600.0):
    """The one publisher: holds the PostgreSQL advisory lock exclusively (session-level: it is released when
    this process ends, however it ends) and yields a function that records a snapshot as published. While
    it holds it no province commits a push (pushes hold it shared), so the panels it computes describe the
    snapshot it commits."""
    cat = catalog(url, creds)
    try:
        _advisory(cat, False, timeout, f"另一个发布或推送任务占用湖仓发布锁已超过 {timeout:.0f} 秒，本次未发布。(publisher busy)")

        def publish(snapshot: int, note: str = "") -> None:
            last = published(cat)
            if last is not None and snapshot < last:
                raise LakeError(f"快照 {snapshot} 早于已发布的 {last}，不能倒退。(would publish an older snapshot)")
            cat.execute("INSERT INTO pbkpi_published (snapshot_id, note) VALUES (%s, %s)", [snapshot, note])
            log.info("published lake %s snapshot %d %s", url, snapshot, note)

        try:
            yield publish
        finally:
            cat.execute("SELECT pg_advisory_unlock(%s)", [PUBLISH_LOCK])
    finally:
        cat.close()


@contextmanager
def pushing(url: LakeURL, creds: Credentials | None = None, timeout: float = 600.0):
    """A province's push holds the publish lock shared: provinces push side by side, never during a publish."""
    cat = catalog(url, creds)
    try:
        _advisory(cat, True, timeout, f"湖仓正在发布，等待 {timeout:.0f} 秒后仍未结束，本次未推送。(a publish holds the lake)")
        try:
            yield
        finally:
            cat.execute("SELECT pg_advisory_unlock_shared(%s)", [PUBLISH_LOCK])
    finally:
        cat.close()


# ---------------------------------------------------------------------------------------- provinces
#
# A lake holds one schema per province (or any org subtree that loads its own files), with that province's
# facts as its own tables; the `main` schema holds the group: views that put the provinces' tables side by
# side (PROVINCE_TABLES), the group's meta and defined metrics, and the aggregates and panels the publisher
# computes from them. A province's loader writes only its own schema, so two provinces never write the
# same table and never conflict (DuckLake aborts one of two writers that delete from one table). Loads
# themselves stay what they are for a file: validated, upserted on natural keys, with their rejects, into
# the province's own DuckDB file (`etl load --db`); `push` then replaces the province's tables in the lake
# with that file's, in one commit.

PROVINCE_TABLES = ("dim_units", "fct_activities", "fct_membership", "fct_initiatives", "fct_assessments",
                   "fct_outages", "fct_kpi_monthly", "fct_kpi_custom", "etl_loads", "etl_rejects", "meta",
                   "catalogue_metric")
GROUP_ONLY = ("meta", "catalogue_metric")  # merged into group tables by the publisher, not put side by side
PROVINCE_NAME = re.compile(r"[a-z][a-z0-9_]{0,30}")
RESERVED = {"main", "information_schema", "pg_catalog", "temp", "lake", "memory", "system"}


def check_province(name: str) -> str:
    if not PROVINCE_NAME.fullmatch(name or "") or name in RESERVED:
        raise LakeError(f"省份（导入方）代码「{name}」无效：应为小写字母开头的字母、数字或下划线，最长 31 个字符，"
                        f"且不能是 {', '.join(sorted(RESERVED))}。(invalid province code)")
    return name


def _tables(con, database: str, schema: str) -> list[str]:
    return [t for (t,) in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = ? AND table_schema = ? "
        "AND table_type = 'BASE TABLE' ORDER BY table_name", [database, schema]).fetchall()]


def provinces(con) -> list[str]:
    """The provinces that have pushed into the lake, in name order."""
    return [s for (s,) in con.execute(
        "SELECT schema_name FROM information_schema.schemata WHERE catalog_name = ? ORDER BY schema_name",
        [ALIAS]).fetchall() if s not in RESERVED]


def _retrying(what: str, attempt_once, retries: int = 8):
    """Run a lake transaction again when DuckLake reports a conflict it could not resolve itself."""
    for attempt in range(retries):
        try:
            return attempt_once()
        except duckdb.Error as exc:
            if not _is_conflict(exc):
                raise
            if attempt == retries - 1:
                raise LakeError(f"{what}与其他写入冲突，重试 {retries} 次后仍未成功，湖仓未改变，请稍后重试。"
                                f"(write conflict: {exc})") from None
            log.warning("%s conflicted (attempt %d): %s; retrying", what, attempt + 1, exc)
            time.sleep(0.2 * (attempt + 1))


def _is_conflict(exc: Exception) -> bool:
    """A commit DuckLake refused because another transaction changed the same thing (worth retrying)."""
    text = str(exc).lower()
    return isinstance(exc, duckdb.TransactionException) or "conflict" in text or "another transaction" in text


def push(db: Path, url: LakeURL, province: str, creds: Credentials | None = None) -> int:
    """Replace a province's tables in the lake with those of its warehouse file, in one commit (retried on a
    conflict). Returns the lake snapshot of that commit. Readers see it only once it is published."""
    check_province(province)
    db = Path(db)
    if not db.is_file():
        raise LakeError(f"仓库文件不存在：{db}。(no warehouse file to push)")
    con = connect(url, creds=creds)
    try:
        con.execute(f"ATTACH {_sql_lit(str(db))} AS src (READ_ONLY)")
        tables = [t for t in PROVINCE_TABLES if t in set(_tables(con, "src", "main"))]
        if "dim_units" not in tables:
            raise LakeError(f"{db} 不是 PB-KPI Lens 仓库（没有组织机构表）。(not a warehouse)")

        def once() -> int:
            con.execute("BEGIN")
            try:
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {ALIAS}.{province}")
                have = set(_tables(con, ALIAS, province))
                for t in tables:
                    if t in have:
                        con.execute(f'DELETE FROM {ALIAS}.{province}."{t}"')
                        con.execute(f'INSERT INTO {ALIAS}.{province}."{t}" BY NAME SELECT * FROM src.main."{t}"')
                    else:
                        con.execute(f'CREATE TABLE {ALIAS}.{province}."{t}" AS SELECT * FROM src.main."{t}"')
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            return committed_snapshot(con)

        with pushing(url, creds):
            snapshot = _retrying(f"省份 {province} 的推送", once)
        log.info("pushed %s into lake %s as province %s: snapshot %d", db, url, province, snapshot)
        return snapshot
    finally:
        con.close()


def _group_sql(provs: list[str], table: str) -> str:
    if table != "dim_units":
        return " UNION ALL BY NAME ".join(f'SELECT * FROM {ALIAS}.{p}."{table}"' for p in provs)
    # an org node several provinces' files list (the group's root) is one node
    tagged = " UNION ALL BY NAME ".join(f"SELECT *, {i} AS _p FROM {ALIAS}.{p}.dim_units" for i, p in enumerate(provs))
    return f"SELECT * EXCLUDE (_p) FROM ({tagged}) QUALIFY row_number() OVER (PARTITION BY unit_id ORDER BY _p) = 1"


def publish_lake(url: LakeURL, creds: Credentials | None = None, note: str = "") -> int:
    """The publisher: under the advisory lock, put the provinces side by side (group views), merge their
    meta and defined metrics, rebuild the aggregates and panels from every province's facts, commit, and
    record that snapshot as published. Returns it."""
    from etl import warehouse

    with publisher(url, creds) as publish:
        con = connect(url, creds=creds)
        try:
            provs = provinces(con)
            if not provs:
                raise LakeError("湖仓中还没有任何省份推送的数据，无可发布。(nothing pushed yet)")
            have = {p: set(_tables(con, ALIAS, p)) for p in provs}
            profiles = {v for (v,) in con.execute(" UNION ALL ".join(
                f"SELECT value FROM {ALIAS}.{p}.meta WHERE key = 'profile'" for p in provs if "meta" in have[p])).fetchall()}
            if len(profiles) > 1:
                raise LakeError(f"各省仓库的行业配置不一致（{', '.join(sorted(profiles))}），不能合并发布。(profiles differ)")

            def once() -> int:
                con.execute("BEGIN")
                try:
                    start = current_snapshot(con)  # what this transaction reads
                    for t in PROVINCE_TABLES:
                        if t in GROUP_ONLY:
                            continue
                        holding = [p for p in provs if t in have[p]]
                        if holding:
                            con.execute(f'CREATE OR REPLACE VIEW {ALIAS}.main."{t}" AS {_group_sql(holding, t)}')
                    metas = [p for p in provs if "meta" in have[p]]
                    con.execute(f"""CREATE OR REPLACE TABLE {ALIAS}.main.meta AS
                        SELECT key, CASE WHEN key = 'synthetic_demo'
                                         THEN CASE WHEN bool_and(value = 'true') THEN 'true' ELSE 'false' END
                                         ELSE arg_min(value, p) END AS value
                        FROM ({' UNION ALL '.join(f"SELECT key, value, '{p}' AS p FROM {ALIAS}.{p}.meta" for p in metas)})
                        WHERE key <> 'panel_state' GROUP BY key""")
                    defined = [p for p in provs if "catalogue_metric" in have[p]]
                    if defined:
                        con.execute(f"""CREATE OR REPLACE TABLE {ALIAS}.main.catalogue_metric AS
                            SELECT * EXCLUDE (p) FROM ({' UNION ALL BY NAME '.join(
                                f"SELECT *, '{p}' AS p FROM {ALIAS}.{p}.catalogue_metric" for p in defined)})
                            QUALIFY row_number() OVER (PARTITION BY id ORDER BY p) = 1""")
                    warehouse.activate_catalogue(con)
                    con.execute(warehouse.sql_file("views.sql"))
                    warehouse.refresh_panels(con, from_facts=True)
                    con.execute("COMMIT")
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
                made = committed_snapshot(con)
                if made != start + 1:
                    # a province pushed while the panels were computed: DuckLake merged both commits, so the
                    # snapshot holds facts the panels were not computed from. Publish it not; compute again.
                    raise _Overtaken(f"snapshot {made} follows {start} and another writer's commit")
                return made

            snapshot = _retrying("发布", once)
        finally:
            con.close()
        publish(snapshot, note or f"provinces: {', '.join(provs)}")
    return snapshot


def migrate(db: Path, url: LakeURL, province: str = "company", creds: Credentials | None = None) -> dict:
    """Move a warehouse file into an empty lake as one province, publish the group computed from it, and
    verify: the province's tables equal the file's row for row, and the published panels equal the file's.
    Returns {"snapshot": published id, "tables": {name: rows}}. A lake that already holds data is refused."""
    db = Path(db)
    if not db.is_file():
        raise LakeError(f"仓库文件不存在：{db}。(no warehouse file to migrate)")
    con = connect(url, creds=creds)
    try:
        if provinces(con) or _tables(con, ALIAS, "main"):
            raise LakeError(f"湖仓 {url} 中已有数据表，迁移只写入空湖仓。(the lake is not empty)")
    finally:
        con.close()
    push(db, url, province, creds)
    snapshot = publish_lake(url, creds, note=f"migrated from {db.name}")
    con = connect(url, snapshot=snapshot, creds=creds)
    try:
        con.execute(f"ATTACH {_sql_lit(str(db))} AS src (READ_ONLY)")
        tables = [t for t in PROVINCE_TABLES if t in set(_tables(con, "src", "main"))]
        counts = verify_copy(con, tables, f"{ALIAS}.{province}")
        for panel in ("panel_month", "panel_quarter"):
            counts[panel] = verify_panel(con, panel)
    finally:
        con.close()
    return {"snapshot": snapshot, "tables": counts}


def verify_copy(con, tables: list[str], into: str) -> dict[str, int]:
    """Every table of the attached file `src` equals its copy in `into`, row for row (multisets, in DuckDB)."""
    counts = {}
    for t in tables:
        a, b = f'src.main."{t}"', f'{into}."{t}"'
        n_a, n_b, diff = con.execute(
            f"SELECT (SELECT count(*) FROM {a}), (SELECT count(*) FROM {b}), "
            f"(SELECT count(*) FROM ((FROM {a} EXCEPT ALL FROM {b}) UNION ALL (FROM {b} EXCEPT ALL FROM {a})))").fetchone()
        if n_a != n_b or diff:
            raise LakeError(f"迁移校验失败：表 {t} 源 {n_a} 行、湖仓 {n_b} 行、不同 {diff} 行。(copy differs)")
        counts[t] = int(n_a)
    return counts


def verify_panel(con, panel: str, rtol: float = 1e-9) -> int:
    """The lake's panel (computed by the publisher) equals the file's: the same rows and keys, text equal,
    numbers equal to `rtol` (sums may add up in another order)."""
    import numpy as np

    order = "ORDER BY business_unit_id, period_start"
    a = con.execute(f"SELECT * FROM src.main.{panel} {order}").df()
    b = con.execute(f"SELECT * FROM {ALIAS}.main.{panel} {order}").df()
    if list(a.columns) != list(b.columns) or len(a) != len(b):
        raise LakeError(f"迁移校验失败：{panel} 的列或行数不同（{len(a)} / {len(b)} 行）。(panel differs)")
    for c in a.columns:
        x, y = a[c], b[c]
        if x.dtype.kind in "fiu" and y.dtype.kind in "fiu":
            ok = np.allclose(x.to_numpy(float), y.to_numpy(float), rtol=rtol, atol=1e-12, equal_nan=True)
        else:
            ok = x.astype(object).where(x.notna(), None).tolist() == y.astype(object).where(y.notna(), None).tolist()
        if not ok:
            raise LakeError(f"迁移校验失败：{panel}.{c} 与源仓库不一致。(panel column differs)")
    return len(a)


def maintain(url: LakeURL, creds: Credentials | None = None, keep_days: float = 7.0,
             orphans_older_than_s: float = 3600.0) -> dict[str, int]:
    """Tidy a lake, holding the publisher lock (never beside a publish): expire snapshots older than
    `keep_days` that come before the last two published ones (what readers may still be on), delete the
    data files no remaining snapshot reads, and delete files no commit ever recorded (a killed push's)
    once they are older than `orphans_older_than_s` (a push in flight writes its files before it commits).
    Returns how many snapshots and files went."""
    with publisher(url, creds):
        cat = catalog(url, creds)
        try:
            kept = [r[0] for r in cat.execute(
                "SELECT DISTINCT snapshot_id FROM pbkpi_published ORDER BY 1 DESC LIMIT 2").fetchall()]
        finally:
            cat.close()
        con = connect(url, creds=creds)
        try:
            floor = min(kept) if kept else None
            old = [i for (i,) in con.execute(
                f"SELECT snapshot_id FROM {ALIAS}.snapshots() WHERE snapshot_time < now() - to_microseconds(?)"
                f" ORDER BY 1", [int(keep_days * 86400e6)]).fetchall() if floor is not None and i < floor]
            if old:
                con.execute(f"CALL ducklake_expire_snapshots('{ALIAS}', versions => ?)", [old])
            gone = con.execute(f"CALL ducklake_cleanup_old_files('{ALIAS}', cleanup_all => true)").fetchall()
            orphans = con.execute(f"CALL ducklake_delete_orphaned_files('{ALIAS}', older_than => now() - to_microseconds(?))",
                                  [int(orphans_older_than_s * 1e6)]).fetchall()
        finally:
            con.close()
    log.info("maintained lake %s: %d snapshots expired, %d old files and %d orphaned files deleted",
             url, len(old), len(gone), len(orphans))
    return {"snapshots": len(old), "files": len(gone), "orphans": len(orphans)}
