"""python -m briefing --quarter 2025Q3 [--db PATH] [--lang zh|en] [--format pptx|html|png] --out PATH
   [--unit-type 供电所] [--region 农村] [--units BU001,BU002]

png writes one file per chart into --out (a folder), or a zip when --out ends in .zip."""
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


def main(argv=None) -> int:
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
