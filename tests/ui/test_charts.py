"""The charts' colour language and reader's-language ticks (ui/palette, ui/charts), as properties."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from hypothesis import given, settings, strategies as st

from catalogue import datasets
from ui import charts, palette


def test_every_activity_type_has_its_own_fixed_colour():
    kinds = next(c.values for d in datasets().values() for c in d.columns if c.id == "activity_type")
    colours = [palette.activity_colour(k) for k in kinds]
    assert len(set(colours)) == len(kinds)  # 组织生活会 and 党小组会 no longer share a gold
    assert palette.GOOD not in colours and palette.BAD not in colours  # activity types are neither good nor bad
    assert palette.activity_colour("不在代码表中") == palette.GREY


def test_brand_colour_is_neither_good_nor_bad():
    assert palette.BRAND not in (palette.GOOD, palette.BAD, palette.AMBER)
    assert palette.NEUTRALS[0] == palette.BRAND and not {palette.GOOD, palette.BAD} & set(palette.NEUTRALS)


@given(r=st.floats(-1, 1).filter(lambda r: r == 0 or abs(r) > 1e-9), q=st.floats(0, 1), better=st.sampled_from([1, -1]))
@settings(max_examples=200, deadline=None)
def test_heatmap_colour_means_favourable_and_fades_when_not_significant(r, q, better):
    fig = charts.heatmap(pd.DataFrame([[r]], index=["a"], columns=["k"]), pd.DataFrame([[q]], index=["a"], columns=["k"]),
                         {"k": better}, ["a"], ["k"], {"better": "有利", "worse": "不利"})
    z = fig.data[0].z[0][0]
    assert np.sign(z) == np.sign(r * better)  # green when the input goes with the KPI's better direction
    assert abs(z) == pytest.approx(abs(r) * (1 if q < 0.05 else 0.3))  # not significant: faded
    text = fig.data[0].text[0][0]
    assert text.endswith("*") == (q < 0.05)
    assert float(text.rstrip("*").replace("−", "-")) == pytest.approx(r, abs=0.0051)  # the number stays signed r (2 decimals)
    assert text.rstrip("*") != "−0.00"  # a zero is never written with a sign
    # the axes end at the outer cells (no padded strip around them), the first row at the top
    assert tuple(fig.layout.xaxis.range) == (-0.5, 0.5) and tuple(fig.layout.yaxis.range) == (0.5, -0.5)


def test_funnel_colours_by_side_and_names_the_units_beyond():
    df = pd.DataFrame({"rate": [1.0, 1.1, 0.9, 6.0, 0.0], "size": [50_000, 40_000, 60_000, 80_000, 200_000],
                       "name": ["甲", "乙", "丙", "高投诉所", "零投诉所"], "id": ["A", "B", "C", "D", "E"]})
    fig = charts.funnel(df, "rate", "size", 1.0, "x", "y", "name", ids="id")
    points = fig.data[0]
    colours = dict(zip(df["name"], points.marker.color))
    named = {n for n, tpl in zip(df["name"], points.texttemplate) if tpl}
    assert colours["高投诉所"] == palette.BAD and colours["零投诉所"] == palette.GOOD
    assert named == {"高投诉所", "零投诉所"}
    higher_better = charts.funnel(df, "rate", "size", 1.0, "x", "y", "name", ids="id", lower_is_better=False)
    assert dict(zip(df["name"], higher_better.data[0].marker.color))["高投诉所"] == palette.GOOD


QUAD_LABELS = {"both_strong": "双强", "pb_strong_biz_weak": "党建强业务弱", "biz_strong_pb_weak": "业务强党建弱", "both_weak": "双弱"}


def _units(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"pb_index": rng.uniform(0, 100, n), "biz_index": rng.uniform(0, 100, n)})
    df["quadrant"] = np.select([(df.pb_index >= 50) & (df.biz_index >= 50), (df.pb_index >= 50), (df.biz_index >= 50)],
                               ["both_strong", "pb_strong_biz_weak", "biz_strong_pb_weak"], "both_weak")
    df["business_unit_name"] = [f"单位{i}" for i in range(n)]
    df["unit_type_label"], df["region_label"], df["unit"] = "供电所", "城区", [f"BU{i:05d}" for i in range(n)]
    return df


def test_quadrant_names_the_best_and_worst_and_counts_each_corner():
    df = _units(40)
    labels = QUAD_LABELS
    fig = charts.quadrant(df, labels, "党建指数", "业务指数", "zh")
    named = {t for tr in fig.data for t, tpl in zip(tr.text, tr.texttemplate) if tpl}
    total = df.pb_index + df.biz_index
    assert named == set(df.loc[total.nsmallest(3).index, "business_unit_name"]) | set(df.loc[total.nlargest(3).index, "business_unit_name"])
    corners = {a.text for a in fig.layout.annotations}
    for q, word in labels.items():
        assert f"{word}（{int((df.quadrant == q).sum())}）" in corners
    assert not any(tr.showlegend for tr in fig.data)  # nothing to collide with the axis title


@pytest.mark.parametrize("lang, want", [("zh", ["0", "5万", "10万", "15万", "20万"]), ("en", ["0", "50K", "100K", "150K", "200K"])])
def test_large_number_ticks_in_the_readers_language(lang, want):
    fig = charts.localize(go.Figure(go.Scatter(x=[3_000, 120_000, 210_000], y=[1, 2, 3])), lang)
    assert list(fig.layout.xaxis.ticktext) == want
    assert fig.layout.yaxis.ticktext is None  # small numbers keep Plotly's own ticks


@given(st.lists(st.integers(2015, 2030), min_size=1, max_size=3), st.sampled_from(["zh", "en"]))
@settings(max_examples=30, deadline=None)
def test_quarter_and_month_axes_in_the_readers_language(years, lang):
    quarters = pd.date_range(f"{min(years)}-01-01", f"{max(years)}-12-01", freq="QS")
    fig = charts.localize(charts.line(pd.DataFrame({"p": quarters, "v": range(len(quarters))}), "p", {"v": "v"}), lang)
    ticks = list(fig.layout.xaxis.ticktext)
    pattern = r"\d{4}<br>[一二三四]季度" if lang == "zh" else r"Q[1-4]<br>\d{4}"
    assert ticks and all(re.fullmatch(pattern, t) for t in ticks) and len(ticks) <= 12
    months = pd.date_range(f"{min(years)}-01-01", periods=14, freq="MS")
    fig = charts.localize(charts.line(pd.DataFrame({"p": months, "v": range(14)}), "p", {"v": "v"}), lang)
    assert fig.layout.xaxis.tickformat == ("%Y年%-m月" if lang == "zh" else "%b %Y")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_period_codes_on_a_heatmap_are_named_not_guessed_as_dates(lang):
    from catalogue.formats import fmt_period

    codes = [f"{y}-{m:02d}" for y in (2024, 2025) for m in range(1, 13)]
    fig = charts.localize(go.Figure(go.Heatmap(z=[list(range(24))], x=codes, y=["甲"])), lang)
    assert fig.layout.xaxis.type == "category"
    assert list(fig.layout.xaxis.ticktext) == [fmt_period(c, lang) for c in fig.layout.xaxis.tickvals]


@given(n=st.integers(charts.MANY - 5, charts.MANY * 4), seed=st.integers(0, 10**6))
@settings(max_examples=25, deadline=None)
def test_a_quadrant_of_many_units_counts_all_of_them_and_marks_the_farthest(n, seed):
    """Beyond MANY units: the density holds every unit once, the corners count every unit, and the points
    are exactly the MARKED farthest from the centre plus the named best and worst; below it, every unit is
    a point and there is no density."""
    df = _units(n, seed)
    fig = charts.quadrant(df, QUAD_LABELS, "党建指数", "业务指数", "zh", count_label="单位数")
    heat = [t for t in fig.data if t.type == "heatmap"]
    points = [t for t in fig.data if t.type == "scatter"]
    shown = {u for t in points for u in (c[2] for c in t.customdata)}
    for q, word in QUAD_LABELS.items():
        assert f"{word}（{int((df.quadrant == q).sum())}）" in {a.text for a in fig.layout.annotations}
    total = df.pb_index + df.biz_index
    ends = set(df.loc[total.nsmallest(3).index, "unit"]) | set(df.loc[total.nlargest(3).index, "unit"])
    if not charts.many(n):
        assert not heat and shown == set(df["unit"])
        return
    (h,) = heat
    assert np.nansum(np.array(h.z, dtype=float)) == n
    far = (df.pb_index - 50) ** 2 + (df.biz_index - 50) ** 2
    assert shown == set(df.loc[far.nlargest(charts.MARKED).index, "unit"]) | ends
    named = {t for tr in points for t, tpl in zip(tr.text, tr.texttemplate) if tpl}
    assert named == set(df.loc[df["unit"].isin(ends), "business_unit_name"])


@given(n=st.integers(charts.MANY - 5, charts.MANY * 4), seed=st.integers(0, 10**6), lower=st.booleans())
@settings(max_examples=25, deadline=None)
def test_a_funnel_of_many_units_counts_all_of_them_and_marks_the_farthest_beyond(n, seed, lower):
    rng = np.random.default_rng(seed)
    size = rng.integers(2_000, 200_000, n).astype(float)
    rate = rng.poisson(1.0 * size / 10_000) / size * 10_000 * rng.choice([1.0, 1.0, 1.0, 2.5], n)
    df = pd.DataFrame({"rate": rate, "size": size, "name": [f"所{i}" for i in range(n)], "id": [f"U{i}" for i in range(n)]})
    fig = charts.funnel(df, "rate", "size", 1.0, "x", "y", "name", ids="id", lower_is_better=lower, count_label="单位数")
    heat = [t for t in fig.data if t.type == "heatmap"]
    points = fig.data[1] if heat else fig.data[0]
    shown = [c[0] for c in points.customdata]
    z = (df.rate - 1.0) / np.sqrt(1.0 / 10_000 / df["size"]) / 10_000
    if not charts.many(n):
        assert not heat and shown == list(df["id"])
        return
    (h,) = heat
    assert np.nansum(np.array(h.z, dtype=float)) == n  # every unit in the density, none lost at the edges
    beyond = z.abs()[z.abs() > 3.09]
    assert set(shown) == set(df.loc[beyond.nlargest(charts.MARKED).index, "id"])
    named = {i for i, tpl in zip(shown, points.texttemplate) if tpl}
    assert named == set(df.loc[beyond.nlargest(charts.NAMED).index, "id"])
    colours = dict(zip(shown, points.marker.color))
    bad = z * (1 if lower else -1) > 0
    assert all(colours[i] == (palette.BAD if bad[k] else palette.GOOD) for k, i in zip(df.index, df["id"]) if i in colours)


@given(n=st.integers(10, 3000), seed=st.integers(0, 10**6), spread=st.floats(0.01, 1e4))
@settings(max_examples=40, deadline=None)
def test_a_sampled_scatter_is_a_density_that_counts_every_point_and_keeps_the_fit_line(n, seed, spread):
    rng = np.random.default_rng(seed)
    x = pd.Series(rng.standard_t(3, n) * spread)
    y = pd.Series(0.5 * x + rng.standard_t(3, n) * spread)
    fig = charts.scatter_fit(x, y, "x", "y", count_label="点数")
    heat, fitted = fig.data[0], fig.data[1]
    assert heat.type == "heatmap" and np.nansum(np.array(heat.z, dtype=float)) == n  # outliers land in the edge cells
    assert fitted.mode == "lines" and len(fitted.x) >= 2
    b, a = np.polyfit(x, y, 1)  # the same OLS line, drawn over the density's span (the middle 99% of x)
    lo, hi = np.nanquantile(x, [0.005, 0.995])
    assert fitted.x[0] == pytest.approx(lo) and fitted.x[-1] == pytest.approx(hi if hi > lo else lo + 1)
    assert np.allclose(fitted.y, a + b * np.array(fitted.x), rtol=1e-6, atol=1e-6 * (1 + abs(a) + abs(b) * spread))
    plain = charts.scatter_fit(x, y, "x", "y")
    assert plain.data[0].type == "scatter" and len(plain.data[0].x) == n


_events = st.lists(st.tuples(st.dates(min_value=pd.Timestamp("2019-01-01").date(), max_value=pd.Timestamp("2026-12-01").date()),
                             st.text(min_size=1, max_size=8)), max_size=8)


@given(initiatives=_events, notes=_events)
@settings(max_examples=40, deadline=None)
def test_event_marks_of_two_kinds_added_at_once_keep_each_mark(initiatives, notes):
    """The profile's KPI trend adds its initiative and note markers in one `add_marks` call (a second call
    re-validates every mark already there): each event keeps its line at its date, its label and its colour,
    after the marks the figure already had."""
    df = pd.DataFrame({"period_start": pd.date_range("2021-01-01", periods=12, freq="MS"), "v": np.arange(12.0)})
    fig = charts.line(df, "period_start", {"v": "v"})
    charts.add_marks(fig, [charts.hline(5.0)])  # a mark the figure already has
    events = [(when, label, palette.BRAND) for when, label in initiatives] + [(when, label, palette.GREY) for when, label in notes]
    charts.add_marks(fig, *charts.event_marks(events))
    assert len(fig.layout.shapes) == 1 + len(events) and len(fig.layout.annotations) == len(events)
    assert fig.layout.shapes[0].y0 == 5.0
    for shape, ann, (when, label, colour) in zip(fig.layout.shapes[1:], fig.layout.annotations, events):
        assert shape.x0 == shape.x1 == pd.Timestamp(when).timestamp() * 1000 and shape.line.color == colour
        assert ann.text == label and ann.font.color == colour and pd.Timestamp(ann.x) == pd.Timestamp(when)


@given(values=st.lists(st.sampled_from(["供电所", "县公司", "城区", "农村", "不在代码表中", None]), max_size=30),
       group=st.sampled_from(["unit_type", "region"]), lang=st.sampled_from(["zh", "en"]))
@settings(max_examples=60, deadline=None)
def test_value_labels_of_a_column_equal_each_value_label(values, group, lang):
    """The pages label a column of 11,842 units once per distinct value (ui/i18n.value_labels): the result is
    value_label of each row, a missing value shown as "—"."""
    from ui.i18n import value_label, value_labels

    got = value_labels(pd.Series(values, dtype=object), group, lang)
    assert list(got) == [value_label(group, v, lang) for v in values]
