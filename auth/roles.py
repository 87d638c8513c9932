"""Roles and what each may do. Pages a role may open; `export` covers every download (CSV, PPTX, HTML,
PNG), `upload` the Data page's loading, `admin` the accounts and the audit log."""
from __future__ import annotations

from dataclasses import dataclass

STAT_PAGES = ("overview", "profile", "relationships", "tests", "whatif", "briefing", "screen")


@dataclass(frozen=True)
class Role:
    id: str
    zh: str
    en: str
    pages: tuple[str, ...]
    permissions: frozenset[str]


ROLES = {r.id: r for r in (
    Role("leader", "领导", "leader", STAT_PAGES, frozenset()),
    Role("secretary", "支部书记", "branch secretary", ("overview", "profile", "briefing"), frozenset({"annotate"})),
    Role("analyst", "分析员", "analyst", STAT_PAGES, frozenset({"export", "annotate"})),
    Role("steward", "数据管理员", "data steward", (*STAT_PAGES, "data"), frozenset({"export", "upload", "annotate"})),
    Role("admin", "系统管理员", "administrator", (*STAT_PAGES, "data", "admin"),
         frozenset({"export", "upload", "admin", "annotate"})),
)}
