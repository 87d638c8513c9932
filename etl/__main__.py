"""Command line: python -m etl load|status|template|demo|refresh  (see README "Command line")."""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import duckdb

import settings
from etl.errors import EtlError


def _db(args) -> Path:
    return Path(args.db) if args.db else settings.db_path()


CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text) -> str:
    """Text from files as the terminal should show it: control characters (escape sequences a cell could
    carry to recolour or rewrite the terminal) removed."""
    return CONTROL.sub("", str(text))


def cmd_load(args) -> int:
    from etl.load import load_files

    results = load_files([Path(f) for f in args.files], _db(args), kind=args.kind)
    if args.json:
        doc = json.dumps({"files": [r.to_dict() for r in results]}, ensure_ascii=False, indent=2, default=str)
        # JSON escapes C0 controls itself; escape DEL and C1 too, so nothing in it can drive a terminal
        print(re.sub("[\x7f-\x9f]", lambda m: f"\\u{ord(m.group()):04x}", doc))
    else:
        for r in results:
            if r.error:
                print(printable(f"✗ {r.file}: {r.error}"), file=sys.stderr)
                continue
            print(printable(f"✓ {r.file} [{r.kind}] 导入 {r.rows_loaded} 行，拒绝 {r.rows_rejected} 行，跳过 {r.rows_skipped} 行"
                            f"（loaded/rejected/skipped）"))
            for n in r.notes:
                print(printable(f"    · {n}"))
            for rj in r.rejects[: args.max_rejects]:
                print(printable(f"    ✗ 工作表「{rj['sheet']}」第 {rj['row']} 行：{rj['reason']}"))
            if len(r.rejects) > args.max_rejects:
                print(f"    … 另有 {len(r.rejects) - args.max_rejects} 行被拒绝，完整清单见 etl_rejects 表或 --json")
    return 1 if any(r.error for r in results) else 0


def cmd_status(args) -> int:
    from etl import warehouse
    from etl.status import format_status, warehouse_status

    db = _db(args)
    if not db.exists():
        raise EtlError(f"仓库文件不存在：{db}。请先运行 `python -m etl demo` 或 `python -m etl load 文件`。(no warehouse)")
    con = warehouse.connect(db, read_only=True)
    try:
        st = warehouse_status(con)
    finally:
        con.close()
    print(json.dumps(st, ensure_ascii=False, indent=2, default=str) if args.json else format_status(st))
    return 0


def cmd_template(args) -> int:
    from etl.templates import write_templates

    paths = write_templates(Path(args.dir), args.lang)
    for p in paths:
        print(p)
    return 0


def cmd_demo(args) -> int:
    from etl.demo import build_demo

    summary = build_demo(_db(args), out_dir=Path(args.out) if args.out else settings.demo_dir(),
                         seed=args.seed, n_units=args.units, years=args.years, end_year=args.end_year)
    print(json.dumps(summary, ensure_ascii=False, indent=2, default=str) if args.json else
          f"合成演示数据已生成并导入（synthetic demo data loaded）：{summary['warehouse']}\n"
          f"源文件 source files: {summary['out_dir']}\n真值清单 ground-truth manifest: {summary['manifest']}\n"
          f"导入 loaded rows: {summary['rows_loaded']:,}，拒绝 rejected rows: {summary['rows_rejected']:,}（演示文件中故意放入的错误行）")
    return 0


def cmd_refresh(args) -> int:
    from etl import warehouse

    from etl import publish

    with publish.working_copy(_db(args)) as work:
        con = warehouse.connect(work)
        try:
            warehouse.init_schema(con)
            con.execute("BEGIN TRANSACTION")
            if args.major_events:
                warehouse.set_meta(con, "exclude_major_events", "true" if args.major_events == "exclude" else "false")
            warehouse.refresh_panels(con)
            con.execute("COMMIT")
            con.execute("CHECKPOINT")
        finally:
            con.close()
    print("panel_month / panel_quarter 已刷新 (refreshed)")
    return 0


def cmd_migrate(args) -> int:
    from etl import migrations, publish, warehouse

    db = _db(args)
    if not db.exists():
        raise EtlError(f"仓库文件不存在：{db}。(no warehouse)")
    with publish.working_copy(db) as work:
        con = warehouse.connect(work)
        try:
            before = migrations.stored_version(con)
            warehouse.init_schema(con)
            con.execute("CHECKPOINT")
        finally:
            con.close()
    print(f"仓库结构版本 schema version: {before} → {migrations.SCHEMA_VERSION}")
    return 0


def cmd_docs(args) -> int:
    from etl.docs import generated_sections, render_into

    if args.write:
        readme = Path(__file__).resolve().parent.parent / "README.md"
        readme.write_text(render_into(readme.read_text(encoding="utf-8")), encoding="utf-8")
        print(f"updated {readme}")
    else:
        for body in generated_sections().values():
            print(body)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m etl", description="PB-KPI Lens ETL: load party-building and KPI files into DuckDB")
    sub = p.add_subparsers(dest="cmd", required=True)

    ld = sub.add_parser("load", help="load CSV/Excel files (one transaction per file)")
    ld.add_argument("files", nargs="+")
    ld.add_argument("--db", help="warehouse path (default $PBKPI_DB or data/warehouse.duckdb)")
    ld.add_argument("--kind", help="force the dataset kind instead of detecting it from the header")
    ld.add_argument("--json", action="store_true", help="print one JSON document")
    ld.add_argument("--max-rejects", type=int, default=20, help="rejected rows to print per file (text mode)")
    ld.set_defaults(fn=cmd_load)

    st = sub.add_parser("status", help="tables, row counts, coverage, last loads")
    st.add_argument("--db")
    st.add_argument("--json", action="store_true")
    st.set_defaults(fn=cmd_status)

    tp = sub.add_parser("template", help="write blank Excel templates")
    tp.add_argument("dir")
    tp.add_argument("--lang", choices=["zh", "en"], default="zh")
    tp.set_defaults(fn=cmd_template)

    dm = sub.add_parser("demo", help="generate synthetic demo files and load them")
    dm.add_argument("--db")
    dm.add_argument("--out", help="where to write the demo source files (default $PBKPI_DEMO_DIR or data/demo)")
    dm.add_argument("--seed", type=int, default=2024)
    dm.add_argument("--units", type=int, default=120, help="number of party branches")
    dm.add_argument("--years", type=int, default=5)
    dm.add_argument("--end-year", type=int, default=2025)
    dm.add_argument("--json", action="store_true")
    dm.set_defaults(fn=cmd_demo)

    rf = sub.add_parser("refresh", help="rebuild panel_month / panel_quarter")
    rf.add_argument("--db")
    rf.add_argument("--major-events", choices=["include", "exclude"],
                    help="include (DL/T 836 headline, default) or exclude major-event outages from reliability")
    rf.set_defaults(fn=cmd_refresh)
    mg = sub.add_parser("migrate", help="bring an older warehouse to this version's schema (clears personal data kept by older versions)")
    mg.add_argument("--db")
    mg.set_defaults(fn=cmd_migrate)
    dc = sub.add_parser("docs", help="print (or --write into README.md) the data-contract and metric tables")
    dc.add_argument("--write", action="store_true")
    dc.set_defaults(fn=cmd_docs)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except EtlError as exc:
        print(printable(f"错误 error: {exc}"), file=sys.stderr)
        return 2
    except duckdb.Error as exc:  # the warehouse itself (a damaged file): one line, never a traceback
        from etl.errors import unreadable_message

        print(printable(f"错误 error: {unreadable_message(_db(args), exc)}"), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
