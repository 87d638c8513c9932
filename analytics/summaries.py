"""Plain-language summaries of results, zh and en, from the templates in catalogue/strings.toml.

Every sentence is chosen by the result's verdict (analytics/results.py VERDICTS), never by re-reading the
numbers here: tests validate the verdicts, the sentences follow. A correlation, fit or direction check is
never described as a cause; an event study is "consistent with an effect" only with the verdict `effect`
(interval clear of zero, pre-trend test run and not rejected), and then with its caveat; a non-rejected
pre-trend test is "no evidence of different pre-trends (power is limited)", never "moved alike". Effects
are given in the KPI's own units."""
from __future__ import annotations

from catalogue import metric, metrics, t
from catalogue.formats import delta_unit, fmt_effect, fmt_number, fmt_p
from analytics.results import CorrelationResult, EventStudyResult, FitResult, QuartileResult, ReverseResult, WhatIfResult


def _name(mid: str, lang: str) -> str:
    return metric(mid).name(lang) if mid in metrics() else mid


def _unit(mid: str, lang: str) -> str:
    return metric(mid).unit(lang) if mid in metrics() else ""


def _lag_phrase(k: int, grain: str, lang: str) -> str:
    if k == 0:
        return ""
    return t(f"lag.{grain if grain in ('month', 'quarter') else 'month'}", lang, k=k)


def summarize_fit(res: FitResult, lang: str = "zh") -> str:
    parts = []
    for x, c in zip(res.x, res.coefficients):
        word = t("word.higher" if c.estimate > 0 else "word.lower", lang)
        parts.append(t("sum.fit.effect", lang, x_name=_name(x, lang), lag_phrase=_lag_phrase(res.lag, res.grain, lang),
                       x_unit=_unit(x, lang), y_name=_name(res.y, lang), word=word,
                       abs_effect=fmt_effect(abs(c.estimate)).lstrip("+"), y_unit=_unit(res.y, lang),
                       ci_low=fmt_effect(c.ci_low), ci_high=fmt_effect(c.ci_high), p=fmt_p(c.p_value)))
        parts.append(t("sum.fit.sig" if res.verdicts[c.name] == "association" else "sum.fit.nonsig", lang))
        sd = res.x_within_sd.get(c.name)
        if sd and c.std_effect is not None:
            parts.append(t("sum.fit.std", lang, sd=fmt_number(sd, 2), x_unit=_unit(x, lang), y_name=_name(res.y, lang),
                           std_effect=fmt_effect(c.std_effect), y_unit=_unit(res.y, lang)))
    parts.append(t("sum.fit.basis", lang, n_units=res.n_units, n_periods=res.n_periods, n_obs=f"{res.n_obs:,}",
                   grain_word=t(f"grain.{res.grain if res.grain in ('month', 'quarter') else 'custom'}", lang)))
    parts.append(t("sum.fit.caveat", lang))
    return ("" if lang == "zh" else " ").join(parts)


def summarize_event_study(res: EventStudyResult, lang: str = "zh") -> str:
    verdict = res.verdict
    p_pre = fmt_p(res.pretrend_p)
    pre_clause = "" if verdict != "no_clear_effect" else t(
        "sum.es.pre_none" if res.pretrend_p is None else "sum.es.pre_ok" if res.pretrend_passes else "sum.es.pre_bad",
        lang, p_pre=p_pre)
    text = t(f"sum.es.{verdict}", lang, treat_name=_name(res.treatment, lang), y_name=_name(res.y, lang),
             att=fmt_effect(res.att.estimate), y_unit=_unit(res.y, lang), ci_low=fmt_effect(res.att.ci_low),
             ci_high=fmt_effect(res.att.ci_high), n_treated=res.n_treated_units, p_pre=p_pre, pre_clause=pre_clause)
    sep = "" if lang == "zh" else " "
    return text.strip() + sep + t("sum.es.caveat", lang)


def summarize_reverse(res: ReverseResult, lang: str = "zh") -> str:
    sep = "" if lang == "zh" else " "
    text = t(f"sum.rev.{res.verdict}", lang, x_name=_name(res.x, lang), y_name=_name(res.y, lang),
             p_f=fmt_p(res.forward.p_value), p_b=fmt_p(res.backward.p_value)) + sep + t("sum.rev.caveat", lang)
    if res.grain == "quarter":  # a month-to-month order is blurred by quarterly sums (README: on the demo the
        text += sep + t("sum.rev.quarter_caveat", lang)  # planted monthly reverse link reads forward by quarter)
    return text


def summarize_insufficient_direction(lang: str = "zh") -> str:
    from analytics.reverse import MIN_PERIODS, MIN_UNITS

    return t("sum.rev.insufficient_data", lang, min_periods=MIN_PERIODS, min_units=MIN_UNITS)


def summarize_correlations(res: CorrelationResult, lang: str = "zh") -> str:
    p = res.table[res.table.method == "pearson"]
    n_pairs = len(p[p.scope == "within"])
    text = t("sum.corr.head", lang, n_pairs=n_pairs, n_tests=res.settings.get("n_tests", len(res.table)),
             n_sig_within=int((p[p.scope == "within"].verdict == "association").sum()),
             n_sig_pooled=int((p[p.scope == "pooled"].verdict == "association").sum()))
    if len(res.simpson):
        s = res.simpson.iloc[(res.simpson.r_pooled - res.simpson.r_within).abs().argmax()]
        key = "sum.corr.simpson_one" if len(res.simpson) == 1 else "sum.corr.simpson"  # "1 pairs change" read wrong
        text += ("" if lang == "zh" else " ") + t(key, lang, n=len(res.simpson), x=_name(s.input, lang),
                                                  y=_name(s.kpi, lang), rp=f"{s.r_pooled:.2f}", rw=f"{s.r_within:.2f}")
    return text


def summarize_quartiles(res: QuartileResult, lang: str = "zh") -> str:
    word = t("word.higher" if res.diff_pct > 0 else "word.lower", lang)
    return t("sum.quart", lang, x_name=_name(res.x, lang), y_name=_name(res.y, lang), word=word,
             abs_pct=f"{abs(res.diff_pct):.1f}", ci_low=f"{res.ci_low:.1f}", ci_high=f"{res.ci_high:.1f}",
             n=min(res.n_top, res.n_bottom), lag_phrase=_lag_phrase(res.lag, res.settings.get("grain", "month"), lang))


def summarize_whatif(res: WhatIfResult, lang: str = "zh") -> str:
    rule = res.settings.get("total_rule", "sum")
    total_label = t("word.total_sum" if rule == "sum" else "word.total_group", lang)
    # a change of a rate in % is in percentage points ("+0.2 个百分点"), as on the cards
    y_unit = delta_unit(res.y, lang) if res.y in metrics() else ""
    return t("sum.whatif", lang, n_units=res.n_units, y_name=_name(res.y, lang), y_unit=y_unit,
             mean=fmt_effect(res.mean_delta), lo=fmt_effect(res.mean_ci[0]), hi=fmt_effect(res.mean_ci[1]),
             total=fmt_effect(res.total_delta), total_label=total_label,
             tlo=fmt_effect(res.total_ci[0]), thi=fmt_effect(res.total_ci[1]))


def summarize_whatif_counts(res: WhatIfResult, lang: str = "zh") -> str | None:
    """The scenario in the KPI's countable units for the whole group over a quarter, from its verdict: about
    how many fewer (or more) complaints, with the interval and against today's count; "" without a count."""
    verdict = res.counts_verdict
    if verdict is None:
        return None
    from catalogue import metric

    c = res.counts
    what = metric(res.y).count_name(lang)
    n = lambda v: f"{abs(v):,.0f}"  # noqa: E731
    pct = 100.0 * c["delta"] / c["baseline"] if c["baseline"] else float("nan")
    return t(f"sum.whatif_counts.{verdict}", lang, what=what, n=n(c["delta"]), lo=fmt_effect(c["ci"][0]),
             hi=fmt_effect(c["ci"][1]), base=n(c["baseline"]), pct=f"{abs(pct):.1f}")


def whatif_warning(warning: tuple[str, dict], lang: str = "zh") -> str:
    """A what-if warning (WhatIfResult.warnings: a string key and its values) in words, metrics by name."""
    key, values = warning
    named = {k: (_name(v, lang) if k in ("x", "y") else v) for k, v in values.items()}
    return t(key, lang, **named)
