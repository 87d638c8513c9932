"""Sign-in before any data is read, the session's idle timeout, the signed-in user's scope and role, the
watermark bearing their name, and the audit of what they view and export (auth/ holds the accounts and
the log; this module is their Streamlit side)."""
from __future__ import annotations

import logging
import time
from datetime import datetime

import streamlit as st

import settings
from auth.audit import AuditLog
from auth.store import COMPANY, AuthError, AuthStore, User
from ui.i18n import said, tr

log = logging.getLogger(__name__)
# PBKPI_AUTH=none: no sign-in (development and tests); everything is shown as to an administrator
NOBODY = User("dev", "开发模式", "admin", frozenset({COMPANY}))
# PBKPI_AUTH=local: the browser keeps its session in this cookie (an opaque token; the accounts file keeps
# its hash), so a reload or a new tab stays signed in until sign-out or PBKPI_SESSION_MINUTES idle
COOKIE = "pbkpi_session"
TOUCH_SECONDS = 60  # how often a session's last use is written (not on every widget rerun)


@st.cache_resource(show_spinner=False)
def store(path: str) -> AuthStore:
    return AuthStore(path)


@st.cache_resource(show_spinner=False)
def audit_log(path: str) -> AuditLog:
    return AuditLog(path)


def current() -> User:
    """The signed-in user of this session (app.py has required one)."""
    return NOBODY if settings.auth_mode() == "none" else st.session_state["_user"]


def may(permission: str) -> bool:
    return current().can(permission)


def exported(what: str, fmt: str) -> None:
    """Audit a download (a download button's on_click)."""
    sel = st.session_state.get("selection")
    audit("export", what=what, format=fmt, selection=sel.__dict__ if sel is not None else None)


def audit(event: str, **details) -> None:
    """Write an audit entry for the signed-in user (nothing in PBKPI_AUTH=none mode)."""
    if settings.auth_mode() == "none":
        return
    user = st.session_state.get("_user")
    audit_log(str(settings.audit_path())).write(event, user.account if user else None, **details)


def require() -> User:
    """The signed-in user; otherwise the sign-in form is drawn and the run stops. An idle session ends
    after PBKPI_SESSION_MINUTES."""
    if settings.auth_mode() == "none":
        return NOBODY
    _cookie_op()
    user: User | None = st.session_state.get("_user")
    now = time.time()
    if user is None and settings.auth_mode() == "local":
        user = _resume()
    if user is not None and now - st.session_state.get("_seen", now) > settings.session_minutes() * 60:
        audit("session_expired")
        if st.session_state.get("_token"):
            store(str(settings.auth_db())).close_session(st.session_state["_token"])
            st.session_state["_cookie"] = "clear"
            _cookie_op()
        _clear()
        st.session_state["_signin_note"] = tr("auth.expired")
        user = None
        if settings.auth_mode() == "oidc" and st.user.is_logged_in:
            st.logout()  # the identity cookie too: otherwise the next run would sign in again by itself
    token = st.session_state.get("_token") if user is not None else None
    if token and now - st.session_state.get("_touched", 0) > TOUCH_SECONDS:
        # once a minute the session is checked, not only touched: a sign-out in another tab, a disabled
        # account or a reset password ends this tab's session too
        try:
            store(str(settings.auth_db())).resume(token, settings.session_minutes() * 60, now)
            st.session_state["_touched"] = now
        except AuthError as exc:
            log.info("session of %s ended elsewhere: %s", user.account, exc)
            st.session_state.setdefault("_closed", set()).add(token)
            st.session_state["_cookie"] = "clear"
            _cookie_op()
            _clear()
            st.session_state["_signin_note"] = str(exc)
            user = None
    if user is not None:
        st.session_state["_seen"] = now
        return user
    if settings.auth_mode() == "header":
        _from_gateway()
    elif settings.auth_mode() == "oidc":
        _from_oidc()
    else:
        _form()
    st.stop()


def still_signed_in() -> bool:
    """For a rerun of a page's fragment (app.py does not run, so `require` does not): True when the session
    is signed in, not idle too long, and its once-a-minute check against the accounts store is not due.
    Otherwise False: the caller reruns the whole app, whose `require` ends or renews the session."""
    if settings.auth_mode() == "none":
        return True
    now = time.time()
    if st.session_state.get("_user") is None or now - st.session_state.get("_seen", now) > settings.session_minutes() * 60:
        return False
    if st.session_state.get("_token") and now - st.session_state.get("_touched", 0) > TOUCH_SECONDS:
        return False
    st.session_state["_seen"] = now
    return True


def _from_gateway() -> None:
    """PBKPI_AUTH=header: the intranet gateway (CAS, 企业微信 … behind a reverse proxy) has signed the user
    in and names the account in a header; it is believed only from the configured proxy addresses."""
    # the connection's peer — the proxy itself; Streamlit reports a loopback peer as None
    ip = st.context.ip_address or "127.0.0.1"
    account = (st.context.headers.get(settings.auth_header()) or "").strip()
    log_ = audit_log(str(settings.audit_path()))
    if ip not in settings.trusted_proxies():
        log_.write("signin_failed", account or None, reason="untrusted address", address=ip)
        st.error(tr("auth.untrusted"))
        return
    if not account:
        log_.write("signin_failed", None, reason="no account header", address=ip)
        st.error(tr("auth.no_header"))
        return
    try:
        user = store(str(settings.auth_db())).active(account)
    except AuthError as exc:
        log_.write("signin_failed", account[:64], reason=str(exc).split("。")[0], address=ip)
        st.error(said(exc))
        return
    st.session_state["_user"], st.session_state["_seen"] = user, time.time()
    audit("signin", role=user.role, scope=sorted(user.nodes), via="header")
    st.rerun()


def _from_oidc() -> None:
    """PBKPI_AUTH=oidc: company single sign-on through OpenID Connect (st.login; the provider is configured in
    .streamlit/secrets.toml). The identity token's claim PBKPI_OIDC_CLAIM names the account, which must exist
    here and be enabled: the company's directory says who someone is, this system what they may see."""
    from auth.oidc import account_from_claims

    if not st.user.is_logged_in:
        st.title(tr("auth.title"))
        if st.session_state.get("_signin_note"):
            st.info(st.session_state.pop("_signin_note"))
        st.caption(tr("auth.oidc_note"))
        if st.button(tr("auth.oidc_button"), type="primary", key="_oidc_login"):
            provider = settings.oidc_provider()
            if provider:
                st.login(provider)
            else:
                st.login()
        return
    claims = st.user.to_dict()
    account, why = account_from_claims(claims, settings.oidc_claim())
    log_ = audit_log(str(settings.audit_path()))
    if account is None:
        log_.write("signin_failed", None, reason=why, via="oidc", subject=str(claims.get("sub", ""))[:64])
        st.error(tr("auth.oidc_no_claim", claim=settings.oidc_claim()))
        st.button(tr("auth.signout"), key="_oidc_out", on_click=st.logout)
        return
    try:
        user = store(str(settings.auth_db())).active(account)
    except AuthError as exc:
        log_.write("signin_failed", account[:64], reason=str(exc).split("。")[0], via="oidc")
        st.error(said(exc))
        st.button(tr("auth.signout"), key="_oidc_out", on_click=st.logout)
        return
    st.session_state["_user"], st.session_state["_seen"] = user, time.time()
    audit("signin", role=user.role, scope=sorted(user.nodes), via="oidc", subject=str(claims.get("sub", ""))[:64])
    st.rerun()


def _clear() -> None:
    for key in ("_user", "_seen", "_viewed", "_token", "_touched"):
        st.session_state.pop(key, None)


def _resume() -> User | None:
    """The user of the session this browser's cookie names (a reload, a new tab), if it is still open."""
    token = st.context.cookies.get(COOKIE)
    if not isinstance(token, str) or not token or token in st.session_state.get("_closed", ()):
        return None
    try:
        user = store(str(settings.auth_db())).resume(token, settings.session_minutes() * 60)
    except AuthError as exc:
        log.info("session cookie not resumed: %s", exc)
        st.session_state.setdefault("_closed", set()).add(token)
        st.session_state["_cookie"] = "clear"
        _cookie_op()
        return None
    st.session_state["_user"], st.session_state["_seen"] = user, time.time()
    st.session_state["_token"], st.session_state["_touched"] = token, time.time()
    audit("session_resumed", role=user.role, scope=sorted(user.nodes))
    return user


def _cookie_op() -> None:
    """Set or clear the session cookie in the browser (a script in the page: Streamlit sets no cookies)."""
    op = st.session_state.pop("_cookie", None)
    if op is None:
        return
    secure = " + (location.protocol === 'https:' ? '; Secure' : '')"
    if op == "clear":
        js = f"document.cookie = '{COOKIE}=; Path=/; Max-Age=0; SameSite=Strict'{secure};"
    else:  # a token is URL-safe base64: nothing in it needs quoting
        js = f"document.cookie = '{COOKIE}={op}; Path=/; SameSite=Strict'{secure};"
    st.html(f"<script>{js}</script>", unsafe_allow_javascript=True, width="content")


def _form() -> None:
    st.title(tr("auth.title"))
    if st.session_state.get("_signin_note"):
        st.info(st.session_state.pop("_signin_note"))
    with st.form("signin"):
        account = st.text_input(tr("auth.account"), key="_signin_account")
        password = st.text_input(tr("auth.password"), type="password", key="_signin_password")
        submitted = st.form_submit_button(tr("auth.submit"), type="primary")
    if not submitted:
        return
    try:
        user = store(str(settings.auth_db())).verify(account.strip(), password)
    except AuthError as exc:
        audit_log(str(settings.audit_path())).write("signin_failed", account.strip()[:64] or None, reason=str(exc).split("。")[0])
        st.error(said(exc))
        return
    st.session_state["_user"], st.session_state["_seen"] = user, time.time()
    st.session_state.pop("_signin_password", None)
    token = store(str(settings.auth_db())).open_session(user.account)
    st.session_state["_token"], st.session_state["_touched"], st.session_state["_cookie"] = token, time.time(), token
    audit("signin", role=user.role, scope=sorted(user.nodes))
    st.rerun()


def sign_out() -> None:
    audit("signout")
    token = st.session_state.get("_token")
    if token:
        store(str(settings.auth_db())).close_session(token)
        st.session_state.setdefault("_closed", set()).add(token)  # this session's handshake still carries it
        st.session_state["_cookie"] = "clear"
    _clear()
    if settings.auth_mode() == "oidc":
        st.logout()


def user_box(user: User) -> None:
    """Who is signed in, and the sign-out button (sidebar)."""
    from auth.roles import ROLES

    if settings.auth_mode() == "none":
        st.sidebar.caption(tr("auth.disabled"))
        return
    role = ROLES[user.role]
    st.sidebar.caption(tr("auth.signed_in", name=user.name, account=user.account,
                          role=role.zh if st.session_state.get("lang", "zh") == "zh" else role.en))
    if settings.auth_mode() in ("local", "oidc"):  # behind a gateway, signing out is the gateway's
        st.sidebar.button(tr("auth.signout"), key="_signout", on_click=sign_out)


def viewed(page: str, selection) -> None:
    """Audit a page view once per (page, selection): not on every widget rerun."""
    seen = (page, selection)
    if st.session_state.get("_viewed") != seen:
        st.session_state["_viewed"] = seen
        audit("page_view", page=page, selection=selection.__dict__ if selection is not None else None)


def watermark_lines(user: User) -> tuple[str, str]:
    return f"{user.name} {user.account}", f"{datetime.now():%Y-%m-%d %H:%M} {settings.watermark_text()}"


def export_watermark() -> str | None:
    """The watermark exported files carry (None without sign-in)."""
    if settings.auth_mode() == "none":
        return None
    return " ".join(watermark_lines(current()))


def watermark(user: User) -> None:
    """The viewer's name, account, time and 内部资料 tiled across the page: fixed, semi-transparent, not
    selectable, above the content (it survives a screenshot) but letting every click through."""
    if settings.auth_mode() == "none":
        return
    from briefing.watermark import overlay

    st.html(overlay(watermark_lines(user), settings.watermark_opacity(), "pbkpi-watermark"))
