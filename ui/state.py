"""Global filters: sidebar widgets with stable keys, mirrored in the URL query string.

On a session's first run the URL is read into the widget keys (each value checked against the catalogue
and the organisation; an unknown value is dropped with a notice); after the widgets run, the URL is
rewritten from their values, so a copied link reopens the same view."""
from __future__ import annotations

import re

import streamlit as st

import settings
from analytics.periods import GRAINS, coerce
from application import statistics as stats
from application.context import Context
from application.selection import Selection, find_units
from application.views import whatif as whatif_view
from catalogue import LANGS
from ui import session
from ui.i18n import fmt, lang, tr

# URL parameter -> session-state key
URL_KEYS = {"lang": "lang", "grain": "f_grain", "from": "f_start", "to": "f_end", "org": "f_org", "type": "f_types",
            "region": "f_regions", "unit": "f_unit"}
LIST_KEYS = {"f_types", "f_regions"}


def _valid_values(ctx: Context, grain: str) -> dict[str, set]:
    periods = set(ctx.snapshot.periods(grain))
    types, regions = ctx.snapshot.offered()
    return {
        "lang": set(LANGS), "f_grain": set(GRAINS), "f_types": set(types), "f_regions": set(regions),
        "f_unit": set(ctx.snapshot.unit_names()), "f_start": periods, "f_end": periods,
        "f_org": set(ctx.snapshot.org_nodes()["unit_id"]),
    }


# Each page's own picks, in the URL under their widget keys (ids and numbers, never labels), so that a link
# reproduces what its sender saw: key -> kind of value (checked like the sidebar's on the way in).
PICKS = {"ov_quarter": "quarter", "br_quarter": "quarter", "pf_unit": "unit", "pf_kpi": "kpi",
         "rel_x": "input", "rel_y": "kpi", "rel_lag": "lag",
         "ts_y": "kpi", "ts_x": "inputs", "ts_lag": "lag", "ts_ctrl": "controls", "ts_treat": "treatment",
         "ts_ey": "kpi", "wi_y": "kpi", "wi_x": "inputs", "wi_lag": "lag", "sa_mode": "mode", "sb_mode": "mode",
         "wi_pick": "scenario", "pf_tab": "tab", "ov_tab": "tab", "rel_tab": "tab", "ts_tab": "tab"}
# A page's tabs (layout.tabs): the names of each, the first open by default; the open one is a pick
TABS = {"pf_tab": ("kpi", "party", "work", "peers"), "ov_tab": ("quadrant", "funnel"), "rel_tab": ("pair", "matrix"),
        "ts_tab": ("twfe", "event", "direction", "diagnostics")}
AMOUNT_KEY = re.compile(r"^s[ab]_([a-z0-9_]+)_(abs|pct)$")  # the what-if scenarios' sliders
LAG_MAX = stats.LAG_MAX


def pick(key: str, default):
    """A page widget's starting value: what the URL or the user set, else `default`. The widget is then
    created with `key` only (no index/default/value argument), so the two never disagree."""
    st.session_state.setdefault(key, default)
    return key


def _pick_value(ctx: Context, key: str, raw: list[str]):
    """The checked value of a page pick from its URL text; None when it is not acceptable."""
    kind = PICKS.get(key)
    vals = [x for part in raw for x in str(part).split(",") if x]
    if kind in ("inputs", "controls"):
        allowed = set(stats.controls() if kind == "controls" else stats.inputs())
        return vals if vals and all(x in allowed for x in vals) else None
    if len(vals) != 1:
        return None
    x = vals[0]
    if kind == "lag":
        return int(x) if x.isdigit() and int(x) <= LAG_MAX else None
    if kind in ("input", "kpi"):
        return x if x in (stats.inputs() if kind == "input" else stats.kpis()) else None
    if kind == "treatment":
        return x if x in stats.TREATMENTS else None
    if kind == "tab":
        return x if x in TABS[key] else None
    if kind == "scenario":
        return x if x in whatif_view.SCENARIOS else None
    if kind == "mode":
        return x if x in whatif_view.MODES else None
    if kind == "quarter":
        return x if x in ctx.snapshot.periods("quarter") else None
    if kind == "unit":
        return x if x in ctx.snapshot.unit_names() else None
    m = AMOUNT_KEY.match(key)
    if m and m.group(1) in stats.inputs():
        try:
            amount = float(x)
        except ValueError:
            return None
        if not whatif_view.amount_ok(m.group(2), amount):
            return None
        return amount if m.group(2) == "abs" else int(amount)
    return None


def read_url_once(ctx: Context) -> None:
    """First run of a session: URL -> widget state, with every value checked."""
    if st.session_state.get("_url_read"):
        return
    st.session_state["_url_read"] = True
    qp = st.query_params
    grain = qp.get("grain") if qp.get("grain") in GRAINS else "month"
    allowed = _valid_values(ctx, grain)
    rejected = []
    for param, key in URL_KEYS.items():
        if param not in qp:
            if key != "lang":  # the URL is the whole view: what it does not say is the default
                st.session_state.pop(key, None)
            continue
        raw = qp.get_all(param) if key in LIST_KEYS else [qp.get(param)]
        vals = [x for part in raw for x in str(part).split(",") if x]
        good = [x for x in vals if x in allowed[key]]
        rejected += [f"{param}={x}" for x in vals if x not in allowed[key]]
        if key == "lang":  # app.py has set it, before the language switch (the sign-in form speaks it too)
            continue
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
        value = _pick_value(ctx, param, qp.get_all(param))
        if value is None:
            rejected.append(f"{param}={qp.get(param)}")
        else:
            st.session_state[param] = value
    if rejected:  # unknown, mistyped, or outside the user's scope: dropped, said, and audited
        st.session_state["_url_rejected"] = rejected
        from ui import signin

        signin.audit("url_rejected", values=rejected)


def _url_text(value) -> str:
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def write_url(f: Selection) -> None:
    if st.session_state.pop("_url_switching", False):  # this run ended by switching page: the switch set the URL
        return
    want = url_params(f)
    current = {k: st.query_params.get(k) for k in st.query_params.keys()}
    if current != want:
        st.query_params.from_dict(want)


def request_picks(**picks) -> None:
    """Set page picks whose widgets this run already drew (a chart click choosing another pair): Streamlit
    allows that only before the widgets exist, so they are kept and applied at the start of the next run
    (`apply_requested_picks`, from app.py); the caller reruns."""
    st.session_state["_requested_picks"] = picks


def apply_requested_picks() -> None:
    for key, value in (st.session_state.pop("_requested_picks", None) or {}).items():
        st.session_state[key] = value


def switch_page(page: str, view: dict | None = None, **picks) -> None:
    """Open another page with the whole view — the sidebar's selection and every page pick — as a deep link
    would: st.switch_page alone drops the query string and, with it, the sidebar's widget state (the grain
    fell back to months). `picks` set the target page's own picks (pf_unit=… for a unit's profile); `view`
    changes the sidebar's part by URL parameter ({"org": "P江北"}; None drops it)."""
    if session.fragment_rerun():
        # a click in a page's fragment reran the fragment alone, and st.switch_page from there sets the URL
        # but does not open the page (Streamlit 1.67): the whole app reruns and switches (apply_requested_switch)
        st.session_state["_requested_switch"] = (page, view, picks)
        st.rerun()
    for key, value in picks.items():
        st.session_state[key] = value
    params = url_params(st.session_state.get("selection") or Selection())
    params.update({k: _url_text(v) for k, v in picks.items()})
    for k, v in (view or {}).items():
        if v is None:
            params.pop(k, None)
        else:
            params[k] = _url_text(v)
    st.session_state["_url_read"] = False  # the next run reads the view back from the URL, every value checked
    # app.py writes the URL when a run ends, also when it ends by this switch: that would put the old view
    # back into the address bar after the switch set the new one (a crumb's org=… came back, now and then)
    st.session_state["_url_switching"] = True
    st.switch_page(page, query_params=params)


def apply_requested_switch() -> None:
    """A page switch asked for by a page's fragment (`switch_page`), done by app.py's run once its
    navigation and sidebar selection exist."""
    if (req := st.session_state.pop("_requested_switch", None)) is not None:
        page, view, picks = req
        switch_page(page, view, **picks)


def url_params(f: Selection) -> dict:
    """The URL of a view: language, the sidebar's selection and every page pick."""
    want = {"lang": lang(), "grain": f.grain}
    if f.start:
        want["from"] = f.start
    if f.end:
        want["to"] = f.end
    if f.org:
        want["org"] = f.org
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
    return want


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


def sidebar_selection(ctx: Context) -> Selection:
    sb = st.sidebar
    sb.subheader(tr("filter.title"))
    st.session_state.setdefault("f_grain", "month")
    grain = sb.radio(tr("filter.grain"), GRAINS, key="f_grain", horizontal=True,
                     format_func=fmt("key", "filter.grain_"))
    periods = ctx.snapshot.periods(grain)
    if periods:
        for key, default in (("f_start", periods[0]), ("f_end", periods[-1])):
            if st.session_state.get(key) not in periods:  # a grain switch keeps the range: 2024-07 <-> 2024Q3
                st.session_state[key] = coerce(st.session_state.get(key), periods, default)
        # one above the other: a period's name (2021年一季度) needs the sidebar's width
        start = sb.selectbox(tr("filter.from"), periods, key="f_start", format_func=fmt("period"))
        end = sb.selectbox(tr("filter.to"), periods, key="f_end", format_func=fmt("period"))
        if start > end:
            sb.warning(tr("filter.range_swapped"))
            start, end = end, start
    else:
        start = end = None
    org = org_picker(ctx)
    ctx = session.narrowed(ctx, org)  # every page of this run rolls up beneath the organisation
    type_opts, region_opts = ctx.snapshot.offered()
    for key, opts in (("f_types", type_opts), ("f_regions", region_opts)):  # drop what is no longer offered
        st.session_state[key] = [x for x in st.session_state.get(key, []) if x in opts]
    types = sb.multiselect(tr("filter.unit_type"), type_opts, key="f_types", format_func=fmt("value", "unit_type"),
                           placeholder=tr("filter.all"))
    regions = sb.multiselect(tr("filter.region"), region_opts, key="f_regions", format_func=fmt("value", "region"),
                             placeholder=tr("filter.all"))
    # "" stands for every unit: Streamlit shows a None value as "no selection"
    unit = unit_picker(sb, "f_unit", ctx.snapshot.unit_names(), tr("filter.unit"), every=tr("filter.all_units")) or None
    if st.session_state.get("_url_rejected"):
        from ui.layout import md_escape

        sb.caption(tr("filter.url_rejected", values=md_escape("、".join(st.session_state.pop("_url_rejected")))))
    # the URL is written after the page ran (app.py), so it holds the page's own picks of this run too
    return Selection(grain=grain, start=start, end=end, unit_types=tuple(types), regions=tuple(regions), unit=unit,
                     org=org)


def unit_picker(box, key: str, names: dict[str, str], label: str, every: str | None = None, beside: bool = False) -> str:
    """A business unit chosen in `box` under widget `key` (ids; "" for every unit when `every` names that
    choice). Up to PBKPI_UNIT_LIST_MAX units are one list; more (a group has ten thousand) are found by a search
    box above the list (`<key>_q`: code or name), which offers the first matches and always the unit chosen,
    so a deep link or a drill-down to any unit shows it. `beside`: the search left of the list, not above it."""
    head = [""] if every is not None else []
    current = st.session_state.get(key)
    if len(names) <= settings.unit_list_max():
        opts = head + list(names)
    else:
        search_box, box = box.columns(2) if beside else (box, box)
        query = search_box.text_input(tr("filter.unit_search", n=f"{len(names):,}"), key=f"{key}_q",
                                      placeholder=tr("filter.unit_search_hint"))
        found, total = find_units(names, query)
        kept = [current] if current in names and current not in found else []
        opts = head + kept + found
        if not query.strip():
            search_box.caption(tr("filter.unit_listed_first", shown=len(found), rest=f"{len(names) - len(found):,}"))
        elif total > len(found):
            search_box.caption(tr("filter.unit_found_more", shown=len(found), total=f"{total:,}"))
        elif not total:
            search_box.caption(tr("filter.unit_found_none"))
    if current not in opts:
        st.session_state[key] = opts[0] if opts else None
    return box.selectbox(label, opts, key=key,
                         format_func=lambda u: every if not u else f"{names.get(u, u)}（{u}）")


def org_picker(ctx: Context) -> str | None:
    """The org tree as one indented list (公司 → 县/地市 → …); offered once the tree has more than one level
    the user may see. None: the user's whole scope."""
    nodes = ctx.snapshot.org_nodes()
    if len(nodes) < 2:
        st.session_state.pop("f_org", None)
        return None
    opts = [""] + list(nodes["unit_id"])
    if st.session_state.get("f_org") not in opts:
        st.session_state["f_org"] = ""
    names = dict(zip(nodes["unit_id"], nodes["unit_name"]))
    depth = dict(zip(nodes["unit_id"], nodes["depth"]))
    org = st.sidebar.selectbox(tr("filter.org"), opts, key="f_org",
                               format_func=lambda o, whole=tr("filter.org_all"): whole if not o else "　" * int(depth[o]) + names[o])
    return org or None
