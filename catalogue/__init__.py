"""The metric catalogue, the input data contract and the UI strings, read from the TOML files beside
this module. Everything user-visible (metric names, units, column names, page text) comes from here."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

HERE = Path(__file__).parent
LANGS = ("zh", "en")


@dataclass(frozen=True)
class Metric:
    id: str
    zh: str
    en: str
    unit_zh: str
    unit_en: str
    role: str
    direction: str
    month: str
    quarter: str
    aggregation: str
    decimals: int
    rollup: str = "mean"
    index: str | None = None
    scales_with: str | None = None  # a total that grows with unit size: analysed through its rate
    valid_min: float | None = None  # default: 0
    valid_max: float | None = None  # default: 100 for percentages and points, none otherwise
    reported_by: tuple[str, ...] = ()  # the sources a unit-month needs for a value (catalogue [source.*])
    # a rate with a count behind it: value × weight (the rollup's) / count_per = how many (what-if's
    # decision terms: complaints, customer-hours); count_zh/en name what is counted
    count_per: float | None = None
    count_zh: str = ""
    count_en: str = ""

    def count_name(self, lang: str = "zh") -> str:
        return self.count_zh if lang == "zh" else self.count_en

    def name(self, lang: str = "zh") -> str:
        return self.zh if lang == "zh" else self.en

    @property
    def bounds(self) -> tuple[float, float]:
        """The values the metric can take (a prediction outside them is cut to them)."""
        lo = 0.0 if self.valid_min is None else float(self.valid_min)
        hi = self.valid_max if self.valid_max is not None else (100.0 if self.unit_en in ("%", "points") else float("inf"))
        return lo, float(hi)

    def unit(self, lang: str = "zh") -> str:
        return self.unit_zh if lang == "zh" else self.unit_en

    def shown_unit(self, lang: str = "zh") -> str:
        """The unit to print beside the name: none when the name already says it ("Complaints per 10k
        customers", not "… (per 10k customers)")."""
        u = self.unit(lang)
        return "" if u and u in self.name(lang) else u

    def label(self, lang: str = "zh") -> str:
        """Name with unit, for axes and table headers."""
        u = self.shown_unit(lang)
        return f"{self.name(lang)}（{u}）" if (u and lang == "zh") else (f"{self.name(lang)} ({u})" if u else self.name(lang))

    @property
    def sign(self) -> int:
        """+1 when higher is better, -1 when lower is better, 0 when neither."""
        return {"higher": 1, "lower": -1}.get(self.direction, 0)


@dataclass(frozen=True)
class Column:
    id: str
    zh: str
    en: str
    type: str
    aliases: tuple[str, ...] = ()
    required: bool = False
    either: str | None = None
    values: tuple[str, ...] = ()
    values_en: tuple[str, ...] = ()
    unit: str = ""
    when: str = "event"  # dates: event | history | plan (plausible range, see contract.toml)

    def name(self, lang: str = "zh") -> str:
        return self.zh if lang == "zh" else self.en


@dataclass(frozen=True)
class Rule:
    check: str
    reason_zh: str
    reason_en: str


@dataclass(frozen=True)
class Dataset:
    id: str
    zh: str
    en: str
    grain: str
    key: tuple[str, ...]
    table: str
    columns: tuple[Column, ...]
    rules: tuple[Rule, ...] = field(default_factory=tuple)
    custom_metrics: bool = False

    def column(self, cid: str) -> Column:
        for c in self.columns:
            if c.id == cid:
                return c
        raise KeyError(cid)

    def name(self, lang: str = "zh") -> str:
        return self.zh if lang == "zh" else self.en


def _load(name: str) -> dict:
    with open(HERE / name, "rb") as fh:
        return tomllib.load(fh)


@lru_cache(maxsize=1)
def metrics() -> dict[str, Metric]:
    out = {}
    known = set(sources())
    for m in _load("metrics.toml")["metric"]:
        m = {**m, "reported_by": tuple(m.get("reported_by", ()))}
        unknown = set(m["reported_by"]) - known
        if not m["reported_by"] or unknown:
            raise ValueError(f"catalogue/metrics.toml: metric {m['id']} needs reported_by from {sorted(known)}, got {m['reported_by']}")
        out[m["id"]] = Metric(**m)
    return out


def sources() -> dict[str, dict]:
    """The data sources and what counts as reported for each (catalogue/metrics.toml [source.*])."""
    return _load("metrics.toml")["source"]


def metric(mid: str) -> Metric:
    try:
        return metrics()[mid]
    except KeyError:
        known = "、".join(metrics())
        raise KeyError(f"未知指标 '{mid}'（unknown metric id）。可用指标：{known}") from None


def metric_ids(role: str | None = None) -> list[str]:
    return [m.id for m in metrics().values() if role is None or m.role == role]


@lru_cache(maxsize=1)
def datasets() -> dict[str, Dataset]:
    out = {}
    for d in _load("contract.toml")["dataset"]:
        cols = tuple(
            Column(
                id=c["id"], zh=c["zh"], en=c["en"], type=c["type"],
                aliases=tuple(c.get("aliases", ())), required=c.get("required", False),
                either=c.get("either"), values=tuple(c.get("values", ())),
                values_en=tuple(c.get("values_en", ())), unit=c.get("unit", ""), when=c.get("when", "event"),
            )
            for c in d["column"]
        )
        rules = tuple(Rule(**r) for r in d.get("rule", ()))
        out[d["id"]] = Dataset(
            id=d["id"], zh=d["zh"], en=d["en"], grain=d["grain"], key=tuple(d["key"]),
            table=d["table"], columns=cols, rules=rules, custom_metrics=d.get("custom_metrics", False),
        )
    return out


@lru_cache(maxsize=1)
def strings() -> dict[str, dict[str, str]]:
    return _load("strings.toml")


def t(key: str, lang: str = "zh", **kw) -> str:
    """Translate a UI string key; `kw` fills {placeholders}."""
    entry = strings()
    for part in key.split("."):
        entry = entry.get(part) if isinstance(entry, dict) else None
        if entry is None:
            raise KeyError(f"missing UI string '{key}' in catalogue/strings.toml")
    if "zh" not in entry:
        raise KeyError(f"'{key}' in catalogue/strings.toml is a group, not a string")
    text = entry.get(lang) or entry["zh"]
    return text.format(**kw) if kw else text


@lru_cache(maxsize=1)
def default_targets() -> dict[str, dict]:
    """The targets shipped with the product (catalogue/targets.toml): examples for the synthetic company."""
    return _load("targets.toml").get("target", {})


_override_cache: dict = {}


def _override() -> dict:
    """The company's own targets, set by an administrator in the app (PBKPI_TARGETS, outside the warehouse):
    {"targets": {metric: {"value", "amber"}}, "saved_at", "saved_by", "history": [...]}; {} when none."""
    import json

    import settings

    path = settings.targets_path()
    try:
        stamp = path.stat().st_mtime_ns
    except FileNotFoundError:
        return {}
    if _override_cache.get("key") != (str(path), stamp):
        _override_cache.update(key=(str(path), stamp), doc=json.loads(path.read_text(encoding="utf-8")))
    return _override_cache["doc"]


def targets() -> dict[str, dict]:
    """The targets in force: the company's own (set in the app) over the shipped defaults."""
    merged = {k: dict(v) for k, v in default_targets().items()}
    for mid, tg in _override().get("targets", {}).items():
        if tg is None:
            merged.pop(mid, None)  # an administrator removed the target
        else:
            merged[mid] = {**merged.get(mid, {}), **tg}
    return merged


def targets_digest() -> str:
    """Changes whenever the targets in force change (part of the key of results that show status)."""
    import hashlib
    import json

    return hashlib.sha256(json.dumps(targets(), sort_keys=True).encode()).hexdigest()[:16]


def save_targets(new: dict[str, dict | None], by: str | None) -> None:
    """Write the company's targets (metric -> {"value", "amber"}, or None to remove one), keeping the earlier
    versions in the file's history. Raises ValueError naming a metric or value that cannot be used."""
    import datetime as dt
    import json
    import os
    import tempfile

    import settings

    for mid, tg in new.items():
        if mid not in metrics():
            raise ValueError(f"未知指标 {mid}。(unknown metric)")
        if tg is not None:
            if not isinstance(tg.get("value"), (int, float)) or not isinstance(tg.get("amber"), (int, float)) or tg["amber"] < 0:
                raise ValueError(f"指标 {metric(mid).zh} 的目标值和容差须为数字，容差不能为负。(target and band must be numbers)")
    old = _override()
    doc = {"targets": new, "saved_at": dt.datetime.now().isoformat(timespec="seconds"), "saved_by": by,
           "history": (old.get("history", []) + [{k: old[k] for k in ("targets", "saved_at", "saved_by") if k in old}])[-50:]
           if old else []}
    path = settings.targets_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, ensure_ascii=False, indent=2)
    os.replace(tmp, path)


@lru_cache(maxsize=1)
def requirements() -> list[dict]:
    """The required frequencies of branch activities (catalogue/practice.toml)."""
    return _load("practice.toml")["required"]


@lru_cache(maxsize=1)
def briefing_config() -> dict:
    return _load("briefing.toml")


def target_status(mid: str, value, in_force: dict[str, dict] | None = None) -> str:
    """green / amber / red against the targets in force (`in_force`, default targets()), respecting the
    metric's good direction; "" when the metric has no target or no value."""
    tg = (targets() if in_force is None else in_force).get(mid)
    if tg is None or value is None or value != value:
        return ""
    gap = (value - tg["value"]) * metric(mid).sign
    return "green" if gap >= 0 else "amber" if gap >= -tg["amber"] else "red"
