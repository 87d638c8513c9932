"""The one read-only way into the warehouse: pages, views, the briefing, the CLIs and the warm-up all open
it here, and the SQL they read with lives here and nowhere else.

`Warehouse(path)` is created once per process (the dashboard makes one for every session); `snapshot()`
pins its current version (file size and modification time, so a load by another process shows on the
next page run without a restart). A `Snapshot` answers every read the application needs; frames it
returns are shared between callers and sessions (at group scale a panel is ~0.5 GB): treat them as
read-only. Reads are kept per version in a small bounded memory, so a new version is read afresh."""
from __future__ import annotations

import hashlib
import inspect
import json
import logging
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Callable

import duckdb
import pandas as pd

from analytics.errors import AnalysisError
from analytics.panel import Panel, PanelFilter, filter_mask, from_warehouse_frame
from analytics.periods import GRAINS
from application.selection import Selection, vocabulary
import catalogue
from etl import engine, personal
from etl.errors import is_unreadable, unreadable_message
from etl.warehouse import catalogue_of
import settings

log = logging.getLogger(__name__)
RETRIES = 5
CHUNK_VECTORS = 64  # 64 x 2,048 rows per piece


class WarehouseUnreadable(Exception):
    """The warehouse file exists but is not a DuckDB database (damaged, or another file in its place)."""


def fetch_frame(result) -> pd.DataFrame:
    """A query result as a DataFrame, converted piece by piece: the same frame as `.df()`, but DuckDB's
    and pandas' copies of the whole result never coexist (a group-scale panel: 1.5 GB peak instead of 2.2,
    and faster)."""
    first = result.fetch_df_chunk(CHUNK_VECTORS)
    parts = [first]
    while len(parts[-1]):
        parts.append(result.fetch_df_chunk(CHUNK_VECTORS))
    parts = [p for p in parts if len(p)] or [first]
    return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)


def open_read_only(db_path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the warehouse, or an AnalysisError saying the file cannot be read."""
    try:
        return engine.connect(db_path, read_only=True)
    except duckdb.IOException as exc:
        if is_unreadable(exc):
            raise AnalysisError(unreadable_message(db_path, exc)) from None
        raise


def read_panel(db_path, grain: str = "month", columns: list[str] | None = None) -> Panel:
    """One panel straight from a warehouse file, for the command lines and benchmarks (no memory kept)."""
    if grain not in GRAINS:
        raise AnalysisError(f"时间粒度只能是 month 或 quarter，收到 {grain!r}。")
    db_path = Path(db_path)
    if not db_path.exists():
        raise AnalysisError(f"仓库文件不存在：{db_path}。请先运行 `python -m etl demo` 或导入数据。(no warehouse)")
    con = open_read_only(db_path)
    try:
        catalogue.activate(*catalogue_of(con))
        cols = "*" if not columns else ", ".join(
            dict.fromkeys(["business_unit_id", "business_unit_name", "unit_type", "region", "period_start", "period", *columns]))
        df = fetch_frame(con.execute(f"SELECT {cols} FROM panel_{grain} ORDER BY business_unit_id, period_start"))
    except duckdb.CatalogException as exc:
        raise AnalysisError(f"仓库中没有 panel_{grain} 表，请先导入数据。(panel missing)") from exc
    finally:
        con.close()
    if df.empty:
        raise AnalysisError("仓库中还没有数据，请先导入组织机构、党建和经营指标文件。(warehouse is empty)")
    return from_warehouse_frame(df, grain)


def open_snapshot(db_path) -> Snapshot:
    """The current snapshot of a warehouse file for a command line: an AnalysisError (one clear line) when
    the file is missing or cannot be read."""
    db_path = Path(db_path)
    if not db_path.exists():
        raise AnalysisError(f"仓库文件不存在：{db_path}。请先运行 `python -m etl demo` 或导入数据。(no warehouse)")
    open_read_only(db_path).close()
    return Warehouse(db_path).snapshot()


class _Memory:
    """Reads kept per (name, arguments), at most `limit` per name, least recently used dropped first; one
    computation per key at a time (two sessions asking for the same panel read it once)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._entries: dict[str, OrderedDict] = {}
        self._computing: dict[tuple, threading.Lock] = {}

    def get(self, name: str, key: tuple, limit: int, compute: Callable):
        with self._lock:
            entries = self._entries.setdefault(name, OrderedDict())
            if key in entries:
                entries.move_to_end(key)
                return entries[key]
            gate = self._computing.setdefault((name, key), threading.Lock())
        with gate:
            with self._lock:
                if key in entries:
                    return entries[key]
            value = compute()
            with self._lock:
                entries[key] = value
                while len(entries) > limit:
                    entries.popitem(last=False)
                self._computing.pop((name, key), None)
            return value

    def clear(self, names: tuple[str, ...] = ()) -> None:
        with self._lock:
            for name in names or list(self._entries):
                self._entries.pop(name, None)


def _kept(limit: int):
    """A Snapshot method whose result is kept per (version, arguments)."""

    def wrap(method):
        signature = inspect.signature(method)

        def call(self, *args, **kwargs):
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()  # count(sel) and count(sel, with_unit=False) are one entry
            key = (self.version, self.scope, *list(bound.arguments.values())[1:])
            return self.warehouse.memory.get(method.__name__, key, limit, lambda: method(*bound.args, **bound.kwargs))

        call.__name__, call.__doc__ = method.__name__, method.__doc__
        return call

    return wrap


class _FileSource:
    """A DuckDB warehouse file: its version is its size and modification time; each read opens it."""

    def __init__(self, path):
        self.path = Path(path).resolve()  # one file, one version string, however it was named

    def results(self) -> Path:
        return Path(str(self.path) + ".cache")

    def __str__(self) -> str:
        return str(self.path)

    def exists(self) -> bool:
        return self.path.exists()

    def exists_at(self, version: str | None) -> bool:
        return self.path.exists()

    def version(self) -> str:
        parts = []
        for f in (self.path, Path(str(self.path) + ".wal")):
            try:
                s = f.stat()
                parts.append(f"{s.st_mtime_ns}:{s.st_size}")
            except FileNotFoundError:
                parts.append("-")
        return f"{self.path}|{'|'.join(parts)}"

    def read(self, version: str | None, read: Callable):
        """`read(con)` on a read-only connection. A writer holding the file lock briefly makes DuckDB refuse
        the open; retry a few times before giving up."""
        last = None
        for attempt in range(RETRIES):
            try:
                con = engine.connect(self.path, read_only=True)
                try:
                    return read(con)
                finally:
                    con.close()
            except duckdb.IOException as exc:
                if is_unreadable(exc):  # no retry will help: say so
                    raise WarehouseUnreadable(str(exc)) from exc
                last = exc  # lock held by a loader
                time.sleep(0.2 * (attempt + 1))
        raise last


class _LakeSource:
    """A DuckLake warehouse (etl/lake.py): its version is the published snapshot, and every read of a
    version sees the lake at that snapshot, whatever is being loaded or published meanwhile. One DuckDB
    instance is kept attached per snapshot in use (attaching costs a catalog round trip); reads take a
    cursor of it, so sessions read in parallel."""

    KEEP = 2  # the snapshot being read and the one before it (sessions still on it finish their run)
    ALIAS = "lake"

    def __init__(self, url):
        from etl import lake

        self.url = lake.parse(url) if isinstance(url, str) else url
        self.path = settings.DATA_DIR / f"lake-{self.url.key}"  # a local name for it (messages, warm-up state)
        self._lock = threading.Lock()
        self._catalog = None
        self._attached: OrderedDict[int, duckdb.DuckDBPyConnection] = OrderedDict()

    def __str__(self) -> str:
        return str(self.url)

    def published(self) -> int | None:
        """The published snapshot, asked of the catalog database on every call (a loopback round trip)."""
        import psycopg

        from etl import lake

        with self._lock:
            for attempt in range(2):
                try:
                    if self._catalog is None or self._catalog.closed:
                        self._catalog = lake.catalog(self.url)
                    return lake.published(self._catalog)
                except psycopg.OperationalError:
                    log.warning("catalog connection to %s lost; reconnecting", self.url, exc_info=True)
                    self._catalog = None
                    if attempt:
                        raise WarehouseUnreadable(f"lake catalog {self.url} unreachable") from None
                except lake.LakeError as exc:  # the catalog cannot be reached at all: the pages say so
                    raise WarehouseUnreadable(str(exc)) from exc

    def results(self):
        """Every server's statistics in the lake's object store (or shared directory): one shelf."""
        from etl import lake

        return lake.results_shelf(self.url)

    def exists(self) -> bool:
        return self.published() is not None

    def exists_at(self, version: str | None) -> bool:
        """A version naming a published snapshot exists (snapshots are not removed while readers may be
        on them: etl maintain keeps the last two published); without one, ask the catalog."""
        return (version is not None and self.snapshot_of(version) is not None) or self.exists()

    def version(self) -> str:
        """The lake (by its catalog and data path, however the URL was written) at its published snapshot:
        the same on every server, so they share kept results."""
        try:
            snap = self.published()
        except WarehouseUnreadable:
            log.error("lake %s unreachable", self.url, exc_info=True)
            return f"lake:{self.url.key}@unreachable"  # readable() is False for it: every page says so
        return f"lake:{self.url.key}@{'-' if snap is None else snap}"

    @staticmethod
    def snapshot_of(version: str) -> int | None:
        tail = version.rsplit("@", 1)[-1]
        return int(tail) if tail.isdigit() else None

    def _connection(self, snapshot: int) -> duckdb.DuckDBPyConnection:
        from etl import lake

        with self._lock:
            con = self._attached.get(snapshot)
            if con is not None:
                self._attached.move_to_end(snapshot)
                return con
        try:
            con = lake.connect(self.url, snapshot=snapshot)
        except lake.LakeError as exc:  # the object store or the catalog is gone
            raise WarehouseUnreadable(str(exc)) from exc
        with self._lock:
            if snapshot in self._attached:  # another thread attached it meanwhile
                con.close()
                return self._attached[snapshot]
            self._attached[snapshot] = con
            while len(self._attached) > self.KEEP:
                self._attached.popitem(last=False)  # closed when its last cursor is gone
        return con

    def read(self, version: str | None, read: Callable):
        snapshot = self.snapshot_of(version) if version else self.published()
        if snapshot is None:
            raise duckdb.CatalogException("the lake has no published snapshot yet")
        cur = self._connection(snapshot).cursor()
        try:
            cur.execute(f"USE {self.ALIAS}")  # a cursor is a connection of its own: its default database too
            return read(cur)
        finally:
            cur.close()


class Warehouse:
    """A warehouse: a DuckDB file (opened read-only for each query) or a DuckLake (read at its published
    snapshot). Nothing above this class knows which."""

    def __init__(self, target):
        from etl import lake

        self.source = _LakeSource(target) if lake.is_lake(target) else _FileSource(target)
        self.path = self.source.path
        self.memory = _Memory()
        self._seen: str | None = None
        self._catalogue: tuple[str | None, list[dict]] = (None, [])
        self._readable: tuple[str, bool] | None = None  # (version, whether it opens)

    @property
    def is_lake(self) -> bool:
        return isinstance(self.source, _LakeSource)

    @property
    def name(self) -> str:
        """The file path or the lake URL (never a secret), for messages."""
        return str(self.source)

    def results(self):
        """Where the pages' kept results of this warehouse live (application/store.py): a directory beside
        the file, or the lake's shared shelf."""
        return self.source.results()

    def version(self) -> str:
        """Changes whenever the warehouse changes: the file's size and time, or the lake's published snapshot."""
        return self.source.version()

    def snapshot(self, nodes: frozenset[str] | None = None) -> Snapshot:
        """The warehouse as it is now, for the whole company (`nodes` None) or for the business units
        beneath a set of org nodes (a user's data permission). When the warehouse changed since the last
        snapshot, what was kept for the old version is dropped (at group scale each panel is ~0.5 GB)."""
        v = self.version()
        if v != self._seen:
            if self._seen is not None:
                self.memory.clear()
            self._catalogue = self._read_catalogue(v)
            self._seen = v
        catalogue.activate(*self._catalogue)  # every read of this warehouse speaks its industry's catalogue
        whole = Snapshot(self, v)
        return whole if nodes is None else Snapshot(self, v, whole.units_beneath(frozenset(nodes)))

    def query(self, sql: str, params: list | None = None, version: str | None = None) -> pd.DataFrame:
        """Run one read-only query at a version (the current one when None); an empty frame when there is
        no warehouse yet."""
        if not self.source.exists_at(version):
            return pd.DataFrame()
        return self.source.read(version, lambda con: fetch_frame(con.execute(sql, params or [])))

    def _read_catalogue(self, version: str) -> tuple[str | None, list[dict]]:
        """The warehouse's industry profile and defined metrics (etl.warehouse.catalogue_of); an unreadable
        file has none (readable() says so on the page)."""
        try:
            if not self.source.exists_at(version):
                return None, []
            return self.source.read(version, catalogue_of)
        except WarehouseUnreadable:
            return None, []

    def readable(self) -> bool:
        """False when the warehouse file exists but cannot be opened as a database. Asked by every page run:
        the answer is kept for the file's version (opening the file was a tenth of a filter change)."""
        v = self.version()
        kept = self._readable
        if kept is None or kept[0] != v:
            try:
                self.query("SELECT 1", version=v)
                kept = (v, True)
            except WarehouseUnreadable:
                log.error("warehouse %s is unreadable", self.name, exc_info=True)
                kept = (v, False)
            self._readable = kept
        return kept[1]

    def forget(self) -> None:
        """Drop every read kept in memory (what a freshly started process has)."""
        self.memory.clear()


class Snapshot:
    """The warehouse at one version, for the whole company or for a scope — the business units a user may
    see: every read the application makes, every one restricted to the scope here and nowhere else. Equal
    snapshots (same file, version and scope) are interchangeable, so a snapshot is part of a result's key
    and no kept result crosses scopes."""

    def __init__(self, warehouse: Warehouse, version: str, scope: frozenset[str] | None = None, org: str | None = None):
        self.warehouse, self.version, self.scope = warehouse, version, scope
        self.org = org  # the organisation this snapshot was narrowed to (`beneath`), for naming it

    def __repr__(self) -> str:
        return f"Snapshot({self.version!r}, scope={self.scope_tag or 'company'})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Snapshot) and (other.version, other.scope, other.org) == (self.version, self.scope, self.org)

    def __hash__(self) -> int:
        return hash((self.version, self.scope, self.org))

    @property
    def scope_tag(self) -> str:
        """'' for the whole company, else a short hash of the scope's business units — and of the organisation
        it was narrowed to, whose name results (a briefing) carry (part of result keys)."""
        if self.scope is None:
            return ""
        return hashlib.sha256("\n".join([*sorted(self.scope), f"org={self.org or ''}"]).encode()).hexdigest()[:16]

    @property
    def company(self) -> bool:
        return self.scope is None

    def whole(self) -> Snapshot:
        return Snapshot(self.warehouse, self.version)

    def allowed(self, business_unit_id) -> bool:
        return self.scope is None or business_unit_id in self.scope

    def _in_scope(self, df: pd.DataFrame, col: str = "business_unit_id") -> pd.DataFrame:
        if self.scope is None or df.empty:
            return df
        m = df[col].isin(self.scope)
        return df if m.all() else df[m]

    @_kept(64)
    def units_beneath(self, nodes: frozenset[str]) -> frozenset[str]:
        """The business units at or beneath org nodes (party organisations, branches, or business-unit
        ids): the scope a set of nodes grants. An unknown node grants nothing."""
        if not nodes:
            return frozenset()
        marks = ", ".join("?" for _ in nodes)
        try:
            df = self._query(f"""
                WITH RECURSIVE sub(unit_id) AS (
                    SELECT unit_id FROM dim_units WHERE unit_id IN ({marks}) OR business_unit_id IN ({marks})
                    UNION
                    SELECT u.unit_id FROM dim_units u JOIN sub ON u.parent_id = sub.unit_id)
                SELECT DISTINCT u.business_unit_id FROM dim_units u JOIN sub USING (unit_id)
                WHERE u.business_unit_id IS NOT NULL""", [*nodes, *nodes])
        except (duckdb.CatalogException, WarehouseUnreadable):  # no org tree (or no database): no units
            return frozenset()
        return frozenset(df["business_unit_id"]) if not df.empty else frozenset()

    @_kept(8)
    def org_nodes(self) -> pd.DataFrame:
        """The organisations above the branches (party committees, general branches …) holding business units
        this snapshot may see, in tree order (each after its parent): unit_id, unit_name, parent_id, depth,
        units (business units beneath it)."""
        try:
            pairs = self._query("""
                WITH RECURSIVE down(node, unit_id) AS (
                    SELECT unit_id, unit_id FROM dim_units WHERE business_unit_id IS NULL
                    UNION
                    SELECT down.node, u.unit_id FROM dim_units u JOIN down ON u.parent_id = down.unit_id)
                SELECT DISTINCT down.node, u.business_unit_id FROM down JOIN dim_units u USING (unit_id)
                WHERE u.business_unit_id IS NOT NULL""")
            nodes = self._query("SELECT unit_id, unit_name, parent_id FROM dim_units WHERE business_unit_id IS NULL")
        except (duckdb.CatalogException, WarehouseUnreadable):
            return pd.DataFrame(columns=["unit_id", "unit_name", "parent_id", "depth", "units"])
        if self.scope is not None:
            pairs = pairs[pairs["business_unit_id"].isin(self.scope)]
        counts = pairs.groupby("node")["business_unit_id"].nunique()
        nodes = nodes[nodes["unit_id"].isin(counts.index)].assign(units=lambda d: d["unit_id"].map(counts).astype(int))
        children: dict = {}
        for row in nodes.itertuples():
            parent = row.parent_id if row.parent_id in set(nodes["unit_id"]) else None
            children.setdefault(parent, []).append(row)
        ordered = []

        def walk(parent, depth):
            for row in sorted(children.get(parent, []), key=lambda r: r.unit_id):
                ordered.append({"unit_id": row.unit_id, "unit_name": row.unit_name, "parent_id": row.parent_id,
                                "depth": depth, "units": row.units})
                walk(row.unit_id, depth + 1)

        walk(None, 0)
        return pd.DataFrame(ordered, columns=["unit_id", "unit_name", "parent_id", "depth", "units"])

    @_kept(8)
    def _org_parents(self) -> tuple[dict, dict, dict]:
        """(parent of each org unit, its name, the first branch's parent of each business unit)."""
        try:
            df = self._query("SELECT unit_id, unit_name, parent_id, business_unit_id FROM dim_units ORDER BY unit_id")
        except (duckdb.CatalogException, WarehouseUnreadable):
            return {}, {}, {}
        parent = dict(zip(df["unit_id"], df["parent_id"]))
        name = dict(zip(df["unit_id"], df["unit_name"]))
        branches = df[df["business_unit_id"].notna()].drop_duplicates("business_unit_id")
        return parent, name, dict(zip(branches["business_unit_id"], branches["parent_id"]))

    def org_path(self, node: str) -> list[tuple[str, str]]:
        """(id, name) from the top of the org tree down to `node` — an organisation, or a business unit (then
        the organisations above its branches, and the unit itself): the breadcrumbs of a view."""
        parent, name, unit_parent = self._org_parents()
        path, seen = [], set()
        if node in unit_parent:
            path.append((node, self.unit_names().get(node, node)))
            node = unit_parent[node]
        while isinstance(node, str) and node in name and node not in seen:
            seen.add(node)
            path.append((node, name[node]))
            node = parent.get(node)
        return path[::-1]

    def beneath(self, org: str | None) -> Snapshot:
        """This snapshot narrowed to the business units beneath an organisation (within the scope it has)."""
        if not org:
            return self
        units = self.whole().units_beneath(frozenset({org}))
        if self.scope is None and units >= frozenset(self.unit_names()):
            return self  # the top of the tree is the whole company: its kept results (and warm-up) serve
        return Snapshot(self.warehouse, self.version, units if self.scope is None else units & self.scope, org)

    def org_name(self) -> str:
        """The name of the organisation this snapshot was narrowed to; "" when it was not."""
        path = self.org_path(self.org) if self.org else []
        return path[-1][1] if path else ""

    @property
    def path(self) -> Path:
        return self.warehouse.path

    def _query(self, sql: str, params: list | None = None) -> pd.DataFrame:
        return self.warehouse.query(sql, params, self.version)

    # ------------------------------------------------------------------ about the warehouse

    @_kept(8)
    def has_data(self) -> bool:
        try:
            df = self._query("SELECT count(*) AS n FROM panel_month")
        except duckdb.Error:
            return False
        return not df.empty and int(df["n"].iloc[0]) > 0

    @_kept(8)
    def meta(self) -> dict:
        try:
            df = self._query("SELECT key, value FROM meta")
        except duckdb.Error:
            return {}
        return dict(zip(df["key"], df["value"]))

    def is_demo(self) -> bool:
        return self.meta().get("synthetic_demo") == "true"

    def manifest(self) -> dict:
        raw = self.meta().get("demo_manifest")
        return json.loads(raw) if raw else {}

    # ------------------------------------------------------------------ panels and selections

    @_kept(4)
    def panel(self, grain: str) -> pd.DataFrame:
        """The whole monthly or quarterly panel (shared, read-only)."""
        if grain not in GRAINS:
            raise ValueError(grain)
        if not self.has_data():
            return pd.DataFrame()
        if self.scope is not None:  # the company's panel is read (and kept) once; a scope is a filter of it
            return self._in_scope(self.whole().panel(grain))
        return self._query(f"SELECT * FROM panel_{grain} ORDER BY business_unit_id, period_start")

    @_kept(16)
    def periods(self, grain: str, unit_types: tuple = (), regions: tuple = ()) -> list[str]:
        """The periods of a panel (for the units of these types and areas), without loading the panel."""
        if grain not in GRAINS:
            raise ValueError(grain)
        if not self.has_data():
            return []
        where, params = [], []
        if self.scope is not None:
            where.append(f"business_unit_id IN ({', '.join('?' for _ in self.scope) or 'NULL'})")
            params += sorted(self.scope)
        for col, values in (("unit_type", unit_types), ("region", regions)):
            if values:
                where.append(f"{col} IN ({', '.join('?' for _ in values)})")
                params += list(values)
        sql = (f"SELECT DISTINCT period FROM panel_{grain} {'WHERE ' + ' AND '.join(where) if where else ''} "
               "ORDER BY period")
        df = self._query(sql, params)
        return df["period"].tolist() if not df.empty else []

    @_kept(8)
    def business_units(self) -> pd.DataFrame:
        try:
            return self._in_scope(self._query("SELECT * FROM dim_business_units ORDER BY business_unit_id"))
        except duckdb.CatalogException:
            return pd.DataFrame(columns=["business_unit_id", "business_unit_name", "unit_type", "region", "n_branches"])

    def offered(self) -> tuple[list[str], list[str]]:
        """The business types and areas with at least one business unit, in the contract's order: a
        choice with no unit behind it is not offered."""
        bus = self.business_units()
        types, regions = set(bus["unit_type"].dropna()), set(bus["region"].dropna())
        return [x for x in vocabulary("unit_type") if x in types], [x for x in vocabulary("region") if x in regions]

    def unit_names(self) -> dict[str, str]:
        bus = self.business_units()
        return dict(zip(bus["business_unit_id"], bus["business_unit_name"]))

    @_kept(8)
    def rows(self, sel: Selection, with_unit: bool = False) -> pd.DataFrame:
        """The panel rows a selection holds (its unit too, with `with_unit`): shared, read-only."""
        df = self.panel(sel.grain)
        if df.empty:
            return df
        m = filter_mask(df, sel.panel_filter(with_unit), unit_col="business_unit_id")
        return df if m.all() else df[m]

    @_kept(64)
    def count(self, sel: Selection, with_unit: bool = False) -> int:
        """How many panel rows a selection holds, without building the selected frame."""
        df = self.panel(sel.grain)
        return int(filter_mask(df, sel.panel_filter(with_unit), unit_col="business_unit_id").sum()) if len(df) else 0

    @_kept(8)
    def latest(self, sel: Selection) -> pd.DataFrame:
        """The rows of the selection's last period (its unit too): the period is picked first, so that a
        million-row panel is never copied for a dozen thousand rows."""
        df = self.panel(sel.grain)
        if df.empty:
            return df
        last = df[df["period"] == (sel.end or df["period"].max())]
        last = last[filter_mask(last, PanelFilter(sel.unit_types, sel.regions, sel.units()), unit_col="business_unit_id")]
        if last.empty:  # the spine gives every unit every period; this only guards odd warehouses
            rows = self.rows(sel, with_unit=True)
            last = rows[rows["period"] == rows["period"].max()] if len(rows) else rows
        return last

    @_kept(4)
    def analysis_panel(self, sel: Selection, with_unit: bool = False) -> Panel:
        """The selected rows as an analysis Panel (unit, t): shared, read-only."""
        return from_warehouse_frame(self.rows(sel, with_unit), sel.grain)

    def peer_values(self, grain: str, period: str, unit_type: str, metric_ids: tuple[str, ...]) -> dict[str, list[float]]:
        """The values of every business unit of a type in a period, company-wide, as bare sorted numbers:
        where one unit stands among its peers, without naming a peer (a branch secretary's scope is one
        unit, but the comparison is with all units of its type). Missing values are left out."""
        df = self.whole().panel(grain)
        if df.empty:
            return {m: [] for m in metric_ids}
        peers = df[(df["period"] == period) & (df["unit_type"] == unit_type)]
        return {m: sorted(float(x) for x in peers[m].dropna() if x == x and abs(float(x)) != float("inf"))
                for m in metric_ids if m in peers}

    def scoped_panel(self, grain: str, scope: PanelFilter) -> Panel:
        """A whole panel narrowed to types, areas and units (the briefing's scope), every period."""
        df = self.panel(grain)
        if df.empty:
            raise AnalysisError("仓库中还没有数据，请先导入组织机构、党建和经营指标文件。(warehouse is empty)")
        m = filter_mask(df, scope, unit_col="business_unit_id")
        return from_warehouse_frame(df if m.all() else df[m], grain)

    # ------------------------------------------------------------------ one business unit

    @_kept(16)
    def branches(self, business_unit_id: str) -> pd.DataFrame:
        if not self.allowed(business_unit_id):
            business_unit_id = None  # outside the scope: nothing (the query's shape, no rows)
        return self._query("""
            SELECT u.unit_id, u.unit_name, u.org_level, u.founded,
                   (SELECT members FROM fct_membership m WHERE m.unit_id = u.unit_id ORDER BY month DESC LIMIT 1) AS members
            FROM dim_units u WHERE u.business_unit_id = ? ORDER BY u.unit_id""", [business_unit_id])

    @_kept(16)
    def activities_by_type(self, business_unit_id: str) -> pd.DataFrame:
        if not self.allowed(business_unit_id):
            business_unit_id = None
        return self._query("""
            SELECT CAST(date_trunc('month', a.date) AS DATE) AS month, a.activity_type, count(*) AS n
            FROM fct_activities a JOIN dim_units u USING (unit_id)
            WHERE u.business_unit_id = ? GROUP BY ALL ORDER BY month""", [business_unit_id])

    @_kept(8)
    def quarter_reports(self, quarter: str) -> dict[str, pd.DataFrame]:
        """What the scope's branches and business units reported in a quarter, for the 预警 list:
        `branches` (every branch of the scope), `activities` (per branch, type and month), `membership`
        (months with a membership report, per branch), `kpi` (months with a KPI report, per business unit)."""
        from analytics.periods import first_month, last_month

        lo, hi = f"{first_month(quarter)}-01", f"{last_month(quarter)}-01"
        branches = self._in_scope(self._query("""
            SELECT unit_id, unit_name, business_unit_id, business_unit_name, founded FROM dim_units
            WHERE org_level = '党支部' AND business_unit_id IS NOT NULL ORDER BY business_unit_id, unit_id"""))
        activities = self._in_scope(self._query("""
            SELECT a.unit_id, u.business_unit_id, a.activity_type, CAST(date_trunc('month', a.date) AS DATE) AS month,
                   count(*) AS n
            FROM fct_activities a JOIN dim_units u USING (unit_id)
            WHERE a.date >= CAST(? AS DATE) AND a.date < CAST(? AS DATE) + INTERVAL 1 MONTH GROUP BY ALL""", [lo, hi]))
        membership = self._in_scope(self._query("""
            SELECT m.unit_id, u.business_unit_id, count(DISTINCT m.month) AS months
            FROM fct_membership m JOIN dim_units u USING (unit_id)
            WHERE m.month BETWEEN CAST(? AS DATE) AND CAST(? AS DATE) GROUP BY ALL""", [lo, hi]))
        kpi = self._in_scope(self._query("""
            SELECT business_unit_id, count(DISTINCT month) AS months FROM fct_kpi_monthly
            WHERE month BETWEEN CAST(? AS DATE) AND CAST(? AS DATE) GROUP BY ALL""", [lo, hi]))
        return {"branches": branches, "activities": activities, "membership": membership, "kpi": kpi}

    @_kept(16)
    def initiatives(self, business_unit_id: str | None = None) -> pd.DataFrame:
        if business_unit_id is not None and not self.allowed(business_unit_id):
            business_unit_id = "\x00"  # outside the scope: no rows
        where, params = ("WHERE u.business_unit_id = ?", [business_unit_id]) if business_unit_id else ("", [])
        return self._in_scope(self._query(f"""
            SELECT i.initiative_id, i.kind, i.title, i.level, i.start, i."end", i.target_kpi, i.unit_id,
                   u.unit_name, u.business_unit_id
            FROM fct_initiatives i JOIN dim_units u USING (unit_id) {where} ORDER BY i.start""", params))

    @_kept(8)
    def initiatives_in_quarter(self, quarter: str) -> pd.DataFrame:
        """Initiatives that started or finished in a quarter, with which of the two."""
        from analytics.periods import first_month

        start = first_month(quarter) + "-01"
        return self._in_scope(self._query("""
            SELECT i.kind, i.title, i.start, i."end", u.unit_name, u.business_unit_id,
                   CASE WHEN i.start >= CAST(? AS DATE) AND i.start < CAST(? AS DATE) + INTERVAL 3 MONTH THEN 'started'
                        ELSE 'finished' END AS event
            FROM fct_initiatives i JOIN dim_units u USING (unit_id)
            WHERE (i.start >= CAST(? AS DATE) AND i.start < CAST(? AS DATE) + INTERVAL 3 MONTH)
               OR (i."end" >= CAST(? AS DATE) AND i."end" < CAST(? AS DATE) + INTERVAL 3 MONTH)
            ORDER BY i.start""", [start] * 6))

    @_kept(16)
    def assessments(self, business_unit_id: str) -> pd.DataFrame:
        if not self.allowed(business_unit_id):
            business_unit_id = None
        return self._query("""
            SELECT a.unit_id, u.unit_name, a.period, a.period_start, a.total, a.ideology, a.organization,
                   a.institution, a.innovation, a.talent, a.grade
            FROM fct_assessments a JOIN dim_units u USING (unit_id)
            WHERE u.business_unit_id = ? ORDER BY a.period_start""", [business_unit_id])

    @_kept(8)
    def major_event_months(self) -> pd.DataFrame:
        """Months with major-event outages in the scope: annotations on time series (typhoons and the like)."""
        where, params = "", []
        if self.scope is not None:
            where = f"AND business_unit_id IN ({', '.join('?' for _ in self.scope) or 'NULL'})"
            params = sorted(self.scope)
        return self._query(f"""
            SELECT CAST(date_trunc('month', start) AS DATE) AS month, count(*) AS n_events,
                   count(DISTINCT business_unit_id) AS n_units
            FROM fct_outages WHERE major_event {where} GROUP BY ALL HAVING count(*) >= 3 ORDER BY month""", params)

    # ------------------------------------------------------------------ loads

    @_kept(4)
    def kpi_headers(self) -> pd.DataFrame:
        """The KPI file's columns kept by header (fct_kpi_custom), for the whole company: header, rows, units,
        first and last month, min and max (the metric catalogue is the company's, whatever the scope)."""
        from etl.definitions import HEADERS_SQL

        try:
            return self.whole()._query(HEADERS_SQL)
        except duckdb.CatalogException:
            return pd.DataFrame(columns=["header", "rows", "units", "first", "last", "min", "max"])

    @_kept(8)
    def load_history(self) -> pd.DataFrame:
        """The loads (file names of every unit): the whole company's to see, else nothing."""
        if self.scope is not None:
            return pd.DataFrame(columns=["load_id", "file_name", "kind", "rows_loaded", "rows_rejected", "rows_skipped", "loaded_at"])
        return self._query("""SELECT load_id, file_name, kind, rows_loaded, rows_rejected, rows_skipped, loaded_at
                              FROM etl_loads ORDER BY load_id DESC LIMIT 200""")

    def load_rate(self) -> float | None:
        """Bytes per second the loads of files of 1 MB or more took here (median of the last 50), for the
        upload page's estimate of a large file's time; None before any (or on a warehouse of schema < 3)."""
        try:
            df = self._query("""SELECT median(file_bytes / seconds) AS rate FROM (
                                    SELECT file_bytes, seconds FROM etl_loads WHERE file_bytes >= 1048576 AND seconds > 0
                                    ORDER BY load_id DESC LIMIT 50)""")
        except duckdb.Error:  # no such columns yet: the estimate is only left out
            log.debug("no load durations in %s", self.warehouse.name, exc_info=True)
            return None
        rate = df["rate"].iloc[0] if len(df) else None
        return None if rate is None or pd.isna(rate) else float(rate)

    @_kept(8)
    def coverage(self) -> pd.DataFrame:
        """Per business unit and month: which sources reported (KPI file: its unit-size figure, membership
        report, activities)."""
        size = catalogue.size_metric()  # a catalogue id (an identifier), never user text
        return self._in_scope(self._query(f"""
            SELECT business_unit_id, business_unit_name, period, period_start,
                   ({size} IS NOT NULL)::INT + (members IS NOT NULL)::INT + (activities_total IS NOT NULL)::INT AS sources
            FROM panel_month ORDER BY business_unit_id, period_start"""))

    @_kept(8)
    def rejects(self, load_id: int | None = None) -> pd.DataFrame:
        """Rejected rows (any unit's, not yet matched to one): the whole company's to see, else nothing."""
        if self.scope is not None:
            return pd.DataFrame(columns=["load_id", "file_name", "sheet", "row_number", "reason", "raw"])
        where, params = ("WHERE load_id = ?", [load_id]) if load_id is not None else ("", [])
        # a warehouse not yet migrated to schema 2 may hold personal cells in a reject's text: not shown
        raw = ("CASE WHEN (SELECT max(TRY_CAST(value AS INTEGER)) FROM meta WHERE key = 'schema_version') >= 2 "
               "THEN raw END AS raw")
        df = self._query(f"SELECT load_id, file_name, sheet, row_number, reason, {raw} FROM etl_rejects {where} "
                         "ORDER BY load_id DESC, row_number LIMIT 5000", params)
        if not df.empty:
            df["reason"] = df["reason"].map(personal.mask)
        return df
