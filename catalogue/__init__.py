"""The metric catalogue, the input data contract and the UI strings, read from the TOML files beside
this module. Everything user-visible (metric names, units, column names, page text) comes from here.

What a process sees depends on the *active* catalogue: an industry profile (catalogue/profiles/*.toml: the
business KPIs, the organisation's words, page defaults, briefing, targets) plus the metrics an administrator
defined in the warehouse (catalogue/defined.py). Whoever opens a warehouse activates its catalogue
(`activate`); one warehouse has one profile, so a dashboard server or a command line has one at a time."""
from __future__ import annotations

import json
import os
import re
import threading
import tomllib
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

HERE = Path(__file__).parent
LANGS = ("zh", "en")
DEFAULT_PROFILE = "power"


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
    rate: str | None = None  # that rate (a metric id), offered instead of the total
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
        # as a word of its own: "t" is not said by "Incremental oil"
        said = u and re.search(rf"(?<![A-Za-z]){re.escape(u)}(?![A-Za-z])", self.name(lang))
        return "" if said else u

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


# ---------------------------------------------------------------- profiles and the active catalogue

@dataclass(frozen=True)
class Profile:
    """One industry's catalogue (catalogue/profiles/<id>.toml)."""
    id: str
    zh: str
    en: str
    doc: dict = field(repr=False, compare=False, hash=False)

    def name(self, lang: str = "zh") -> str:
        return self.zh if lang == "zh" else self.en

    @property
    def vocabulary(self) -> dict:
        return self.doc["vocabulary"]

    @property
    def defaults(self) -> dict:
        return self.doc["defaults"]

    def values(self, kind: str) -> list[dict]:
        """The organisation file's allowed values of `unit_type` or `region`, each {zh, en}."""
        return self.vocabulary[{"unit_type": "unit_types", "region": "regions"}[kind]]


@lru_cache(maxsize=1)
def profiles() -> dict[str, Profile]:
    """Every shipped profile, power first."""
    out = {}
    for path in sorted((HERE / "profiles").glob("*.toml"), key=lambda p: (p.stem != DEFAULT_PROFILE, p.stem)):
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
        head = doc["profile"]
        if head["id"] != path.stem:
            raise ValueError(f"{path}: profile id {head['id']!r} must match the file name")
        out[head["id"]] = Profile(head["id"], head["zh"], head["en"], doc)
    return out


def env_profile() -> str:
    """The profile a new warehouse is created with (PBKPI_PROFILE, default power)."""
    pid = os.environ.get("PBKPI_PROFILE", "").strip() or DEFAULT_PROFILE
    check_profile(pid)
    return pid


def check_profile(pid: str) -> None:
    if pid not in profiles():
        raise ValueError(f"未知的行业配置「{pid}」；可选：{'、'.join(profiles())}。(unknown profile)")


_lock = threading.Lock()
_active: tuple[str, str] | None = None  # (profile id, the defined metrics as canonical JSON)


def activate(profile_id: str | None = None, defined: list[dict] | tuple = ()) -> bool:
    """Make a warehouse's catalogue the one this process reads: its profile (None: PBKPI_PROFILE) and the
    metrics defined in it. Returns True when that changed what metrics() etc. return."""
    global _active
    pid = profile_id or env_profile()
    check_profile(pid)
    key = (pid, json.dumps(list(defined), sort_keys=True, ensure_ascii=False))
    if key != _active:
        _columns_for(key), _metrics_for(key)  # a catalogue that does not hold together raises here, before it is used
    with _lock:
        if key == _active:
            return False
        _active = key
    return True


@contextmanager
def using(profile_id: str, defined: list[dict] | tuple = ()):
    """The catalogue of `profile_id` for the duration of a block (docs, tests), then the one before."""
    global _active
    before = _active
    activate(profile_id, defined)
    try:
        yield profiles()[profile_id]
    finally:
        with _lock:
            _active = before


def active_key() -> tuple[str, str]:
    """Identifies the active catalogue (for caches that depend on it)."""
    return _active or (env_profile(), "[]")


def profile() -> Profile:
    return profiles()[active_key()[0]]


def size_metric() -> str:
    """The metric that measures how big a unit is in this industry (customers, wells, headcount)."""
    return profile().defaults["size"]


def defined_metrics() -> list[dict]:
    """The metric definitions an administrator saved in the warehouse (catalogue/defined.py bodies)."""
    return json.loads(active_key()[1])


def metrics() -> dict[str, Metric]:
    return _metrics_for(active_key())


def shared_metric_ids() -> list[str]:
    """The party-building metrics every profile shares (catalogue/metrics.toml), in its order."""
    return [m["id"] for m in _load("metrics.toml")["metric"]]


def kpi_columns() -> tuple[Column, ...]:
    """The KPI file's columns that are kept in fct_kpi_custom (by header) rather than in a column of
    fct_kpi_monthly: the profile's and the administrator's. Their base column in the panels is their id."""
    return _columns_for(active_key())


def profile_columns() -> tuple[Column, ...]:
    """The industry profile's own KPI file columns kept by header (their values are checked on load by type)."""
    return _columns_for((active_key()[0], "[]"))


@lru_cache(maxsize=16)
def _columns_for(key) -> tuple[Column, ...]:
    from catalogue import defined as dm

    prof = profiles()[key[0]]
    cols = [_column(c) for c in prof.doc.get("column", ())]
    for body in json.loads(key[1]):
        cols += [_column({**c, "type": c.get("type", "number")}) for c in body["columns"]]
    dm.check_columns(cols)
    return tuple(cols)


@lru_cache(maxsize=16)
def _metrics_for(key) -> dict[str, Metric]:
    from catalogue import defined as dm

    prof = profiles()[key[0]]
    known = set(_sources_for(key[0]))
    raw = list(_load("metrics.toml")["metric"]) + list(prof.doc.get("metric", ()))
    raw += [b["metric"] for b in json.loads(key[1])]
    out = {}
    for m in raw:
        m = dm.expand(m)
        m = {**m, "reported_by": tuple(m.get("reported_by", ()))}
        unknown = set(m["reported_by"]) - known
        if not m["reported_by"] or unknown:
            raise ValueError(f"catalogue: metric {m['id']} needs reported_by from {sorted(known)}, got {m['reported_by']}")
        if m["id"] in out:
            raise ValueError(f"catalogue: metric {m['id']} is defined twice")
        out[m["id"]] = Metric(**m)
    dm.check_references(out)
    return out


def sources() -> dict[str, dict]:
    """The data sources and what counts as reported for each (catalogue/metrics.toml and the profile's [source.*])."""
    return _sources_for(active_key()[0])


@lru_cache(maxsize=8)
def _sources_for(pid: str) -> dict[str, dict]:
    return {**_load("metrics.toml")["source"], **profiles()[pid].doc.get("source", {})}


def metric(mid: str) -> Metric:
    try:
        return metrics()[mid]
    except KeyError:
        known = "、".join(metrics())
        raise KeyError(f"未知指标 '{mid}'（unknown metric id）。可用指标：{known}") from None


def metric_ids(role: str | None = None) -> list[str]:
    return [m.id for m in metrics().values() if role is None or m.role == role]


def _column(c: dict) -> Column:
    return Column(
        id=c["id"], zh=c["zh"], en=c["en"], type=c["type"],
        aliases=tuple(c.get("aliases", ())), required=c.get("required", False),
        either=c.get("either"), values=tuple(c.get("values", ())),
        values_en=tuple(c.get("values_en", ())), unit=c.get("unit", ""), when=c.get("when", "event"),
    )


def datasets() -> dict[str, Dataset]:
    """The datasets the active profile accepts: the organisation file's unit types and regions in its words,
    the KPI file's fixed columns of its industry (its other KPI columns: kpi_columns())."""
    return _datasets_for(active_key()[0])


@lru_cache(maxsize=8)
def _datasets_for(pid: str) -> dict[str, Dataset]:
    prof = profiles()[pid]
    offered = prof.doc["profile"].get("datasets")
    out = {}
    for d in _load("contract.toml")["dataset"]:
        if offered is not None and d["id"] not in offered:
            continue
        cols = []
        for c in d["column"]:
            if c.get("profile", pid) != pid:
                continue
            if d["id"] == "org_units" and c["id"] in ("unit_type", "region"):
                vals = prof.values(c["id"])
                c = {**c, "values": [v["zh"] for v in vals], "values_en": [v["en"] for v in vals]}
                if c["id"] == "region":
                    c = {**c, "zh": prof.vocabulary["region_zh"], "en": prof.vocabulary["region_en"]}
            cols.append(_column(c))
        rules = tuple(Rule(**r) for r in d.get("rule", ()))
        out[d["id"]] = Dataset(
            id=d["id"], zh=d["zh"], en=d["en"], grain=d["grain"], key=tuple(d["key"]),
            table=d["table"], columns=tuple(cols), rules=rules, custom_metrics=d.get("custom_metrics", False),
        )
    return out


@lru_cache(maxsize=1)
def strings() -> dict[str, dict[str, str]]:
    return _load("strings.toml")


def t(key: str, lang: str = "zh", **kw) -> str:
    """Translate a UI string key (the active profile's words first); `kw` fills {placeholders}."""
    entry = _profile_strings(active_key()[0]).get(key)
    if entry is None:
        entry = strings()
        for part in key.split("."):
            entry = entry.get(part) if isinstance(entry, dict) else None
            if entry is None:
                raise KeyError(f"missing UI string '{key}' in catalogue/strings.toml")
        if "zh" not in entry:
            raise KeyError(f"'{key}' in catalogue/strings.toml is a group, not a string")
    text = entry.get(lang) or entry["zh"]
    return text.format(**kw) if kw else text


def value_text(group: str, value, lang: str) -> str:
    """Display form of an enumerated value (unit type, region, quadrant …) in `lang`; "—" for none, the
    value itself when the catalogue has no word for it."""
    if value is None:
        return "—"
    try:
        return t(f"{group}.{value}", lang)
    except KeyError:
        return str(value)


def value_texts(values, group: str, lang: str):
    """`value_text` of every value of a column (a pandas Series), looked up once per distinct value: a
    column of 11,842 units' types took 23,700 lookups a run at group scale, 0.1 s of the overview's run."""
    out = values.map({v: value_text(group, v, lang) for v in values.dropna().unique()}).astype(object)
    return out.where(out.notna(), "—")


def _profile_strings(pid: str) -> dict[str, dict]:
    """The profile's words over strings.toml: its [strings] ("page.overview.funnel" = {zh, en}) and the
    names of its unit types and regions (unit_type.<value>, region.<value>)."""
    prof = profiles()[pid]
    out = dict(prof.doc.get("strings", {}))
    for kind in ("unit_type", "region"):
        for v in prof.values(kind):
            out[f"{kind}.{v['zh']}"] = v
    return out


def default_targets() -> dict[str, dict]:
    """The targets shipped with the active profile: examples for its synthetic company."""
    return profile().doc.get("target", {})


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
        if mid not in metrics():  # a target for another industry's metric (one file, several warehouses)
            continue
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


def briefing_config() -> dict:
    """What the quarterly briefing reports under the active profile (its [briefing])."""
    return profile().doc["briefing"]


def target_status(mid: str, value, in_force: dict[str, dict] | None = None) -> str:
    """green / amber / red against the targets in force (`in_force`, default targets()), respecting the
    metric's good direction; "" when the metric has no target or no value."""
    tg = (targets() if in_force is None else in_force).get(mid)
    if tg is None or value is None or value != value:
        return ""
    gap = (value - tg["value"]) * metric(mid).sign
    return "green" if gap >= 0 else "amber" if gap >= -tg["amber"] else "red"
