"""README tables generated from the contract and the metric catalogue, so the docs cannot drift:
`python -m etl docs` prints them; a test checks the README holds exactly this text."""
from __future__ import annotations

from catalogue import datasets, kpi_columns, metrics, profile, profiles, shared_metric_ids, sources, using

TYPE_WORDS = {
    "code": "code", "text": "text", "unit_ref": "branch code or name", "bu_ref": "business-unit code or name",
    "date": "date", "datetime": "date + time", "month": "month", "period": "period (2024, 2024H1, 2024Q3)",
    "count": "whole number ≥ 0", "number": "number ≥ 0", "percent": "0–100 (% sign optional)", "score": "0–100",
    "enum": "one of", "flag": "是/否",
}


def contract_markdown() -> str:
    """The contract as the power profile has it (the other profiles' differences: profiles_markdown)."""
    with using("power"):
        return _contract_markdown()


def _contract_markdown() -> str:
    out = []
    for ds in datasets().values():
        out.append(f"#### `{ds.id}` {ds.zh} — {ds.en}\n")
        out.append(f"Grain: {ds.grain}. Natural key (upsert): `{', '.join(ds.key)}`. Table: `{ds.table}`.\n")
        out.append("| column | 中文表头 | other accepted headers | type | unit | required | allowed values |")
        out.append("| --- | --- | --- | --- | --- | --- | --- |")
        for c in ds.columns:
            req = "yes" if c.required else (f"one of `{c.either}` group" if c.either else "")
            vals = "、".join(c.values) if c.values else ""
            out.append(f"| `{c.id}` | {c.zh} | {'、'.join(c.aliases)} | {TYPE_WORDS[c.type]} | {c.unit} | {req} | {vals} |")
        for r in ds.rules:
            out.append(f"\nRow rule: `{r.check}` — rejected as “{r.reason_zh}”.")
        out.append("")
    return "\n".join(out).strip() + "\n"


METRIC_HEADER = ["| id | 中文名 | English | unit | role | better | company roll-up | definition |",
                 "| --- | --- | --- | --- | --- | --- | --- | --- |"]


def _metric_rows(ms) -> list[str]:
    out = []
    for m in ms:
        better = {"higher": "higher", "lower": "lower"}.get(m.direction, "—")
        out.append(f"| `{m.id}` | {m.zh} | {m.en} | {m.unit_zh} | {m.role} | {better} | {m.rollup} | {m.aggregation} |")
    return out


def metrics_markdown() -> str:
    """The party-building metrics every profile shares (catalogue/metrics.toml)."""
    shared = set(shared_metric_ids())
    with using("power"):
        return "\n".join(METRIC_HEADER + _metric_rows(m for m in metrics().values() if m.id in shared)) + "\n"


def profiles_markdown() -> str:
    """Per industry profile: its words, the KPI file's columns, its KPIs, what the pages and briefing open on."""
    shared = set(shared_metric_ids())
    out = []
    for pid in profiles():
        with using(pid):
            prof = profile()
            voc = prof.vocabulary
            out.append(f"#### `{pid}` {prof.zh} — {prof.en}\n")
            out.append(f"A business unit is a {voc['unit_zh']} ({voc['unit_en']}). "
                       f"业务类型: {'、'.join(v['zh'] for v in voc['unit_types'])}. "
                       f"{voc['region_zh']} ({voc['region_en']}): {'、'.join(v['zh'] for v in voc['regions'])}. "
                       f"Datasets: {', '.join(f'`{d}`' for d in datasets())}.\n")
            fixed = [c for c in datasets()["kpi_monthly"].columns if c.id not in ("business_unit_id", "business_unit_name", "month")]
            cols = [(c, "column of `fct_kpi_monthly`") for c in fixed] + [(c, "kept by header in `fct_kpi_custom`") for c in kpi_columns()]
            out.append("KPI file (`kpi_monthly`) columns beyond unit and month:\n")
            out.append("| column | 中文表头 | other accepted headers | type | unit | stored |")
            out.append("| --- | --- | --- | --- | --- | --- |")
            for c, where in cols:
                out.append(f"| `{c.id}` | {c.zh} | {'、'.join(c.aliases)} | {TYPE_WORDS[c.type]} | {c.unit} | {where} |")
            out.append("\nBusiness metrics:\n")
            out += METRIC_HEADER + _metric_rows(m for m in metrics().values() if m.id not in shared)
            d = prof.defaults
            out.append(f"\nPages open on `{d['kpi']}` (event study: `{d['event_kpi']}`); overview cards "
                       f"{', '.join(f'`{c}`' for c in d['cards'])}; unit size `{d['size']}`; funnel "
                       f"`{d['funnel']['rate']}` = {d['funnel']['per']:g} × `{d['funnel']['count']}` / `{d['funnel']['exposure']}`. "
                       f"Briefing findings: " + "; ".join(f"`{f['x']}` → `{f['y']}` (lag {f['lag']})"
                                                         for f in prof.doc["briefing"]["findings"]) + ".\n")
    return "\n".join(out).strip() + "\n"


def reported_markdown() -> str:
    """What counts as reported, per source, with the metrics that need it (missing is never zero)."""
    with using("power"):
        return _reported_markdown()


def _reported_markdown() -> str:
    out = ["| source | metrics | a business unit-month is reported when … | otherwise |", "| --- | --- | --- | --- |"]
    for sid, src in sources().items():
        ids = [m.id for m in metrics().values() if sid in m.reported_by]
        out.append(f"| {src['zh']} — {src['en']} (`{sid}`) | {', '.join(f'`{i}`' for i in ids)} | {src['reported']} | {src['otherwise']} |")
    out.append("")
    out.append("A metric built from several sources needs all of them: "
               + "; ".join(f"`{m.id}` ({' + '.join(m.reported_by)})" for m in metrics().values() if len(m.reported_by) > 1) + ".")
    return "\n".join(out) + "\n"


def settings_markdown() -> str:
    """Every setting, from the one registry settings.py reads (names, kinds, defaults, meaning)."""
    import settings

    kinds = {"path": "path", "warehouse": "path or lake URL", "count": "whole number", "number": "number", "size": "size", "memory": "memory size",
             "bool": "yes/no", "choice": "one of", "text": "text", "list": "comma-separated"}
    out = ["| variable | default | accepts | meaning |", "| --- | --- | --- | --- |"]
    for st in settings.SETTINGS:
        accepts = kinds[st.kind] + (f" {' / '.join(st.choices)}" if st.choices else "")
        if st.kind == "size":
            accepts += f" (bare number in {st.unit})"
        if st.lo is not None or st.hi is not None:
            accepts += " (" + ", ".join(x for x in (f"≥ {st.lo:g}" if st.lo is not None else "",
                                                   f"≤ {st.hi:g}" if st.hi is not None else "") if x) + ")"
        default = f"`{st.default}`" if st.default else "—"
        out.append(f"| `{st.name}` | {default} | {accepts} | {st.doc.replace('|', '/')} |")
    return "\n".join(out) + "\n"


def generated_sections() -> dict[str, str]:
    return {"CONTRACT": contract_markdown(), "METRICS": metrics_markdown(), "PROFILES": profiles_markdown(),
            "REPORTED": reported_markdown(),
            "SETTINGS": settings_markdown()}


def render_into(readme: str) -> str:
    """Replace the text between <!-- BEGIN X --> and <!-- END X --> markers."""
    for name, body in generated_sections().items():
        begin, end = f"<!-- BEGIN {name} (generated by `python -m etl docs --write`) -->", f"<!-- END {name} -->"
        a, b = readme.index(begin) + len(begin), readme.index(end)
        readme = readme[:a] + "\n" + body + readme[b:]
    return readme
