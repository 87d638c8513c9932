"""The README's generated tables match the catalogue; every string exists in both languages; every
metric's SQL is used by the panels."""
import re
from pathlib import Path

import pytest

from catalogue import metrics, profiles, strings, t, using
from etl.docs import render_into

ROOT = Path(__file__).resolve().parents[1]


def test_readme_tables_are_current():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert render_into(readme) == readme, "run `python -m etl docs --write`"


def _leaves(d, prefix=""):
    for k, v in d.items():
        if isinstance(v, dict) and "zh" not in v:
            yield from _leaves(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", v


def test_every_string_has_both_languages():
    for key, entry in _leaves(strings()):
        assert set(entry) == {"zh", "en"}, key
        assert entry["zh"].strip() and entry["en"].strip(), key
    for prof in profiles().values():  # an industry's own words, its unit types and areas
        for key, entry in [*prof.doc.get("strings", {}).items(), *((v["zh"], v) for k in ("unit_type", "region")
                                                                    for v in prof.values(k))]:
            assert set(entry) == {"zh", "en"} and entry["zh"].strip() and entry["en"].strip(), (prof.id, key)


@pytest.mark.parametrize("pid", ["power", "oilfield", "plant"])
def test_every_profile_is_complete_and_says_the_same_things(pid):
    """A profile names every metric it uses, in both languages, and overrides only strings that exist."""
    with using(pid) as prof:
        ids = set(metrics())
        d = prof.defaults
        used = {d["kpi"], d["event_kpi"], d["size"], *d["cards"], *d["trend"], *(v for k, v in d["funnel"].items() if k != "per")}
        b = prof.doc["briefing"]
        used |= {*b["headline"], *b["rank_kpis"], *b["narrative"], *(f[k] for f in b["findings"] for k in ("x", "y")),
                 *(e[k] for e in b["event_studies"] for k in ("treatment", "y")), *prof.doc.get("target", {})}
        assert used <= ids, used - ids
        for key in prof.doc.get("strings", {}):
            assert key in dict(_leaves(strings())), key
        for m in metrics().values():
            assert m.zh.strip() and m.en.strip() and m.direction in ("higher", "lower", "none"), m.id


def test_every_key_used_in_code_exists():
    used = set()
    for f in list((ROOT / "pages").glob("*.py")) + list((ROOT / "ui").glob("*.py")) + [ROOT / "app.py"]:
        used |= set(re.findall(r'tr\("([a-z_.0-9]+)"', f.read_text(encoding="utf-8")))
    for key in used:
        assert t(key, "zh") and t(key, "en"), key


def test_metric_entries_complete():
    for m in metrics().values():
        assert m.direction in ("higher", "lower", "none"), m.id
        assert m.role in ("input", "kpi", "context"), m.id
        assert m.rollup == "sum" or m.rollup == "mean" or m.rollup.startswith("wmean:"), m.id


# what marks a source as reported for a business unit-month in the panel
SOURCE_MARK = {"kpi": "customers", "membership": "members", "activities": "activities_total"}


@pytest.mark.parametrize("grain", ["month", "quarter"])
def test_a_value_exists_only_where_its_sources_reported(demo_db, first_week_db, grain):
    """The catalogue's missing-data rule holds in the warehouse (the demo, and a company's first week with
    a unit that reported nothing yet): wherever a source a metric is reported by did not report, the metric
    is missing (never 0)."""
    import pandas as pd

    from application.warehouse import Warehouse
    from catalogue import metrics

    panel = pd.concat([Warehouse(db).snapshot().panel(grain) for db in (demo_db, first_week_db)], ignore_index=True)
    checked = 0
    for m in metrics().values():
        for src in m.reported_by:
            mark = SOURCE_MARK.get(src)
            if mark is None or mark == m.id:
                continue
            silent = panel[mark].isna()
            assert silent.any(), f"the demo has no unit-{grain} without {src}: nothing checked"
            assert panel.loc[silent, m.id].isna().all(), f"{m.id} has values where {src} did not report"
            checked += 1
    assert checked >= 20
