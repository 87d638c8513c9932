"""One chart theme (CJK font stack, the colour language of ui/palette.py) and the figure builders the pages share."""
from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from analytics.scatter import fit_line
from ui import palette
from ui.palette import BAD, BRAND, GOOD, GREY

FONT = "Noto Sans CJK SC, Source Han Sans SC, Microsoft YaHei, PingFang SC, sans-serif"
QUAD_COLORS = palette.QUADRANT

pio.templates["pbkpi"] = go.layout.Template(layout=go.Layout(
    font=dict(family=FONT, size=14, color="#1f2329"),
    colorway=palette.NEUTRALS,
    paper_bgcolor="white", plot_bgcolor="white",
    margin=dict(l=60, r=24, t=90, b=48),
    xaxis=dict(gridcolor="#eceff3", zerolinecolor="#d0d5dc", automargin=True),
    yaxis=dict(gridcolor="#eceff3", zerolinecolor="#d0d5dc", automargin=True),
    legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0),
    hoverlabel=dict(font_family=FONT),
    title=dict(font=dict(size=16), y=0.98, yanchor="top", x=0, xanchor="left"),
))
pio.templates.default = "pbkpi"


def _period_x(df: pd.DataFrame) -> pd.Series:
    return pd.to_datetime(df["period_start"])


def has_values(df: pd.DataFrame, cols) -> bool:
    """True when at least one of the columns has a value to draw (a chart of nothing is a notice instead)."""
    return not df.empty and any(c in df and df[c].notna().any() for c in cols)


def figure(data: list[dict], layout: dict) -> go.Figure:
    """A figure from its traces and layout as plain dicts, validated once. The builders below describe a
    figure this way instead of adding traces, shapes and layout updates to a go.Figure one at a time: each
    of those validates again, and a page's figures cost 2-3x the time to build (the quadrant 17 ms -> 7 ms)."""
    return go.Figure(data=data, layout=layout)


def line(df: pd.DataFrame, x: str, ys: dict[str, str], title: str = "", y_title: str = "", height: int = 360) -> go.Figure:
    layout = dict(title=title, yaxis_title=y_title, height=height, **({} if title else {"margin": dict(t=40)}))
    if pd.api.types.is_datetime64_any_dtype(df[x]) or (len(df) and isinstance(df[x].iloc[0], (pd.Timestamp, dt.date))):
        # months, never clock times: with one or two points Plotly would otherwise zoom to milliseconds
        # (the tick labels themselves are the reader's language: `localize`)
        layout["xaxis"] = dict(type="date", **({"dtick": "M1"} if df[x].nunique() <= 3 else {}))
    return figure([dict(type="scatter", x=df[x], y=df[col], name=name, mode="lines+markers", marker=dict(size=5))
                   for col, name in ys.items()], layout)


def vline(x, **line) -> dict:
    """A vertical line across the plot at x, as Figure.add_vline draws it (the shape itself: adding shapes one
    at a time re-validates all earlier ones, a few ms each)."""
    return dict(type="line", xref="x", yref="y domain", x0=x, x1=x, y0=0, y1=1, line=line)


def hline(y, **line) -> dict:
    return dict(type="line", xref="x domain", yref="y", x0=0, x1=1, y0=y, y1=y, line=line)


def add_marks(fig: go.Figure, shapes: list[dict] = (), annotations: list[dict] = ()) -> go.Figure:
    """Shapes and annotations added in one layout update, after those the figure has. Add all of a figure's
    marks in one call: replacing marks a figure already holds re-validates every one of them (a second call
    after 12 event markers took 100 ms, the first 3 ms)."""
    fig.update_layout(shapes=[*fig.layout.shapes, *shapes], annotations=[*fig.layout.annotations, *annotations])
    return fig


def event_marks(events: list[tuple]) -> tuple[list[dict], list[dict]]:
    """Vertical markers with labels for [(date, label, colour), ...]: (shapes, annotations) for `add_marks`."""
    return ([vline(pd.Timestamp(when).timestamp() * 1000, width=1, dash="dot", color=colour) for when, _, colour in events],
            [dict(x=pd.Timestamp(when), y=0.99, yref="paper", text=label, showarrow=False, yanchor="top", xanchor="left",
                  font=dict(size=11, color=colour), bgcolor="rgba(255,255,255,0.8)") for when, label, colour in events])


def annotate_events(fig: go.Figure, events: list[tuple], color: str = GREY) -> go.Figure:
    """Vertical markers with labels: [(date, label), ...], all in one colour."""
    return add_marks(fig, *event_marks([(when, label, color) for when, label in events]))


MANY = 1_500  # units: beyond this a chart draws all of them as a density and marks only those a reader acts on
MARKED = 300  # the units marked one by one on a chart of MANY or more
NAMED = 12  # of those, the ones a funnel plot of many units names (more overlap into an unreadable band)


def many(n: int) -> bool:
    """Whether a chart of n units is drawn as a density with the MARKED units that matter as points (a
    browser draws an SVG marker per point: 11,842 of them took seconds, and a screenshot shows a blot)."""
    return n > MANY


def density(x: pd.Series, y: pd.Series, xrange: tuple[float, float], yrange: tuple[float, float], count_label: str,
            colour: str = GREY, bins: int = 40) -> dict:
    """Every unit as a cell count on a bins × bins grid (empty cells transparent), the layer beneath the
    marked points of a chart of many units."""
    counts, xe, ye = np.histogram2d(x, y, bins=bins, range=[xrange, yrange])
    z = counts.T.astype(float)
    z[z == 0] = np.nan
    return dict(type="heatmap", x=(xe[:-1] + xe[1:]) / 2, y=(ye[:-1] + ye[1:]) / 2, z=z, showscale=False, hoverongaps=False,
                colorscale=[[0, palette.faded(colour, 0.15)], [1, palette.faded(colour, 0.85)]],
                hovertemplate=count_label + " %{z:,.0f}<extra></extra>")


def quadrant(df: pd.DataFrame, labels: dict[str, str], x_title: str, y_title: str, counts_fmt, height: int = 460,
             named: int = 3, count_label: str = "") -> go.Figure:
    """Units by party-building index (x) and business index (y), coloured by quadrant. Each corner names its
    quadrant and how many units are in it (no legend to collide with the axis title); the `named` best and
    worst units (by the sum of both indices) carry their names on the chart, since a screenshot or a slide
    loses the hover. With many units (`many`), all of them are a density and the MARKED farthest from the
    centre (the clearest cases of each quadrant, the 两张皮 ones among them) are points."""
    data = []
    marked = df
    if many(len(df)):
        data.append(density(df["pb_index"], df["biz_index"], (0, 100), (0, 100), count_label))
    total = df["pb_index"] + df["biz_index"]
    ends = set(total.nsmallest(named).index) | set(total.nlargest(named).index) if named else set()
    if many(len(df)):
        far = (df["pb_index"] - 50) ** 2 + (df["biz_index"] - 50) ** 2
        marked = df.loc[sorted(set(far.nlargest(MARKED).index) | ends)]
    for q, color in QUAD_COLORS.items():
        d = marked[marked["quadrant"] == q]
        data.append(dict(
            type="scatter", x=d["pb_index"], y=d["biz_index"], mode="markers+text", name=labels[q], showlegend=False,
            marker=dict(size=11, color=color, line=dict(width=1, color="white")),
            text=d["business_unit_name"], texttemplate=["%{text}" if i in ends else "" for i in d.index],
            textposition=["bottom center" if y > 50 else "top center" for y in d["biz_index"]],
            textfont=dict(size=11, color=palette.INK), customdata=d[["unit_type_label", "region_label", "unit"]],
            hovertemplate="<b>%{text}</b><br>%{customdata[0]} · %{customdata[1]}<br>" + x_title + " %{x:.0f}<br>" + y_title + " %{y:.0f}<extra></extra>"))
    corners = {"both_strong": (99, 99, "right", "top"), "pb_strong_biz_weak": (99, 1, "right", "bottom"),
               "biz_strong_pb_weak": (1, 99, "left", "top"), "both_weak": (1, 1, "left", "bottom")}
    counts = df["quadrant"].value_counts()
    return figure(data, dict(
        shapes=[hline(50, dash="dash", color=GREY), vline(50, dash="dash", color=GREY)],
        annotations=[dict(x=x, y=y, text=f"{labels[q]}（{n}）" if counts_fmt == "zh" else f"{labels[q]} ({n})",
                          showarrow=False, xanchor=xa, yanchor=ya, font=dict(color=QUAD_COLORS[q], size=13),
                          bgcolor="rgba(255,255,255,0.75)")
                     for q, (x, y, xa, ya) in corners.items() for n in [int(counts.get(q, 0))]],
        xaxis=dict(range=[0, 100], title=x_title), yaxis=dict(range=[0, 100], title=y_title), height=height,
        margin=dict(t=30, b=50)))


def scatter_fit(x: pd.Series, y: pd.Series, x_title: str, y_title: str, hover: pd.Series | None = None,
                title: str = "", height: int = 400, line: pd.DataFrame | None = None, count_label: str | None = None) -> go.Figure:
    """Points and an OLS line: `line` (fit_line of all points, when x and y are a sample) or fitted here.
    With `count_label` (a sample of many more points), the points are drawn as a density: the counts of a
    grid over the middle 99% of each axis, points beyond it counted in the edge cells."""
    xr = None
    if count_label is not None and len(x):
        xr, yr = (tuple(np.nanquantile(v, [0.005, 0.995])) for v in (x, y))
        xr, yr = ((lo, hi if hi > lo else lo + 1.0) for lo, hi in (xr, yr))
        data = [density(x.clip(*xr), y.clip(*yr), xr, yr, count_label, colour=BRAND)]
    else:
        data = [dict(type="scatter", x=x, y=y, mode="markers", marker=dict(size=5, opacity=0.35, color=BRAND),
                     text=hover, hovertemplate="%{text}<br>%{x:.2f}, %{y:.3f}<extra></extra>" if hover is not None else None,
                     showlegend=False)]
    line = fit_line(x, y) if line is None else line
    if line is not None and xr is not None and len(line) >= 2:  # the (straight) line over the density's span
        xs = np.linspace(*xr, 2)
        line = pd.DataFrame({"x": xs, "y": np.polyval(np.polyfit(line["x"], line["y"], 1), xs)})
    if line is not None:
        data.append(dict(type="scatter", x=line["x"], y=line["y"], mode="lines", line=dict(color=palette.INK, width=3),
                         showlegend=False, hoverinfo="skip"))
    return figure(data, dict(xaxis_title=x_title, yaxis_title=y_title, title=title, height=height))


def binned(g: pd.DataFrame, x_title: str, y_title: str, title: str = "", height: int = 400) -> go.Figure:
    """Bin means with 95% error bars, from bin_means."""
    return figure([dict(type="scatter", x=g["x"], y=g["y"], mode="markers", marker=dict(size=10, color=BRAND),
                        error_y=dict(type="data", array=1.96 * g["se"], color=GREY), showlegend=False)],
                  dict(xaxis_title=x_title, yaxis_title=y_title, title=title, height=height))


def heatmap(r: pd.DataFrame, q: pd.DataFrame, better: dict[str, int], names_rows: list[str], names_cols: list[str],
            hover: dict[str, str], title: str = "", height: int = 520, alpha: float = 0.05) -> go.Figure:
    """Correlations of inputs (rows) with KPIs (columns), coloured by what they mean, not by their sign: a
    correlation with a KPI's better direction (`better[kpi]` = +1 when higher is better, −1 when lower is)
    is green, with its worse direction red. Cells whose BH-adjusted q is at or above `alpha` are faded
    (and unstarred): not significant is never as loud as significant. The number in a cell stays the signed r.
    A transparent point sits on every cell, carrying the pair's ids (row id, column id) as custom data: Plotly
    reports clicks on points, not on heatmap cells, so this is what makes a cell clickable."""
    sign = np.array([better.get(c, 0) for c in r.columns], dtype=float)
    favour = r.to_numpy(dtype=float) * sign
    significant = (q.to_numpy(dtype=float) < alpha)
    colour = np.where(significant, favour, favour * 0.3)
    # rounded before the sign is written: −0.004 reads 0.00, not "−0.00"
    text = [[("" if not np.isfinite(v) else f"{round(v, 2) + 0.0:.2f}".replace("-", "−") + ("*" if s else ""))
             for v, s in zip(row, srow)] for row, srow in zip(r.to_numpy(dtype=float), significant)]
    cells_trace = dict(type="heatmap", z=colour, x=names_cols, y=names_rows, text=text, texttemplate="%{text}", hoverinfo="skip",
                       colorscale=palette.FAVOUR_SCALE, zmid=0, zmin=-1, zmax=1,
                       colorbar=dict(title="", tickvals=[-1, 0, 1], ticktext=[hover["worse"], "0", hover["better"]]))
    cells = [(i, j) for i in range(len(r.index)) for j in range(len(r.columns))]
    rv, qv = r.to_numpy(dtype=float), q.to_numpy(dtype=float)
    invisible = dict(marker=dict(opacity=0))
    points = dict(
        type="scatter", x=[names_cols[j] for _, j in cells], y=[names_rows[i] for i, _ in cells], mode="markers",
        showlegend=False, marker=dict(size=26, opacity=0, color=palette.BRAND), selected=invisible, unselected=invisible,
        customdata=[[r.index[i], r.columns[j], rv[i, j], qv[i, j]] for i, j in cells],
        hovertemplate="%{y} × %{x}<br>r = %{customdata[2]:.2f}<br>q = %{customdata[3]:.3f}<extra></extra>")
    # the axes end at the outer cells: autorange padded them for the clickable points' size, leaving empty
    # strips (with grid-line stubs) around the cells; and without a title, the template's top margin (room for
    # a legend, which a heatmap has not) was an empty band above them
    axes = dict(xaxis=dict(tickangle=-30, side="bottom", range=[-0.5, len(r.columns) - 0.5], showgrid=False),
                yaxis=dict(range=[len(r.index) - 0.5, -0.5], showgrid=False))  # first input at the top
    return figure([cells_trace, points], dict(title=title, height=height, **axes,
                                              **({} if title else {"margin": dict(t=24)})))


def event_study(df: pd.DataFrame, naive: pd.DataFrame | None, x_title: str, y_title: str, names: dict[str, str],
                title: str = "", height: int = 420) -> go.Figure:
    data = []
    for kind, color, label in (("pre", GREY, names["pre"]), ("post", BRAND, names["post"])):
        d = df[df["kind"] == kind]
        data.append(dict(type="scatter", x=d["event_time"], y=d["estimate"], mode="markers+lines", name=label,
                         marker=dict(color=color, size=8), line=dict(color=color),
                         error_y=dict(type="data", symmetric=False, array=d["ci_high"] - d["estimate"],
                                      arrayminus=d["estimate"] - d["ci_low"], color=color)))
    if naive is not None and not naive.empty:
        data.append(dict(type="scatter", x=naive["event_time"], y=naive["estimate"], mode="markers", name=names["naive"],
                         marker=dict(symbol="x", color=palette.NEUTRALS[3], size=8)))
    return figure(data, dict(shapes=[hline(0, color="#999"), vline(-0.5, dash="dash", color="#999")],
                             xaxis_title=x_title, yaxis_title=y_title, title=title, height=height))


def funnel(df: pd.DataFrame, rate: str, size: str, overall: float, x_title: str, y_title: str, label: str,
           per: float = 10_000, height: int = 420, ids: str | None = None, lower_is_better: bool = True,
           count_label: str = "") -> go.Figure:
    """Funnel plot of a Poisson rate against unit size, with 95% and 99.8% control limits, so a small
    unit's noisy rate is not read as a ranking. The units beyond the 99.8% limits are named on the chart
    (they are what a leader acts on, and a screenshot or slide loses the hover), red beyond the bad limit
    and green beyond the good one; the rest are neutral. With many units (`many`), all of them are a
    density; the MARKED farthest beyond their limits are points, and the NAMED farthest are named."""
    xs = np.linspace(max(df[size].min() * 0.8, 1), df[size].max() * 1.1, 100)
    z = (df[rate] - overall) / (np.sqrt(overall / per / df[size].clip(lower=1)) * per)
    beyond = z.abs() > 3.09
    named = beyond
    data = []
    if many(len(df)):
        lo, hi = float(df[rate].min()), float(df[rate].max())
        data.append(density(df[size], df[rate], (float(xs[0]), float(xs[-1])), (lo, hi if hi > lo else lo + 1),
                              count_label, colour=BRAND))
        far = z.abs()[beyond].nlargest(MARKED)
        df, z, beyond = df.loc[far.index], z.loc[far.index], beyond.loc[far.index]
        named = pd.Series(df.index.isin(far.nlargest(NAMED).index), index=df.index)
    bad = z * (1 if lower_is_better else -1) > 0  # on the bad side of the overall rate
    colours = [(BAD if w else GOOD) if b else palette.faded(BRAND, 0.6) for b, w in zip(beyond, bad)]
    data.append(dict(type="scatter", x=df[size], y=df[rate], mode="markers+text", text=df[label], showlegend=False,
                     texttemplate=[("%{text}" if n else "") for n in named], textposition="top center",
                     textfont=dict(size=11, color=[c if b else GREY for c, b in zip(colours, beyond)]),
                     customdata=df[[ids]] if ids else None,
                     marker=dict(size=9, color=colours, opacity=0.9),
                     hovertemplate="%{text}<br>%{x:,.0f}<br>%{y:.2f}<extra></extra>"))
    for zz, dash in ((1.96, "dash"), (3.09, "dot")):
        sd = np.sqrt(overall / per / xs) * per  # SD of a Poisson rate per `per` customers
        limit = dict(type="scatter", mode="lines", line=dict(color=GREY, dash=dash), showlegend=False, hoverinfo="skip")
        data += [dict(limit, x=xs, y=overall + zz * sd), dict(limit, x=xs, y=np.maximum(overall - zz * sd, 0))]
    return figure(data, dict(shapes=[hline(overall, color=BRAND)], xaxis_title=x_title, yaxis_title=y_title, height=height))


def coverage_heatmap(df: pd.DataFrame, title: str = "", height: int = 600) -> go.Figure:
    z = df.pivot_table(index="business_unit_name", columns="period", values="sources", aggfunc="max")
    return figure([dict(type="heatmap", z=z.values, x=list(z.columns), y=list(z.index), zmin=0, zmax=3,
                        colorscale=[[0, palette.STATUS["red"][1]], [0.34, palette.STATUS["amber"][1]],
                                    [0.67, palette.faded(GOOD, 0.35)], [1, GOOD]],
                        colorbar=dict(title="", tickvals=[0, 1, 2, 3]))],
                  dict(title=title, height=height, yaxis=dict(autorange="reversed", tickfont=dict(size=10))))


# --- numbers and dates in the reader's language -------------------------------------------------------
# Plotly formats ticks in English only ("Jan 2021", "50k"): every chart goes through `localize` before it
# is drawn or exported. Month axes read 2021年1月 / Jan 2021, quarter axes 2021 一季度 / Q1 2021, and axes of
# large numbers 5万 / 50K (Babel's compact forms of the locale).
LOCALE = {"zh": "zh_CN", "en": "en"}
PERIOD_CODE = re.compile(r"\d{4}(?:-\d{2}|Q[1-4])")
QUARTER_ZH = "一二三四"


def compact(v: float, lang: str) -> str:
    """5万 / 1.2亿 in Chinese, 50K / 1.2M in English; below ten thousand the plain number with separators."""
    from babel.numbers import format_compact_decimal, format_decimal

    if abs(v) < 10_000:
        return format_decimal(v, locale=LOCALE[lang], format="#,##0.##")
    return format_compact_decimal(v, locale=LOCALE[lang], fraction_digits=1).replace("-", "−")


def nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """Round tick values covering [lo, hi]: steps of 1, 2, 2.5 or 5 times a power of ten."""
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo:
        return [lo] if np.isfinite(lo) else []
    raw = (hi - lo) / target
    power = 10 ** np.floor(np.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    start = np.floor(lo / step) * step
    return [float(v) for v in np.arange(start, hi + step * 0.5, step)]


def _axis_values(fig: go.Figure, letter: str) -> list:
    values = []
    for trace in fig.data:
        if getattr(trace, "type", "") in ("heatmap",) or getattr(trace, "orientation", None) == "h" and letter == "y":
            continue
        v = getattr(trace, letter, None)
        if v is not None:
            values.extend(list(v))
    return values


def _is_quarter_starts(dates: pd.Series) -> bool:
    return len(dates) >= 2 and bool(((dates.dt.month - 1) % 3 == 0).all() and (dates.dt.day == 1).all()) \
        and bool((dates.dt.to_period("M").astype("int64").diff().dropna() % 3 == 0).all())


def quarter_tick(when: pd.Timestamp, lang: str) -> str:
    q = (when.month - 1) // 3 + 1
    return f"{when.year}<br>{QUARTER_ZH[q - 1]}季度" if lang == "zh" else f"Q{q}<br>{when.year}"


def localize(fig: go.Figure, lang: str) -> go.Figure:
    """Date and large-number ticks of the figure's x and y axes in `lang` (in place; returned for chaining).
    Axes whose ticks the builder set itself are left alone."""
    from catalogue.formats import fmt_period

    for letter in ("x", "y"):
        ax = fig.layout[f"{letter}axis"]
        if ax.ticktext is not None or ax.tickvals is not None or ax.type in ("log", "category"):
            continue
        codes = [v for tr in fig.data if getattr(tr, "type", "") == "heatmap" and getattr(tr, letter, None) is not None
                 for v in getattr(tr, letter)]
        if codes and all(isinstance(c, str) and PERIOD_CODE.fullmatch(c) for c in codes):
            # period codes on a heatmap (2021-01, 2021Q1): categories named as readers name them, not dates
            # Plotly would guess and label in English
            shown = codes[::max(1, int(np.ceil(len(codes) / 24)))]
            ax.update(type="category", tickvals=shown, ticktext=[fmt_period(c, lang) for c in shown])
            continue
        values = [v for v in _axis_values(fig, letter) if v is not None]
        if not values:
            continue
        if ax.type == "date" or isinstance(values[0], (pd.Timestamp, dt.date, np.datetime64)):
            dates = pd.Series(pd.to_datetime(pd.Series(values), errors="coerce").dropna().unique()).sort_values()
            if _is_quarter_starts(dates):
                shown = dates.iloc[::max(1, int(np.ceil(len(dates) / 12)))]
                ax.update(tickvals=list(shown), ticktext=[quarter_tick(d, lang) for d in shown])
            else:
                ax.update(tickformat="%Y年%-m月" if lang == "zh" else "%b %Y")
            ax.update(hoverformat="%Y-%m-%d")
            continue
        nums = pd.to_numeric(pd.Series(values), errors="coerce").dropna()
        if nums.empty or nums.abs().max() < 10_000:
            continue
        ticks = nice_ticks(float(nums.min()), float(nums.max()))
        ax.update(tickvals=ticks, ticktext=[compact(v, lang) for v in ticks])
    return fig


# --- no markup from data ----------------------------------------------------------------------------
# Plotly renders text as a small HTML dialect (<a href>, <b>, <br>, <span style> …): a unit named
# `<a href="…">` would become a live link in a chart and in the exported HTML. Every data-bearing string of
# a figure — trace text, hover text, custom data, names, category coordinates, tick labels, annotations — is
# entity-escaped by `plain_figure` before anything is drawn or exported. The templates the code writes
# itself (hovertemplate, titles) keep their markup; they hold no data.
TRACE_TEXT_FIELDS = ("text", "hovertext", "customdata", "name", "x", "y", "labels", "ids", "legendgroup")


def plain_text(value):
    """A string with Plotly's markup characters as entities; other values unchanged."""
    if isinstance(value, str):
        return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return value


def _plain(value):
    if isinstance(value, str):
        return plain_text(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, np.ndarray) and value.dtype == object:
        return np.vectorize(_plain, otypes=[object])(value) if value.size else value
    return value


def plain_figure(fig: go.Figure) -> go.Figure:
    """The figure with every data string escaped for Plotly (in place, once; returned for chaining)."""
    if getattr(fig, "_pbkpi_plain", False):
        return fig
    for trace in fig.data:
        for field in TRACE_TEXT_FIELDS:
            if field in trace and trace[field] is not None:
                value = trace[field]
                if isinstance(value, (pd.Series, pd.Index)):
                    if not (pd.api.types.is_object_dtype(value) or pd.api.types.is_string_dtype(value)):
                        continue  # numbers and dates hold no markup
                    value = value.to_numpy(dtype=object)
                trace[field] = _plain(value)
    for ann in fig.layout.annotations or ():
        ann.text = plain_text(ann.text)
    for axis in ("xaxis", "yaxis"):
        ax = fig.layout[axis]
        if ax.ticktext is not None:
            ax.ticktext = _plain(list(ax.ticktext))
    fig._pbkpi_plain = True
    return fig
