"""What a Chinese view must not show a leader: catalogue ids, file paths, formulas, English words, `None`,
scientific notation, `-0.0`. `developer_text(text)` lists the offending fragments of a view's visible text.

Latin that is legitimately part of Chinese text is allowed: units (MWh, kWh, kV, km, h), the industry's
own abbreviations (SAIDI, SAIFI, RS-1, 95598 …), statistics' letters (r, p, q, N), file kinds (CSV, PDF,
PPTX, Excel), the product's name, and unit/branch codes from the data (BU001, B0001, …)."""
from __future__ import annotations

import re

from catalogue import datasets, metrics

ALLOWED = {
    # product, file kinds, systems
    "PB", "KPI", "Lens", "CSV", "PDF", "PPTX", "HTML", "Excel", "xlsx", "csv", "UTF", "GBK", "GB", "URL", "ID",
    "OIDC", "SSO", "DuckDB", "MB", "KB",
    # industry abbreviations and units
    "SAIDI", "SAIFI", "CAIDI", "ASAI", "RS", "MWh", "kWh", "kV", "km", "h", "min",
    # statistics (letters and the estimators' names, used inside sentences with their Chinese explanation)
    "r", "p", "q", "N", "n", "k", "t", "BH", "CI", "SE", "ATT", "TWFE", "DiD", "OLS", "FE", "CR", "Spearman",
    "Pearson", "Granger", "Benjamini", "Hochberg", "Callaway", "Sant", "Anna", "Borusyak", "Jaravel", "Spiess", "Sun", "Abraham", "Gardner", "DL", "T", "IEEE", "fixest", "R",
    "Q", "vs",
    # quadrant/period letters as they appear in Chinese dates
    "e",
}
CODE = re.compile(r"^(BU|B|U|R|C)\d+[A-Z0-9]*$")  # unit and branch codes from the data
WORD = re.compile(r"[A-Za-z][A-Za-z_]*[A-Za-z0-9_]*")
PATH = re.compile(r"(?:[A-Za-z]:\\|/)?[\w.\-]+(?:[/\\][\w.\-]+)*\.(?:toml|py|duckdb|json|sql|log)\b")
SCI = re.compile(r"\d\.?\d*e[+-]?\d+", re.IGNORECASE)
NEG_ZERO = re.compile(r"(?<![\d.])-0(?:\.0+)?(?![\d.])")


def _catalogue_ids() -> set[str]:
    ids = set(metrics())
    for ds in datasets().values():
        ids |= {ds.id, ds.table} | {c.id for c in ds.columns if "_" in c.id}
    return {i for i in ids if "_" in i}


def developer_text(text: str) -> list[str]:
    """The fragments of `text` that a Chinese view should not show."""
    found = []
    ids = _catalogue_ids()
    found += PATH.findall(text)
    found += [m for m in SCI.findall(text)]
    found += [m for m in NEG_ZERO.findall(text)]
    for word in WORD.findall(text):
        if word in ALLOWED or CODE.match(word):
            continue
        if word in ids or "_" in word:
            found.append(word)  # an id (kpi_monthly, complaints_per_10k)
        elif word in ("None", "nan", "NaN", "NaT", "null", "undefined", "True", "False"):
            found.append(word)
        elif len(word) >= 2 and not word.isupper():
            found.append(word)  # an English word in a Chinese view
    return found


# What a person sees on a Streamlit page, read in the browser: visible text nodes (not icon ligatures, not
# text hidden at font-size 0), the CSS `::after` texts that replace Streamlit's own, and the charts' SVG text.
# Dataframes are drawn on a canvas: their headers and cells are checked through AppTest instead.
VISIBLE_TEXT_JS = """() => {
  const parts = [];
  const skip = (el) => el.closest('[data-testid="stIconMaterial"], [data-testid="stAlertDynamicIcon"], [translate="no"]');
  for (const root of document.querySelectorAll('[data-testid="stMain"], [data-testid="stSidebar"]')) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement;
      if (!el || !n.textContent.trim() || skip(el)) continue;
      if (el.closest('svg')) { parts.push(n.textContent); continue; }
      const style = getComputedStyle(el);
      if (style.fontSize === '0px' || !el.checkVisibility({visibilityProperty: true})) continue;
      parts.push(n.textContent);
    }
    for (const el of root.querySelectorAll('*')) {
      const after = getComputedStyle(el, '::after').content;
      if (after && after !== 'none' && after !== 'normal' && after.startsWith('"')) parts.push(JSON.parse(after));
    }
  }
  return parts.join('\\n');
}"""

LANGUAGE_SWITCH = ("语言 / Language", "English")  # the switch names itself in both languages, on purpose


def visible_developer_text(page) -> list[str]:
    """developer_text of everything visible on a Playwright page, the language switch aside."""
    lines = [ln for ln in page.evaluate(VISIBLE_TEXT_JS).splitlines() if ln.strip() not in LANGUAGE_SWITCH]
    return [f"{frag} ← {ln.strip()[:120]}" for ln in lines for frag in developer_text(ln)]
