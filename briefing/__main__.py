"""python -m briefing --quarter 2025Q3 [--db PATH] [--lang zh|en] [--format pptx|pdf|html|png] --out PATH
   [--unit-type 供电所] [--region 农村] [--units BU001,BU002]
python -m briefing push [--config PATH] [--quarter 2025Q3] [--db PATH] [--dry-run] [--json]

png writes one file per chart into --out (a folder), or a zip when --out ends in .zip. push sends the
briefing to the channels of the push file (briefing/push.py); without --quarter, the last quarter with data."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import settings
from analytics.panel import PanelFilter
from analytics.errors import DomainError
from application.warehouse import open_snapshot
from briefing.content import build
from briefing.figures import NoBrowser


def _list(s):
    return tuple(p.strip() for p in s.split(",") if p.strip()) if s else ()


def push_main(argv) -> int:
    import json

    from briefing import push

    p = argparse.ArgumentParser(prog="python -m briefing push", description="send the quarterly briefing to the push channels")
    p.add_argument("--config", help="the push file (default $PBKPI_PUSH or data/push.toml)")
    p.add_argument("--quarter", help="default: the last quarter with data")
    p.add_argument("--db")
    p.add_argument("--dry-run", action="store_true", help="build every message, send none")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    import logsetup

    if not logsetup.start_command("push"):
        return 2
    db = Path(args.db) if args.db else settings.db_path()
    try:
        quarter = args.quarter or (open_snapshot(db).periods("quarter") or [None])[-1]
        if quarter is None:
            print("错误 error: 仓库中没有数据。(no data)", file=sys.stderr)
            return 2
        results = push.push(Path(args.config) if args.config else settings.push_path(), db, quarter, args.dry_run)
    except push.PushError as exc:
        print(f"错误 error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=2))
    else:
        for r in results:
            print(f"{'✓' if r['ok'] else '✗'} {r['channel']} ({r['kind']})" + (f": {r['error']}" if r["error"] else ""))
    return 0 if all(r["ok"] for r in results) else 1


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["push"]:
        return push_main(argv[1:])
    p = argparse.ArgumentParser(prog="python -m briefing", description="Quarterly briefing export (PPTX / HTML / PNG)")
    p.add_argument("--quarter", required=True, help="e.g. 2025Q3")
    p.add_argument("--db", help="warehouse (default $PBKPI_DB or data/warehouse.duckdb)")
    p.add_argument("--lang", choices=["zh", "en"], default="zh")
    p.add_argument("--format", choices=["pptx", "pdf", "html", "png"], default="pptx")
    p.add_argument("--out", required=True)
    p.add_argument("--unit-type")
    p.add_argument("--region")
    p.add_argument("--units")
    args = p.parse_args(argv)
    import logsetup

    if not logsetup.start_command("briefing"):
        return 2
    from briefing import export

    scope = PanelFilter(unit_types=_list(args.unit_type), regions=_list(args.region), units=_list(args.units))
    try:
        b = build(open_snapshot(Path(args.db) if args.db else settings.db_path()), args.quarter, scope)
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        if args.format == "pptx":
            out.write_bytes(export.to_pptx(b, args.lang))
        elif args.format == "html":
            out.write_text(export.to_html(b, args.lang), encoding="utf-8")
        elif args.format == "pdf":
            out.write_bytes(export.to_pdf(b, args.lang))
        elif out.suffix == ".zip":
            out.write_bytes(export.to_png_zip(b, args.lang))
        else:
            out.mkdir(parents=True, exist_ok=True)
            for name, data in export.png_files(b, args.lang).items():
                (out / name).write_bytes(data)
    except (DomainError, NoBrowser) as exc:
        print(f"错误 error: {exc}", file=sys.stderr)
        return 2
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
