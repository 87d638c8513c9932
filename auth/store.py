"""Local accounts: who may sign in, with which role and which part of the organisation tree.

Kept in a small SQLite file outside the warehouse (`PBKPI_AUTH_DB`, default data/auth.sqlite): the
warehouse file is replaced on every publish, accounts must not be. Passwords are stored only as Argon2id
hashes (argon2-cffi); after `MAX_FAILURES` wrong passwords in a row an account is locked for
`LOCK_MINUTES`. Scopes are org nodes — a party organisation, a branch or a business unit — and resolve to
the business units beneath them when a warehouse snapshot is opened (application.warehouse)."""
from __future__ import annotations

import hashlib
import secrets
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from auth.roles import ROLES

MAX_FAILURES = 5
LOCK_MINUTES = 15
MIN_PASSWORD = 8
COMPANY = "*"  # the scope node meaning the whole company

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    account      TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL,
    password     TEXT NOT NULL,        -- Argon2id hash, never the password
    disabled     INTEGER NOT NULL DEFAULT 0,
    failures     INTEGER NOT NULL DEFAULT 0,
    locked_until REAL NOT NULL DEFAULT 0,
    created_at   REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS scopes (
    account TEXT NOT NULL REFERENCES users(account),
    node    TEXT NOT NULL,
    PRIMARY KEY (account, node)
);
CREATE TABLE IF NOT EXISTS sessions (  -- a signed-in browser: the cookie holds the token, this its SHA-256
    token_hash TEXT PRIMARY KEY,
    account    TEXT NOT NULL REFERENCES users(account),
    created    REAL NOT NULL,
    last_seen  REAL NOT NULL,
    revoked    INTEGER NOT NULL DEFAULT 0
);
"""


class AuthError(Exception):
    """A sign-in or an account change that cannot be done; the message says why (never which of account
    or password was wrong)."""


@dataclass(frozen=True)
class User:
    account: str
    name: str
    role: str
    nodes: frozenset[str]  # org nodes; {COMPANY} for the whole company

    @property
    def company(self) -> bool:
        return COMPANY in self.nodes

    def can(self, permission: str) -> bool:
        return permission in ROLES[self.role].permissions


class AuthStore:
    def __init__(self, path):
        self.path = Path(path)
        self.hasher = PasswordHasher()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._con()) as con, con:
            con.executescript(SCHEMA)

    def _con(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10)

    # ------------------------------------------------------------------ accounts

    def add_user(self, account: str, name: str, role: str, password: str, nodes: list[str]) -> User:
        account = account.strip()
        if not account or not account.isprintable() or len(account) > 64:
            raise AuthError("账号不能为空，且只能包含可打印字符（最多 64 个）。(invalid account name)")
        self._check_role(role)
        self._check_password(password)
        if not nodes:
            raise AuthError("请至少指定一个数据范围（组织编码，或 * 表示全公司）。(a scope is required)")
        with closing(self._con()) as con, con:
            if con.execute("SELECT 1 FROM users WHERE account = ?", [account]).fetchone():
                raise AuthError(f"账号 {account} 已存在。(account exists)")
            con.execute("INSERT INTO users (account, name, role, password, created_at) VALUES (?, ?, ?, ?, ?)",
                        [account, name.strip() or account, role, self.hasher.hash(password), time.time()])
            con.executemany("INSERT INTO scopes VALUES (?, ?)", [(account, n.strip()) for n in nodes if n.strip()])
        return self.user(account)

    def set_password(self, account: str, password: str) -> None:
        self._check_password(password)
        self._update(account, "password = ?, failures = 0, locked_until = 0", [self.hasher.hash(password)])
        self.close_sessions(account)  # a reset password signs every browser out

    def set_role(self, account: str, role: str) -> None:
        self._check_role(role)
        self._update(account, "role = ?", [role])

    def set_disabled(self, account: str, disabled: bool) -> None:
        self._update(account, "disabled = ?", [int(disabled)])
        if disabled:
            self.close_sessions(account)

    def set_scope(self, account: str, nodes: list[str]) -> None:
        if not nodes:
            raise AuthError("请至少指定一个数据范围。(a scope is required)")
        self.user(account)
        with closing(self._con()) as con, con:
            con.execute("DELETE FROM scopes WHERE account = ?", [account])
            con.executemany("INSERT INTO scopes VALUES (?, ?)", [(account, n.strip()) for n in nodes if n.strip()])

    # ------------------------------------------------------------------ browser sessions

    def open_session(self, account: str, now: float | None = None) -> str:
        """A new session for a signed-in account: the token for the browser's cookie (only its hash is kept)."""
        now = time.time() if now is None else now
        token = secrets.token_urlsafe(32)
        with closing(self._con()) as con, con:
            con.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, 0)", [_digest(token), account, now, now])
        return token

    def resume(self, token: str, idle_seconds: float, now: float | None = None) -> User:
        """The user of a session a browser brings back (a reload, a new tab): it must be open, used within
        `idle_seconds`, and its account enabled and not locked. A session idle too long is closed here."""
        now = time.time() if now is None else now
        with closing(self._con()) as con, con:
            row = con.execute("SELECT account, last_seen, revoked FROM sessions WHERE token_hash = ?",
                              [_digest(token)]).fetchone()
            expired = row is not None and not row[2] and now - row[1] > idle_seconds
            if expired:  # closed for good, committed before saying so
                con.execute("UPDATE sessions SET revoked = 1 WHERE token_hash = ?", [_digest(token)])
            elif row is not None and not row[2]:
                con.execute("UPDATE sessions SET last_seen = ? WHERE token_hash = ?", [now, _digest(token)])
        if row is None or (row[2] and not expired):
            raise AuthError("登录已失效，请重新登录。(session closed)")
        if expired:
            raise AuthError("长时间未操作，登录已过期，请重新登录。(session expired)")
        return self.active(row[0], now)

    def close_session(self, token: str) -> None:
        with closing(self._con()) as con, con:
            con.execute("UPDATE sessions SET revoked = 1 WHERE token_hash = ?", [_digest(token)])

    def close_sessions(self, account: str) -> None:
        with closing(self._con()) as con, con:
            con.execute("UPDATE sessions SET revoked = 1 WHERE account = ?", [account])

    def unlock(self, account: str) -> None:
        self._update(account, "failures = 0, locked_until = 0", [])

    def _update(self, account: str, assignments: str, params: list) -> None:
        with closing(self._con()) as con, con:
            if con.execute(f"UPDATE users SET {assignments} WHERE account = ?", [*params, account]).rowcount == 0:
                raise AuthError(f"没有账号 {account}。(no such account)")

    def user(self, account: str) -> User:
        with closing(self._con()) as con:
            row = con.execute("SELECT account, name, role FROM users WHERE account = ?", [account]).fetchone()
            if row is None:
                raise AuthError(f"没有账号 {account}。(no such account)")
            nodes = frozenset(n for (n,) in con.execute("SELECT node FROM scopes WHERE account = ?", [account]))
        return User(row[0], row[1], row[2], nodes)

    def active(self, account: str, now: float | None = None) -> User:
        """An account a trusted gateway has signed in: it must exist here (role and scope live here) and be
        neither disabled nor locked."""
        now = time.time() if now is None else now
        with closing(self._con()) as con:
            row = con.execute("SELECT disabled, locked_until FROM users WHERE account = ?", [account]).fetchone()
        if row is None:
            raise AuthError(f"账号 {account} 未在本系统开通，请联系管理员。(account not set up here)")
        if row[0]:
            raise AuthError("该账号已停用，请联系管理员。(account disabled)")
        if row[1] > now:
            raise AuthError("账号已锁定，请联系管理员。(account locked)")
        return self.user(account)

    def users(self) -> list[dict]:
        with closing(self._con()) as con:
            rows = con.execute("""SELECT u.account, u.name, u.role, u.disabled, u.failures, u.locked_until,
                                         group_concat(s.node, ',') FROM users u LEFT JOIN scopes s USING (account)
                                  GROUP BY u.account ORDER BY u.account""").fetchall()
        return [{"account": r[0], "name": r[1], "role": r[2], "disabled": bool(r[3]), "failures": r[4],
                 "locked": r[5] > time.time(), "scope": sorted((r[6] or "").split(","))} for r in rows]

    def is_empty(self) -> bool:
        with closing(self._con()) as con:
            return con.execute("SELECT count(*) FROM users").fetchone()[0] == 0

    # ------------------------------------------------------------------ signing in

    def verify(self, account: str, password: str, now: float | None = None) -> User:
        """The user, or AuthError. Wrong passwords count towards a lockout; a locked or disabled account
        is refused even with the right password."""
        now = time.time() if now is None else now
        refusal = None
        # the failure count is written before refusing: raising inside `with con` would roll it back
        with closing(self._con()) as con, con:
            row = con.execute("SELECT password, disabled, failures, locked_until FROM users WHERE account = ?",
                              [account]).fetchone()
            if row is None:
                self.hasher.hash(password)  # the same time as a wrong password: no account probing by timing
                refusal = "账号或密码错误。(wrong account or password)"
            else:
                refusal = self._check(con, account, password, row, now)
        if refusal:
            raise AuthError(refusal)
        return self.user(account)

    def _check(self, con, account: str, password: str, row, now: float) -> str | None:
        """Why this sign-in is refused (None: it is not), with the failure count updated in `con`."""
        stored, disabled, failures, locked_until = row
        if locked_until > now:
            minutes = max(1, round((locked_until - now) / 60))
            return f"连续输错密码次数过多，账号已锁定，请 {minutes} 分钟后再试或联系管理员。(account locked)"
        try:
            self.hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            failures += 1
            lock = now + LOCK_MINUTES * 60 if failures >= MAX_FAILURES else 0
            con.execute("UPDATE users SET failures = ?, locked_until = ? WHERE account = ?",
                        [0 if lock else failures, lock, account])
            if lock:
                return f"连续输错密码 {MAX_FAILURES} 次，账号已锁定 {LOCK_MINUTES} 分钟。(account locked)"
            return "账号或密码错误。(wrong account or password)"
        if disabled:
            return "该账号已停用，请联系管理员。(account disabled)"
        con.execute("UPDATE users SET failures = 0, locked_until = 0 WHERE account = ?", [account])
        if self.hasher.check_needs_rehash(stored):
            con.execute("UPDATE users SET password = ? WHERE account = ?", [self.hasher.hash(password), account])
        return None

    # ------------------------------------------------------------------ checks

    @staticmethod
    def _check_role(role: str) -> None:
        if role not in ROLES:
            raise AuthError(f"角色只能是 {'、'.join(ROLES)}，收到 {role!r}。(unknown role)")

    @staticmethod
    def _check_password(password: str) -> None:
        if len(password) < MIN_PASSWORD:
            raise AuthError(f"密码至少 {MIN_PASSWORD} 位。(password too short)")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
