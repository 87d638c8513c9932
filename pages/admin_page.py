"""系统管理 Administration: accounts (role, data scope, disable, unlock, reset password) and the audit log.
Only the admin role reaches this page (app.py); every change is audited."""
import json

import pandas as pd
import streamlit as st

import settings
from auth.audit import EVENTS
from auth.roles import ROLES
from auth.store import AuthError
from catalogue import default_targets, metrics, save_targets, targets
from ui import layout, signin
from ui.i18n import lang, said, tr

layout.header("page.admin.title", "page.admin.caption", needs_rows=False)
if settings.auth_mode() == "none":
    st.info(tr("auth.disabled"))
    layout.stop()
store, log = signin.store(str(settings.auth_db())), signin.audit_log(str(settings.audit_path()))
role_label = (lambda r: ROLES[r].zh) if lang() == "zh" else (lambda r: ROLES[r].en)


def nodes_of(text: str) -> list[str]:
    return [n.strip() for n in text.replace("，", ",").split(",") if n.strip()]


st.subheader(tr("page.admin.users"))
users = pd.DataFrame(store.users())
st.dataframe(users.assign(role=users["role"].map(role_label), scope=users["scope"].map(", ".join)).rename(columns={
    "account": tr("auth.account"), "name": tr("table.name"), "role": tr("page.admin.role"), "scope": tr("page.admin.scope"),
    "disabled": tr("page.admin.disabled"), "failures": tr("page.admin.failures"), "locked": tr("page.admin.locked")}),
    hide_index=True)

with st.expander(tr("page.admin.add")), st.form("admin_add", clear_on_submit=True):
    c1, c2, c3 = st.columns(3)
    account = c1.text_input(tr("auth.account"))
    name = c2.text_input(tr("table.name"))
    role = c3.selectbox(tr("page.admin.role"), list(ROLES), format_func=role_label)
    scope = st.text_input(tr("page.admin.scope_help"))
    password = st.text_input(tr("auth.password"), type="password")
    if st.form_submit_button(tr("page.admin.add"), type="primary"):
        try:
            u = store.add_user(account, name, role, password, nodes_of(scope))
            signin.audit("account_changed", target=u.account, change="added", role=u.role, scope=sorted(u.nodes))
            st.success(tr("page.admin.done"))
        except AuthError as exc:
            st.error(said(exc))

with st.expander(tr("page.admin.change")), st.form("admin_change"):
    target = st.selectbox(tr("auth.account"), list(users["account"]) if len(users) else [])
    action = st.radio(tr("page.admin.action"), ["role", "scope", "disable", "enable", "unlock", "password"],
                      format_func=lambda a: tr(f"page.admin.action_{a}"), horizontal=True)
    new_role = st.selectbox(tr("page.admin.role"), list(ROLES), format_func=role_label)
    new_scope = st.text_input(tr("page.admin.scope_help"), key="admin_new_scope")
    new_password = st.text_input(tr("auth.password"), type="password", key="admin_new_password")
    if st.form_submit_button(tr("page.admin.apply")) and target:
        try:
            if action == "role":
                store.set_role(target, new_role)
            elif action == "scope":
                store.set_scope(target, nodes_of(new_scope))
            elif action in ("disable", "enable"):
                store.set_disabled(target, action == "disable")
            elif action == "unlock":
                store.unlock(target)
            else:
                store.set_password(target, new_password)
            signin.audit("account_changed", target=target, change=action,
                         **({"role": new_role} if action == "role" else {"scope": nodes_of(new_scope)} if action == "scope" else {}))
            st.success(tr("page.admin.done"))
        except AuthError as exc:
            st.error(said(exc))

st.subheader(tr("page.admin.targets"))
st.caption(tr("page.admin.targets_help"))
in_force, shipped = targets(), default_targets()
rated = [m for m in metrics().values() if m.direction in ("higher", "lower")]


def number_text(v) -> str:
    """A target in the editor: the number, or empty (a missing number would show as a grey "None")."""
    return "" if v is None or pd.isna(v) else f"{float(v):g}"


def number_of(text) -> float | None:
    text = str(text or "").strip().replace("，", ".").replace("%", "")
    return float(text) if text else None


table = pd.DataFrame({
    "metric": [m.id for m in rated],
    tr("page.admin.t_metric"): [f"{m.name(lang())}（{m.unit(lang())}）" if m.unit(lang()) else m.name(lang()) for m in rated],
    tr("page.admin.t_good"): ["≥" if m.direction == "higher" else "≤" for m in rated],
    tr("page.admin.t_on"): [m.id in in_force for m in rated],
    tr("page.admin.t_value"): [number_text(in_force.get(m.id, shipped.get(m.id, {})).get("value")) for m in rated],
    tr("page.admin.t_amber"): [number_text(in_force.get(m.id, shipped.get(m.id, {})).get("amber")) for m in rated],
})
edited = st.data_editor(table, hide_index=True, key="admin_targets", column_config={"metric": None},
                        disabled=[tr("page.admin.t_metric"), tr("page.admin.t_good")])
if st.button(tr("page.admin.t_save"), key="admin_targets_save", type="primary"):
    new, bad = {}, []
    for _, row in edited.iterrows():
        on = row[tr("page.admin.t_on")]
        try:
            value, amber = number_of(row[tr("page.admin.t_value")]), number_of(row[tr("page.admin.t_amber")])
        except ValueError:
            bad.append(row[tr("page.admin.t_metric")])
            continue
        new[row["metric"]] = {"value": value, "amber": amber} if on and value is not None and amber is not None else None
    try:
        if bad:
            raise ValueError(tr("page.admin.t_not_number", metrics="、".join(bad)))
        save_targets(new, signin.current().account)
    except ValueError as exc:
        st.error(said(exc))
    else:
        changed = {k: v for k, v in new.items() if v != in_force.get(k) and not (v is None and k not in in_force)}
        signin.audit("targets_changed", changes=changed)
        st.success(tr("page.admin.done"))

st.subheader(tr("page.admin.audit"))
c1, c2, c3 = st.columns(3)
who = c1.text_input(tr("auth.account"), key="admin_audit_account")


def event_label(e) -> str:
    return tr(f"audit_event.{e}") if e in EVENTS else str(e or "")


what = c2.selectbox(tr("page.admin.event"), ["", *EVENTS], key="admin_audit_event",
                    format_func=lambda e: event_label(e) if e else tr("filter.all"))
SINCE_DAYS = (0, 1, 7, 30, 90, 365)  # 0: every entry
days = c3.selectbox(tr("page.admin.since"), SINCE_DAYS, key="admin_audit_since",
                    format_func=lambda d: tr("filter.all") if not d else tr("page.admin.since_days", n=d))
since = (pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=days)).date() if days else None
entries = log.entries(who.strip() or None, what or None, since.isoformat() if since else None, limit=2000)
st.dataframe(pd.DataFrame([{tr("table.time"): str(e.get("time", "")).replace("T", " ")[:19],
                            tr("page.admin.event"): event_label(e.get("event")),
                            tr("auth.account"): e.get("account") or "",
                            tr("page.admin.details"): json.dumps({k: v for k, v in e.items() if k not in ("time", "event", "account")},
                                                                 ensure_ascii=False)} for e in entries],
                          columns=[tr("table.time"), tr("page.admin.event"), tr("auth.account"), tr("page.admin.details")]),
             hide_index=True, height=400)
st.download_button(tr("page.admin.audit_json"), "\n".join(json.dumps(e, ensure_ascii=False) for e in entries),
                   file_name="audit.jsonl", mime="application/json", key="admin_audit_dl")
