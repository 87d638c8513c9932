"""Metrics an administrator defines: stored in the warehouse (`catalogue_metric`), written like a load (the
writer lock, a private working copy, the panels refreshed, one atomic replace), so a definition and the
panels that carry it appear together. Data loaded before the definition existed is read at once: the KPI
file's extra columns are kept by header in fct_kpi_custom, and the panels pivot them by the definition's
source headers (etl/warehouse.py custom_headers). No file is reloaded.

A definition is {"metric": <catalogue/defined.py short form>, "columns": [{"id", "zh", "en", "aliases"}]}."""
from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import pandas as pd

import catalogue
from catalogue.defined import check_definition
from etl import warehouse
from etl.contract import header_names, normalize_header
from etl.errors import EtlError

log = logging.getLogger(__name__)


class DefinitionError(EtlError):
    """A definition that cannot be saved; `problems` holds (Chinese, English) sentences."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("；".join(zh for zh, _ in problems) + " (" + "; ".join(en for _, en in problems) + ")")


HEADERS_SQL = """SELECT metric AS header, count(*) AS rows, count(DISTINCT business_unit_id) AS units,
                        strftime(min(month), '%Y-%m') AS first, strftime(max(month), '%Y-%m') AS last,
                        min(value) AS min, max(value) AS max
                 FROM fct_kpi_custom GROUP BY metric ORDER BY metric"""


def undefined(headers: pd.DataFrame) -> pd.DataFrame:
    """Of the KPI file's columns kept by header (HEADERS_SQL), those no metric of the active catalogue reads
    yet: what an administrator may define."""
    known = set().union(*(header_names(c) for c in catalogue.kpi_columns()))
    return headers[~headers["header"].map(normalize_header).isin(known)].reset_index(drop=True)


def undefined_headers(con) -> list[dict]:
    return undefined(con.execute(HEADERS_SQL).df()).to_dict("records")


def _ids(exclude: str | None) -> tuple[set[str], set[str]]:
    """The metric and column ids of the active catalogue, without the definition `exclude` (being replaced)."""
    mine = next((b for b in catalogue.defined_metrics() if b["metric"]["id"] == exclude), None)
    mids = set(catalogue.metrics()) - ({exclude} if mine else set())
    cols = {c.id for c in catalogue.kpi_columns()} - ({c["id"] for c in mine["columns"]} if mine else set())
    return mids, cols


def _write(db: Path, change) -> None:
    db = Path(db)
    if not db.exists():
        raise EtlError(f"仓库文件不存在：{db}。请先导入数据。(no warehouse)")
    warehouse.republish(db, change)


def save(db: Path, body: dict, by: str | None) -> None:
    """Add or replace the definition of `body["metric"]["id"]` (DefinitionError when it cannot be used)."""
    body = {"metric": dict(body["metric"]), "columns": [dict(c) for c in body.get("columns", [])]}
    mid = body["metric"].get("id", "")

    def change(con):
        warehouse.activate_catalogue(con)
        problems = check_definition(body, *_ids(mid))
        if problems:
            raise DefinitionError(problems)
        con.execute("INSERT OR REPLACE INTO catalogue_metric VALUES (?, ?, ?, ?)",
                    [mid, json.dumps(body, ensure_ascii=False, sort_keys=True), dt.datetime.now(), by])
        try:
            warehouse.activate_catalogue(con)  # the whole catalogue with it must hold together
        except ValueError as exc:
            raise DefinitionError([(f"定义与现有指标冲突：{exc}", f"The definition conflicts with the catalogue: {exc}")]) from None

    _write(db, change)
    log.info("metric %s defined by %s", mid, by or "-")


def remove(db: Path, mid: str, by: str | None) -> None:
    """Remove an administrator's definition (a profile's own metrics cannot be removed)."""
    def change(con):
        warehouse.activate_catalogue(con)
        if not any(b["metric"]["id"] == mid for b in catalogue.defined_metrics()):
            raise DefinitionError([(f"没有名为 {mid} 的自定义指标。", f"No administrator-defined metric {mid}.")])
        users = [m.id for m in catalogue.metrics().values() if m.id != mid and (
            m.rollup == f"wmean:{mid}" or m.scales_with == mid or m.rate == mid)]
        if users:
            raise DefinitionError([(f"指标 {'、'.join(users)} 引用了 {mid}，请先删除或修改它们。",
                                    f"{', '.join(users)} refer to {mid}: remove or change them first.")])
        con.execute("DELETE FROM catalogue_metric WHERE id = ?", [mid])

    _write(db, change)
    log.info("metric %s removed by %s", mid, by or "-")
