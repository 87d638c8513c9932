"""Global filters: sidebar widgets with stable keys, mirrored in the URL query string.

On a session's first run the URL is read into the widget keys (each value checked against the catalogue
and the organisation; an unknown value is dropped with a notice); after the widgets run, the URL is
rewritten from their values, so a copied link reopens the same view."""
from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from analytics.panel import Panel, PanelFilter, from_warehouse_frame
from catalogue import LANGS, metrics
from ui import data
from ui.i18n import fmt, lang, tr

UNIT_TYPES = ["供电所", "变电运维", "输电运检", "营销服务", "调度", "机关", "其他"]  # the contract's order
REGIONS = ["城区", "县城", "农村"]


def offered(v: str) -> tuple[list[str], list[str]]:
    """The business types and areas that have at least one business unit in the warehouse, in the
    contract's order: a choice with no unit behind it is not offered."""
    bus = data.business_units(v)
    if bus.empty:
        return [], []
    types, regions = set(bus["unit_type"].dropna()), set(bus["region"].dropna())
    return [x for x in UNIT_TYPES if x in types], [x for x in REGIONS if x in regions]
GRAINS = ["month", "quarter"]
# URL parameter -> session-state key
URL_KEYS = {"lang": "lang", "grain": "f_grain", "from": "f_start", "to": "f_end", "type": "f_types",
            "region": "f_regions", "unit": "f_unit"}
LIST_KEYS = {"f_types", "f_regions"}


@dataclass(frozen=True)
class Filters:
    grain: str
    start: str | None
    end: str | None
    unit_types: tuple[str, ...]
    regions: tuple[str, ...]
    unit: str | None

    def panel_filter(self, with_unit: bool = False) -> PanelFilter:
        return PanelFilter(unit_types=self.unit_types, regions=self.regions,
                           units=(self.unit,) if (with_unit and self.unit) else (), start=self.start, end=self.end)

    def is_narrowed(self) -> bool:
        return bool(self.unit_types or self.regions or self.unit)


def _valid_values(v: str, grain: str) -> dict[str, set]:
    bus = data.business_units(v)
    periods = set(data.panel(v, grain)["period"]) if data.has_data(v) else set()
    types, regions = offered(v)
    return {
        "lang": set(LANGS), "f_grain": set(GRAINS), "f_types": set(types), "f_regions": set(regions),
        "f_unit": set(bus["business_unit_id"]) if not bus.empty else set(), "f_start": periods, "f_end": periods,
    }


# Each page's own picks, in the URL under their widget keys (ids and numbers, never labels), so that a link
# reproduces what its sender saw: key -> kind of value (checked like the sidebar's on the way in).
PICKS = {"ov_quarter": "quarter", "br_quarter": "quarter", "pf_unit": "unit", "pf_kpi": "kpi",
         "rel_x": "input", "rel_y": "kpi", "rel_lag": "lag",
         "ts_y": "kpi", "ts_x": "inputs", "ts_lag": "lag", "ts_ctrl": "controls", "ts_treat": "treatment",
         "ts_ey": "kpi", "wi_y": "kpi", "wi_x": "inputs", "wi_lag": "lag", "sa_mode": "mode", "sb_mode": "mode"}
AMOUNT_KEY = re.compile(r"^s[ab]_([a-z0-9_]+)_(abs|pct)$")  # the what-if scenarios' sliders
AMOUNT_RANGE = {"abs": (-5.0, 5.0), "pct": (-50, 100)}
LAG_MAX = 12


def pick(key: str, default):
    """A page widget's starting value: what the URL or the user set, else `default`. The widget is then
    created with `key` only (no index/default/value argument), so the two never disagree."""
    st.session_state.setdefault(key, default)
    return key


def _pick_value(v: str, key: str, raw: list[str]):
    """The checked value of a page pick from its URL text; None when it is not acceptable."""
    kind = PICKS.get(key)
    vals = [x for part in raw for x in str(part).split(",") if x]
    if kind in ("inputs", "controls"):
        allowed = set(metric_options("input")) | ({"customers", "members"} if kind == "controls" else set())
        return vals if vals and all(x in allowed for x in vals) else None
    if len(vals) != 1:
        return None
    x = vals[0]
    if kind == "lag":
        return int(x) if x.isdigit() and int(x) <= LAG_MAX else None
    if kind in ("input", "kpi"):
        return x if x in metric_options(kind) else None
    if kind == "treatment":
        from ui.analyses import TREATMENTS

        return x if x in TREATMENTS else None
    if kind == "mode":
        return x if x in ("abs", "pct") else None
    if kind == "quarter":
        return x if x in data.periods(v, "quarter") else None
    if kind == "unit":
        bus = data.business_units(v)
        return x if not bus.empty and x in set(bus["business_unit_id"]) else None
    m = AMOUNT_KEY.match(key)
    if m and m.group(1) in metric_options("input"):
        try:
            amount = float(x)
        except ValueError:
            return None
        lo, hi = AMOUNT_RANGE[m.group(2)]
        if not lo <= amount <= hi:
            return None
        return amount if m.group(2) == "abs" else int(amount)
    return None


def read_url_once(v: str) -> None:
    """First run of a session: URL -> widget state, with every value checked."""
    if st.session_state.get("_url_read"):
        return
    st.session_state["_url_read"] = True
    qp = st.query_params
    grain = qp.get("grain") if qp.get("grain") in GRAINS else "month"
    allowed = _valid_values(v, grain)
    rejected = []
    for param, key in URL_KEYS.items():
        if param not in qp:
            continue
        raw = qp.get_all(param) if key in LIST_KEYS else [qp.get(param)]
        vals = [x for part in raw for x in str(part).split(",") if x]
        good = [x for x in vals if x in allowed[key]]
        rejected += [f"{param}={x}" for x in vals if x not in allowed[key]]
        if key in LIST_KEYS:
            st.session_state[key] = good
        elif good:
            st.session_state[key] = good[0]
    for param in qp.keys():
        if param in URL_KEYS:
            continue
        if param in ("embed", "embed_options"):  # Streamlit's own
            continue
        if param not in PICKS and not AMOUNT_KEY.match(param):
            rejected.append(f"{param}={qp.get(param)}")
            continue
        value = _pick_value(v, param, qp.get_all(param))
        if value is None:
            rejected.append(f"{param}={qp.get(param)}")
        else:
            st.session_state[param] = value
    if rejected:
        st.session_state["_url_rejected"] = rejected


def _url_text(value) -> str:
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def write_url(f: Filters) -> None:
    want = {"lang": lang(), "grain": f.grain}
    if f.start:
        want["from"] = f.start
    if f.end:
        want["to"] = f.end
    if f.unit_types:
        want["type"] = ",".join(f.unit_types)
    if f.regions:
        want["region"] = ",".join(f.regions)
    if f.unit:
        want["unit"] = f.unit
    for key in sorted(k for k in st.session_state.keys() if isinstance(k, str) and (k in PICKS or AMOUNT_KEY.match(k))):
        value = st.session_state[key]
        if value is not None and value != []:
            want[key] = _url_text(value)
    current = {k: st.query_params.get(k) for k in st.query_params.keys()}
    if current != want:
        st.query_params.from_dict(want)


# Streamlit keeps a radio's or select box's value in the browser as its *shown label*; when the language
# changes every label changes, and the browser's value would match no option (the grain radio showed
# nothing selected, and the next rerun fell back to its default). Re-assigning every selection key — the
# sidebar's and each page's picks, the same registry the URL uses — makes the server send each widget its
# value in the new language: switching language changes labels only.
def _is_selection_key(key) -> bool:
    return isinstance(key, str) and key != "lang" and (
        key in URL_KEYS.values() or key in PICKS or bool(AMOUNT_KEY.match(key)))


def _keep_selections() -> None:
    for key in [k for k in st.session_state.keys() if _is_selection_key(k)]:
        st.session_state[key] = st.session_state[key]


def language_switch() -> None:
    st.session_state.setdefault("lang", "zh")
    st.sidebar.radio("语言 / Language", options=list(LANGS), key="lang", horizontal=True,
                     format_func=lambda x: "中文" if x == "zh" else "English", on_change=_keep_selections)


def sidebar_filters(v: str) -> Filters:
    sb = st.sidebar
    sb.subheader(tr("filter.title"))
    st.session_state.setdefault("f_grain", "month")
    grain = sb.radio(tr("filter.grain"), GRAINS, key="f_grain", horizontal=True,
                     format_func=fmt("key", "filter.grain_"))
    periods = sorted(data.panel(v, grain)["period"].unique()) if data.has_data(v) else []
    if periods:
        for key, default in (("f_start", periods[0]), ("f_end", periods[-1])):
            if st.session_state.get(key) not in periods:
                st.session_state[key] = _coerce_period(st.session_state.get(key), periods, default)
        c1, c2 = sb.columns(2)
        start = c1.selectbox(tr("filter.from"), periods, key="f_start")
        end = c2.selectbox(tr("filter.to"), periods, key="f_end")
        if start > end:
            sb.warning(tr("filter.range_swapped"))
            start, end = end, start
    else:
        start = end = None
    type_opts, region_opts = offered(v)
    for key, opts in (("f_types", type_opts), ("f_regions", region_opts)):  # drop what is no longer offered
        st.session_state[key] = [x for x in st.session_state.get(key, []) if x in opts]
    types = sb.multiselect(tr("filter.unit_type"), type_opts, key="f_types", format_func=fmt("value", "unit_type"),
                           placeholder=tr("filter.all"))
    regions = sb.multiselect(tr("filter.region"), region_opts, key="f_regions", format_func=fmt("value", "region"),
                             placeholder=tr("filter.all"))
    bus = data.business_units(v)
    # "" stands for every unit: Streamlit shows a None value as "no selection"
    opts = [""] + (bus["business_unit_id"].tolist() if not bus.empty else [])
    names = dict(zip(bus.get("business_unit_id", []), bus.get("business_unit_name", [])))
    if st.session_state.get("f_unit") not in opts:
        st.session_state["f_unit"] = ""
    unit = sb.selectbox(tr("filter.unit"), opts, key="f_unit",
                        format_func=lambda u, all_units=tr("filter.all_units"): all_units if not u else f"{names.get(u, u)}（{u}）")
    unit = unit or None
    if st.session_state.get("_url_rejected"):
        from ui.layout import md_escape

        sb.caption(tr("filter.url_rejected", values=md_escape("、".join(st.session_state.pop("_url_rejected")))))
    # the URL is written after the page ran (app.py), so it holds the page's own picks of this run too
    return Filters(grain=grain, start=start, end=end, unit_types=tuple(types), regions=tuple(regions), unit=unit)


def _coerce_period(value, periods: list[str], default: str) -> str:
    """Keep the period range when the grain changes: 2024-07 <-> 2024Q3."""
    if not value:
        return default
    if "Q" in value:  # quarter -> its first month
        y, q = value.split("Q")
        cand = f"{y}-{(int(q) - 1) * 3 + 1:02d}"
    elif "-" in value:
        y, m = value.split("-")
        cand = f"{y}Q{(int(m) - 1) // 3 + 1}"
    else:
        cand = default
    return cand if cand in periods else default


# shared frames (no per-caller copies); at group scale a whole panel is ~0.5 GB, hence the small bounds
@st.cache_resource(show_spinner=False, max_entries=8)
def filtered_panel(v: str, f: Filters, with_unit: bool = False) -> pd.DataFrame:
    """The panel rows the filters select: a shared frame, read-only."""
    df = data.panel(v, f.grain)
    if df.empty:
        return df
    m = _mask(df, f, with_unit)
    return df if m.all() else df[m]


def _mask(df: pd.DataFrame, f: Filters, with_unit: bool) -> pd.Series:
    m = pd.Series(True, index=df.index)
    if f.unit_types:
        m &= df["unit_type"].isin(f.unit_types)
    if f.regions:
        m &= df["region"].isin(f.regions)
    if with_unit and f.unit:
        m &= df["business_unit_id"] == f.unit
    if f.start:
        m &= df["period"] >= f.start
    if f.end:
        m &= df["period"] <= f.end
    return m


@st.cache_data(show_spinner=False, max_entries=64)
def filtered_count(v: str, f: Filters, with_unit: bool = False) -> int:
    """How many panel rows the filters select, without building the filtered frame."""
    df = data.panel(v, f.grain)
    return int(_mask(df, f, with_unit).sum()) if not df.empty else 0


@st.cache_resource(show_spinner=False, max_entries=8)
def latest_rows(v: str, f: Filters) -> pd.DataFrame:
    """The rows of the latest period the filters select (the unit filter included): the period is picked
    first, so that the million-row panel is never copied for a dozen thousand rows."""
    df = data.panel(v, f.grain)
    if df.empty:
        return df
    end = f.end or df["period"].max()
    last = df[df["period"] == end]
    if f.unit_types:
        last = last[last["unit_type"].isin(f.unit_types)]
    if f.regions:
        last = last[last["region"].isin(f.regions)]
    if f.unit:
        last = last[last["business_unit_id"] == f.unit]
    if last.empty:  # the spine gives every unit every period; this only guards odd warehouses
        rows = filtered_panel(v, f, with_unit=True)
        last = rows[rows["period"] == rows["period"].max()] if len(rows) else rows
    return last


@st.cache_resource(show_spinner=False, max_entries=4)
def filtered(v: str, f: Filters, with_unit: bool = False) -> Panel:
    """The filtered rows as an analysis Panel (unit, t): shared, read-only."""
    return from_warehouse_frame(filtered_panel(v, f, with_unit), f.grain)


def metric_options(role: str) -> list[str]:
    """The metrics the statistics pages offer for a role. Totals that scale with unit size (售电量, 投诉件数)
    are left out: their rates are offered instead (catalogue `scales_with`)."""
    return [m.id for m in metrics().values() if m.role == role and not m.scales_with]
