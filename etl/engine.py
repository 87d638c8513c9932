"""Every DuckDB connection the product opens: extensions come from installed wheels, never the internet.

Customers run on an intranet, so DuckDB must never try to download an extension (its default is to
install a known extension from extensions.duckdb.org the first time a query needs it). Every connection
is opened here with auto-install off, and the extensions the lake needs (ducklake, postgres_scanner,
httpfs) are loaded by path from the `duckdb-extension-*` wheels pinned beside DuckDB in constraints.txt.
Those wheels exist for DuckDB 1.5.5 and not for 2.0: that is why the project pins DuckDB 1.5.5 (README,
"DuckDB version")."""
from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import duckdb

log = logging.getLogger(__name__)

# never download; extensions compiled into DuckDB (parquet, json, icu, core functions) still load
OFFLINE = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}


class MissingExtension(RuntimeError):
    """An extension the warehouse needs is not installed as a wheel in this environment."""


def connect(database: str = ":memory:", read_only: bool = False, config: dict | None = None) -> duckdb.DuckDBPyConnection:
    """duckdb.connect with downloads of extensions switched off."""
    return duckdb.connect(str(database), read_only=read_only, config={**OFFLINE, **(config or {})})


def extension_file(name: str) -> Path:
    """The extension binary shipped in the `duckdb-extension-<name>` wheel for this DuckDB version."""
    spec = importlib.util.find_spec(f"duckdb_extension_{name}")
    version = f"v{duckdb.__version__}"
    if spec is None or spec.origin is None:
        raise MissingExtension(f"DuckDB 扩展 {name} 未安装：请执行 `pip install -c constraints.txt duckdb-extension-{name.replace('_', '-')}`"
                               f"（需与 DuckDB {duckdb.__version__} 同版本）。(extension wheel missing)")
    found = Path(spec.origin).parent / "extensions" / version / f"{name}.duckdb_extension"
    if not found.is_file():
        raise MissingExtension(f"DuckDB 扩展 {name} 的安装包与 DuckDB {duckdb.__version__} 版本不符（缺少 {found}）。"
                               f"请按 constraints.txt 重新安装。(extension wheel is for another DuckDB version)")
    return found


def load(con: duckdb.DuckDBPyConnection, *names: str) -> None:
    """LOAD extensions from their wheels (a no-op for one already loaded on this connection)."""
    loaded = {n for (n,) in con.execute("SELECT extension_name FROM duckdb_extensions() WHERE loaded").fetchall()}
    for name in names:
        if name in loaded:
            continue
        path = extension_file(name)
        con.execute(f"LOAD '{path.as_posix()}'")
        log.debug("loaded DuckDB extension %s from %s", name, path)
