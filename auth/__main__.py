"""python -m auth: accounts, scopes and the audit log (an operator's tool: whoever can run it can read the
warehouse file anyway).

  add ACCOUNT --name 名字 --role leader|secretary|analyst|steward|admin --scope NODE[,NODE] [--password-stdin]
  passwd ACCOUNT [--password-stdin]      role ACCOUNT ROLE      scope ACCOUNT NODE[,NODE]
  disable ACCOUNT | enable ACCOUNT | unlock ACCOUNT      list [--json]
  audit [--account A] [--event E] [--since 2026-12-01] [--limit N] [--json]      prune [--days N]
  init-admin ACCOUNT [--name 名字] [--password-stdin]    (a real deployment's first account)
  demo                                                (demo accounts for the synthetic warehouse; prints them)

A scope node is a party organisation, a branch or a business unit code from the organisation file; `*` is
the whole company. Without --password-stdin the password is asked for (not echoed)."""
from __future__ import annotations

import argparse
import getpass
import json
import sys

import settings
from auth.audit import AuditLog
from auth.roles import ROLES
from auth.store import COMPANY, AuthError, AuthStore

# The synthetic demo company's accounts (README "Sign-in"): documented passwords, to be changed. The
# "jiangbei" leader sees one organisation of the middle level: a county company, a management area or a
# branch works, by the demo's industry profile.
DEMO_ACCOUNTS = [
    ("admin", "系统管理员（演示）", "admin", [COMPANY], "admin-demo-2026"),
    ("leader", "公司领导（演示）", "leader", [COMPANY], "leader-demo-2026"),
    ("jiangbei", "{middle}领导（演示）", "leader", ["P{middle_id}"], "jiangbei-demo-2026"),
    ("secretary", "{unit}第一党支部书记（演示）", "secretary", ["BU001-01"], "secretary-demo-2026"),
    ("analyst", "分析员（演示）", "analyst", [COMPANY], "analyst-demo-2026"),
    ("steward", "数据管理员（演示）", "steward", [COMPANY], "steward-demo-2026"),
]
MIDDLE = {"power": ("江北", "江北县公司"), "oilfield": ("东部", "东部采油管理区"), "plant": ("一分厂", "一分厂")}


def demo_accounts(profile: str, unit: str) -> list[tuple]:
    """DEMO_ACCOUNTS for a demo of this industry profile, whose first business unit is called `unit`."""
    middle_id, middle = MIDDLE[profile]
    return [(a, n.format(middle=middle, unit=unit), r, [x.format(middle_id=middle_id) for x in nodes], pw)
            for a, n, r, nodes, pw in DEMO_ACCOUNTS]


def _password(args, confirm: bool = True) -> str:
    if getattr(args, "password_stdin", False):
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("密码 password: ")
    if confirm and getpass.getpass("再输一次 again: ") != first:
        raise AuthError("两次输入的密码不一致。(passwords differ)")
    return first


def _nodes(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m auth", description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("add")
    a.add_argument("account")
    a.add_argument("--name", default="")
    a.add_argument("--role", required=True, choices=list(ROLES))
    a.add_argument("--scope", required=True)
    a.add_argument("--password-stdin", action="store_true")
    p = sub.add_parser("passwd")
    p.add_argument("account")
    p.add_argument("--password-stdin", action="store_true")
    r = sub.add_parser("role")
    r.add_argument("account")
    r.add_argument("role", choices=list(ROLES))
    s = sub.add_parser("scope")
    s.add_argument("account")
    s.add_argument("nodes")
    for name in ("disable", "enable", "unlock"):
        sub.add_parser(name).add_argument("account")
    sub.add_parser("list").add_argument("--json", action="store_true")
    au = sub.add_parser("audit")
    au.add_argument("--account")
    au.add_argument("--event")
    au.add_argument("--since")
    au.add_argument("--limit", type=int, default=200)
    au.add_argument("--json", action="store_true")
    pr = sub.add_parser("prune")
    pr.add_argument("--days", type=int, default=None)
    ia = sub.add_parser("init-admin")
    ia.add_argument("account")
    ia.add_argument("--name", default="系统管理员")
    ia.add_argument("--password-stdin", action="store_true")
    sub.add_parser("demo")
    args = ap.parse_args(argv)
    import logsetup

    if not logsetup.start_command("auth"):
        return 2

    store, audit = AuthStore(settings.auth_db()), AuditLog(settings.audit_path())
    operator = f"cli:{getpass.getuser()}"
    try:
        if args.cmd == "add":
            u = store.add_user(args.account, args.name, args.role, _password(args), _nodes(args.scope))
            audit.write("account_changed", operator, target=u.account, change="added", role=u.role, scope=sorted(u.nodes))
        elif args.cmd == "passwd":
            store.set_password(args.account, _password(args))
            audit.write("account_changed", operator, target=args.account, change="password reset")
        elif args.cmd == "role":
            store.set_role(args.account, args.role)
            audit.write("account_changed", operator, target=args.account, change="role", role=args.role)
        elif args.cmd == "scope":
            store.set_scope(args.account, _nodes(args.nodes))
            audit.write("account_changed", operator, target=args.account, change="scope", scope=_nodes(args.nodes))
        elif args.cmd in ("disable", "enable"):
            store.set_disabled(args.account, args.cmd == "disable")
            audit.write("account_changed", operator, target=args.account, change=args.cmd + "d")
        elif args.cmd == "unlock":
            store.unlock(args.account)
            audit.write("account_changed", operator, target=args.account, change="unlocked")
        elif args.cmd == "list":
            users = store.users()
            if args.json:
                print(json.dumps(users, ensure_ascii=False, indent=2))
            for u in [] if args.json else users:
                flags = " ".join(f for f, on in (("停用 disabled", u["disabled"]), ("锁定 locked", u["locked"])) if on)
                print(f"{u['account']:<16} {u['role']:<10} {','.join(u['scope']):<24} {u['name']} {flags}")
        elif args.cmd == "audit":
            entries = audit.entries(args.account, args.event, args.since, args.limit)
            for e in entries:
                print(json.dumps(e, ensure_ascii=False) if args.json else
                      f"{e['time']} {e['event']:<15} {e.get('account') or '-':<12} "
                      + " ".join(f"{k}={v}" for k, v in e.items() if k not in ("time", "event", "account")))
        elif args.cmd == "prune":
            days = args.days if args.days is not None else settings.audit_days()
            print(f"删除 {audit.prune(days)} 条超过 {days} 天的审计记录。(pruned)")
        elif args.cmd == "init-admin":
            if not store.is_empty():
                raise AuthError("已有账号，不再创建初始管理员；请用 add。(accounts exist)")
            u = store.add_user(args.account, args.name, "admin", _password(args), [COMPANY])
            audit.write("account_changed", operator, target=u.account, change="first admin")
            print(f"已创建管理员 {u.account}。(admin created)")
        elif args.cmd == "demo":
            return demo(store, audit)
    except AuthError as exc:
        print(f"错误 error: {exc}", file=sys.stderr)
        return 2
    return 0


def demo(store: AuthStore, audit: AuditLog) -> int:
    """Create the demo accounts when there are none yet and the warehouse is the synthetic demo, and print
    them (the passwords are in the README). A real warehouse gets no demo accounts."""
    from application.warehouse import Warehouse

    snap = Warehouse(str(settings.warehouse())).snapshot()
    if not snap.is_demo():
        if store.is_empty():
            print("仓库不是演示数据，不创建演示账号；请用 `python -m auth init-admin 账号` 创建第一个管理员。"
                  "(not the demo warehouse: create the first admin with init-admin)")
        return 0
    import catalogue

    names = snap.unit_names()
    accounts = demo_accounts(catalogue.profile().id, names.get("BU001", "基层单位"))
    if store.is_empty():
        for account, name, role, nodes, password in accounts:
            store.add_user(account, name, role, password, nodes)
            audit.write("account_changed", "demo", target=account, change="demo account", role=role, scope=nodes)
    print("演示账号 demo accounts (synthetic company; change or disable them before real use):")
    known = {u["account"] for u in store.users()}
    for account, name, role, nodes, password in accounts:
        if account in known:
            print(f"  {account:<10} / {password:<20} {ROLES[role].zh} · {','.join(nodes)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
