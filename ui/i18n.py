"""The current language and the translation helpers the pages use. Strings live in catalogue/strings.toml
and catalogue/metrics.toml; nothing user-visible is written in a page.

Widget `format_func`s must not read session state when called (Streamlit may call them outside the
script run), so pages pass `fmt(...)`, which binds the language at the time the widget is created."""
from __future__ import annotations

from typing import Callable

import streamlit as st

from catalogue import LANGS, metric, metrics, t, value_text, value_texts


def lang() -> str:
    v = st.session_state.get("lang", "zh")
    return v if v in LANGS else "zh"


def tr(key: str, **kw) -> str:
    return t(key, lang(), **kw)


def mname(mid: str, lang_: str | None = None) -> str:
    return metric(mid).name(lang_ or lang()) if mid in metrics() else mid


def mlabel(mid: str, lang_: str | None = None) -> str:
    return metric(mid).label(lang_ or lang()) if mid in metrics() else mid


def munit(mid: str, lang_: str | None = None) -> str:
    return metric(mid).unit(lang_ or lang()) if mid in metrics() else ""


def value_label(group: str, value: str | None, lang_: str | None = None) -> str:
    """Display form of an enumerated value (unit type, region, quadrant …) in the current language."""
    return value_text(group, value, lang_ or lang())


def value_labels(values, group: str, lang_: str | None = None):
    """The labels of a column of such values, looked up once per distinct value (catalogue.value_texts)."""
    return value_texts(values, group, lang_ or lang())


def fmt(kind: str, arg: str | None = None) -> Callable[[object], str]:
    """A format_func with the language fixed now: fmt("metric"), fmt("label"), fmt("value", "region"),
    fmt("key", "filter.grain_") (translates prefix + option), fmt("period") (2025Q4 → 2025年四季度)."""
    L = lang()
    if kind == "metric":
        return lambda x: mname(x, L)
    if kind == "label":
        return lambda x: mlabel(x, L)
    if kind == "value":
        return lambda x: value_label(arg, x, L)
    if kind == "key":
        return lambda x: t(f"{arg}{x}", L)
    if kind == "period":
        from catalogue.formats import fmt_period

        return lambda x: fmt_period(x, L)
    raise ValueError(kind)


def said(error) -> str:
    """An error's message as the reader's language shows it (catalogue.formats.for_reader)."""
    from catalogue.formats import for_reader

    return for_reader(str(error), lang())
