"""Tidy panels: reading panel_month / panel_quarter (or any CSV panel), calendar-aware lags, filters.

Internal column names: `unit` (entity), `t` (integer period on the calendar: months or quarters since
year 0, or the raw integer time of a CSV panel), `period` (label). Lags are built by shifting `t` within a
unit, never by shifting rows, so a gap in a unit's record gives a missing lag instead of a wrong one."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analytics.errors import AnalysisError, named
from analytics.periods import GRAINS, parse_time_column, period_index
from catalogue import metric_ids

ATTRS = ["business_unit_name", "unit_type", "region"]


@dataclass(frozen=True)
class PanelFilter:
    """Which rows of the panel to analyse. Empty tuples mean 'all'."""
    unit_types: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    units: tuple[str, ...] = ()
    start: str | None = None  # period label, inclusive (2023-01 or 2023Q1)
    end: str | None = None

    def is_narrowed(self) -> bool:
        return bool(self.unit_types or self.regions or self.units or self.start or self.end)


@dataclass
class Panel:
    df: pd.DataFrame
    grain: str
    entity_label: str = "business_unit_id"
    meta: dict = field(default_factory=dict)


def from_warehouse_frame(df: pd.DataFrame, grain: str) -> Panel:
    """Wrap a frame read from panel_month / panel_quarter."""
    if grain not in GRAINS:
        raise AnalysisError(f"时间粒度只能是 month 或 quarter，收到 {grain!r}。(grain must be month or quarter)")
    out = df.rename(columns={"business_unit_id": "unit"})  # copy-on-write (pandas 3): no copy of the panel
    out["t"] = period_index(out["period_start"], grain).astype(int)
    return Panel(out, grain)


def from_csv(path, entity: str, time: str) -> Panel:
    """Any tidy panel: one row per entity and time. The time column may hold whole numbers (also written as
    `1935.0`), quarters, months or dates in the common forms (analytics.periods.parse_time_column). A
    calendar time becomes months or quarters on the calendar (monthly dates → months; a gap stays a gap)."""
    import warnings

    with warnings.catch_warnings():  # pandas' dtype guesses are not the user's business: errors are said below
        warnings.simplefilter("ignore")
        try:
            df = pd.read_csv(path, dtype={time: "string"}, low_memory=False)
        except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise AnalysisError(f"无法读取 CSV 文件 {path}：{exc}。(cannot read the CSV)") from None
    for c in (entity, time):
        if c not in df.columns:
            raise AnalysisError(f"CSV 中没有列 {c!r}；现有列：{', '.join(map(str, df.columns))}。(column not found)")
    out = df.rename(columns={entity: "unit"}).copy()
    out["unit"] = out["unit"].astype(str)
    try:
        t, grain, labels, start = parse_time_column(out[time], time)
    except ValueError as exc:
        raise AnalysisError(str(exc)) from None
    if grain == "month":  # dates a quarter or a year apart: lag 1 is the previous observation's period
        steps = np.diff(np.sort(t.unique()))
        step = int(np.gcd.reduce(steps)) if len(steps) else 1
        if step > 1:
            t, grain = (t - t.min()) // step, "quarter" if step == 3 else "custom"
    out["t"] = t.astype(int)
    if start is not None:
        out["period_start"] = start
    out["period"] = labels
    if out.duplicated(["unit", "t"]).any():
        raise AnalysisError("CSV 面板中同一实体同一时期有多行，请先汇总为每个实体每期一行。(duplicate entity-time rows)")
    return Panel(out, grain, entity_label=entity)


def filter_mask(df: pd.DataFrame, flt: PanelFilter, unit_col: str = "unit") -> pd.Series:
    """The rows a filter selects: the one implementation every reader uses (the warehouse read path, the
    CLIs, the briefing)."""
    mask = pd.Series(True, index=df.index)
    if flt.unit_types and "unit_type" in df:
        mask &= df["unit_type"].isin(flt.unit_types)
    if flt.regions and "region" in df:
        mask &= df["region"].isin(flt.regions)
    if flt.units:
        mask &= df[unit_col].isin(flt.units)
    if flt.start:
        mask &= df["period"] >= flt.start
    if flt.end:
        mask &= df["period"] <= flt.end
    return mask


def apply_filter(panel: Panel, flt: PanelFilter | None) -> Panel:
    if flt is None:
        return panel
    mask = filter_mask(panel.df, flt)
    return panel if mask.all() else Panel(panel.df[mask], panel.grain, panel.entity_label, panel.meta)


def lag_name(col: str, k: int) -> str:
    return col if k == 0 else (f"{col}_lag{k}" if k > 0 else f"{col}_lead{-k}")


def add_lag(df: pd.DataFrame, col: str, k: int) -> pd.DataFrame:
    """Add `col` shifted by k periods on the calendar within each unit (k < 0 gives a lead)."""
    if k == 0:
        return df
    name = lag_name(col, k)
    if name in df:
        return df
    src = df[["unit", "t", col]].copy()
    src["t"] = src["t"] + k
    return df.merge(src.rename(columns={col: name}), on=["unit", "t"], how="left")


def check_columns(df: pd.DataFrame, cols: list[str]) -> None:
    known = set(df.columns)
    for c in cols:
        if c not in known:
            hint = "、".join(metric_ids()) if "unit" in known else ", ".join(map(str, df.columns))
            raise AnalysisError(f"未知指标 {c!r}（unknown metric）。可用：{hint}")


def analysis_frame(panel: Panel, y: str, xs: list[str], lag: int = 0, controls: list[str] | None = None,
                   min_periods: int = 3) -> tuple[pd.DataFrame, list[str]]:
    """The complete-case frame for a regression of y on xs lagged by `lag` (plus controls), with clear
    errors for the cases a regression cannot handle."""
    controls = controls or []
    df = panel.df
    check_columns(df, [y, *xs, *controls])
    if not xs:
        raise AnalysisError("请至少选择一个党建投入指标作为自变量。(choose at least one input)")
    for c in [y, *xs, *controls]:
        if df[c].notna().sum() == 0:
            raise AnalysisError(f"指标{named(c)}在所选范围内全部缺失，无法分析；请放宽筛选条件或先导入该数据。(all missing)")
    for x in xs:
        df = add_lag(df, x, lag)
    xcols = [lag_name(x, lag) for x in xs]
    cols = ["unit", "t", y, *xcols, *controls]
    data = df[cols + [c for c in ("period", "unit_type", "region", "business_unit_name") if c in df]].dropna(subset=cols)
    if data["unit"].nunique() < 2:
        raise AnalysisError("只有一个单位有完整数据，无法做单位内比较；请选择更多单位。(need at least 2 units)")
    if data["t"].nunique() < min_periods:
        raise AnalysisError(f"只有 {data['t'].nunique()} 个时期有完整数据，至少需要 {min_periods} 个；请扩大时间范围。"
                            f"(fewer than {min_periods} periods)")
    for c in xcols + controls:
        within = data[c] - data.groupby("unit")[c].transform("mean")
        if data[c].nunique() <= 1 or float(np.nanstd(within)) == 0.0:
            raise AnalysisError(f"指标{named(c)}在各单位内部没有变化（为常数），固定效应模型无法估计其影响。"
                                "(an input does not vary within units)")
    if data[y].nunique() <= 1:
        raise AnalysisError(f"结果指标{named(y)}为常数，无法分析。(outcome is constant)")
    return data.reset_index(drop=True), xcols
