"""Command line: every number on the dashboard reproducible from a shell.

python -m analytics correlate|fit|event-study|reverse|whatif|quartiles
    (--db PATH | --csv PATH --entity COL --time COL) [--grain month|quarter] [--y ID] [--x ID,ID]
    [--controls ID,ID] [--lag K] [--fe unit|unit,period] [--json] [--from-url LINK] ...

`--from-url` takes a dashboard link (the address bar of any page) and runs the statistic that page shows with
the link's sidebar selection and page picks; options given explicitly on the command line still win."""
from __future__ import annotations

import argparse
import json
import sys

from analytics import correlate, did, fe, quartiles, reverse, summaries, whatif
from analytics.errors import AnalysisError, InsufficientData
from analytics.panel import PanelFilter, apply_filter, from_csv
from catalogue import metric_ids


DEFAULT_LAG = 1  # the dashboard's default (application/views/*.DEFAULTS), so a default command reproduces a default view


def _list(s: str | None) -> list[str]:
    return [p.strip() for p in s.split(",") if p.strip()] if s else []


def load(args, filtered: bool = True):
    if args.csv:
        if not (args.entity and args.time):
            raise AnalysisError("使用 --csv 时必须同时给出 --entity 和 --time。(--csv needs --entity and --time)")
        panel = from_csv(args.csv, args.entity, args.time)
    else:
        from application.warehouse import read_panel
        import settings
        panel = read_panel(args.db or settings.db_path(), args.grain)
    if not filtered:
        return panel
    units = tuple(_list(args.units))
    if getattr(args, "org", None):  # the sidebar's 组织: the business units beneath it (as the dashboard narrows)
        from application.warehouse import Warehouse
        import settings

        beneath = Warehouse(args.db or settings.db_path()).snapshot().units_beneath(frozenset({args.org}))
        if not beneath:
            raise AnalysisError(f"组织 {args.org!r} 下没有业务单元。(no business units beneath {args.org!r})")
        units = tuple(u for u in units if u in beneath) if units else tuple(sorted(beneath))
    flt = PanelFilter(unit_types=tuple(_list(args.unit_type)), regions=tuple(_list(args.region)),
                      units=units, start=args.start, end=args.end)
    return apply_filter(panel, flt)


# a dashboard link's parameters -> this CLI's options: the sidebar's, and each command's page picks
URL_SIDEBAR = {"grain": "grain", "from": "start", "to": "end", "type": "unit_type", "region": "region", "org": "org"}
URL_PICKS = {
    "fit": {"ts_y": "y", "ts_x": "x", "ts_lag": "lag", "ts_ctrl": "controls"},
    "event-study": {"ts_ey": "y", "ts_treat": "treatment"},
    "reverse": {"ts_y": "y", "ts_x": "x"},
    "correlate": {"rel_x": "x", "rel_y": "y", "rel_lag": "lag"},
    "quartiles": {"rel_x": "x", "rel_y": "y", "rel_lag": "lag"},
    "whatif": {"wi_y": "y", "wi_x": "x", "wi_lag": "lag"},
}


def apply_url(args, argv: list[str]) -> None:
    """Fill the options a dashboard link sets (`--from-url`), leaving those given on the command line. The
    what-if's scenario A becomes --change. The dashboard's own defaults are this CLI's, so a link without a
    pick gives the page's default view too."""
    from urllib.parse import parse_qs, urlparse

    given = {a.split("=", 1)[0] for a in argv if a.startswith("--")}
    qs = {k: v[-1] for k, v in parse_qs(urlparse(args.from_url).query).items()}
    for param, attr in {**URL_SIDEBAR, **URL_PICKS.get(args.cmd, {})}.items():
        if param in qs and f"--{attr.replace('_', '-')}" not in given:
            value = qs[param]
            setattr(args, attr, int(value) if attr == "lag" else value)
    if args.cmd == "whatif" and "--change" not in given and args.x:
        mode = qs.get("sa_mode", "abs")
        if mode in ("abs", "pct"):
            amounts = [(x, qs.get(f"sa_{x}_{mode}")) for x in _list(args.x)]
            args.change = ",".join(f"{x}={float(a):+g}{'%' if mode == 'pct' else ''}" for x, a in amounts if a)
        else:
            args.change = ",".join(f"{x}={mode}" for x in _list(args.x))


def _report(args, result, summarize, table: str = "") -> None:
    """Print a result: JSON with both summaries, or the table and the summary in --lang."""
    d = result.to_dict()
    d["summary_zh"], d["summary_en"] = summarize(result, "zh"), summarize(result, "en")
    if args.json:
        print(json.dumps(d, ensure_ascii=False, indent=2, default=str))
    else:
        print((table + "\n\n" if table else "") + d[f"summary_{args.lang}"])


def cmd_fit(args):
    p = load(args)
    r = fe.fit_twfe(p, _req(args.y, "--y"), _req_list(args.x, "--x"), args.lag, _list(args.controls), args.fe)
    _report(args, r, summaries.summarize_fit, r.to_frame().to_string(index=False))


def cmd_correlate(args):
    p = load(args)
    xs = _list(args.x) or metric_ids("input")
    ys = _list(args.y) or metric_ids("kpi")
    r = correlate.correlate(p, xs, ys, args.lag)
    _report(args, r, summaries.summarize_correlations, r.table.to_string(index=False))


def cmd_event(args):
    p = load(args)
    window = tuple(int(v) for v in args.window.split(",")) if args.window else None
    r = did.event_study(p, _req(args.y, "--y"), args.treatment, window)
    _report(args, r, summaries.summarize_event_study, r.to_frame().to_string(index=False))


def cmd_reverse(args):
    p = load(args)
    x = _req_list(args.x, "--x")[0]
    r = reverse.reverse_check(p, _req(args.y, "--y"), x)
    _report(args, r, summaries.summarize_reverse, r.to_frame().to_string(index=False))


def cmd_whatif(args):
    # as on the dashboard: the model is fitted on every unit, the scenario applies to the filtered ones
    r_fit = fe.fit_twfe(load(args, filtered=False), _req(args.y, "--y"), _req_list(args.x, "--x"), args.lag,
                        _list(args.controls), args.fe)
    full = load(args)
    changes = {}
    for item in _req_list(args.change, "--change"):
        try:
            x, amount = item.split("=")
            if amount in ("median", "required"):  # the dashboard's rules: bottom quarter to the median, required frequency
                changes[x] = (amount, 0.0)
                continue
            mode = "pct" if amount.endswith("%") else "abs"
            changes[x] = (mode, float(amount.rstrip("%")))
        except ValueError:
            raise AnalysisError(f"--change 格式应为 指标=变化量，如 theme_days=+1、theme_days=10%、theme_days=median 或 "
                                f"theme_days=required；收到 {item!r}。") from None
    months = 3 if args.grain == "quarter" else 1
    if any(mode == "required" for mode, _ in changes.values()):
        from application.context import Context
        from application.views.whatif import analysis_changes
        import settings

        changes = analysis_changes(Context.open(args.db or settings.db_path(), disk=False), changes, months)
    r = whatif.what_if(r_fit, full, changes, args.period, months=months)
    _report(args, r, summaries.summarize_whatif, r.per_unit.to_string(index=False))


def cmd_quartiles(args):
    p = load(args)
    r = quartiles.quartile_compare(p, _req_list(args.x, "--x")[0], _req(args.y, "--y"), args.lag)
    _report(args, r, summaries.summarize_quartiles)


def _req(v, flag):
    if not v:
        raise AnalysisError(f"缺少参数 {flag}。(missing {flag})")
    return v


def _req_list(v, flag):
    return _list(_req(v, flag))


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    src = common.add_argument_group("data")
    src.add_argument("--db", help="DuckDB warehouse (default $PBKPI_DB or data/warehouse.duckdb)")
    src.add_argument("--csv", help="any tidy panel as CSV, instead of --db")
    src.add_argument("--entity", help="entity column of --csv")
    src.add_argument("--time", help="time column of --csv (integers or dates)")
    src.add_argument("--grain", choices=["month", "quarter"], default="month")
    common.add_argument("--y", help="outcome metric id (KPI)")
    common.add_argument("--x", help="input metric id(s), comma-separated")
    common.add_argument("--controls", help="control metric ids, comma-separated")
    common.add_argument("--lag", type=int, default=DEFAULT_LAG,
                        help=f"input at t-K (default {DEFAULT_LAG}, as on the dashboard)")
    common.add_argument("--fe", default="unit,period", help="unit | unit,period (default) | period | none")
    flt = common.add_argument_group("filters")
    flt.add_argument("--unit-type", help="业务类型, comma-separated (e.g. 供电所)")
    flt.add_argument("--region", help="区域类型, comma-separated (城区,县城,农村)")
    flt.add_argument("--units", help="business unit ids, comma-separated")
    flt.add_argument("--start", help="first period label (2023-01 or 2023Q1)")
    flt.add_argument("--end", help="last period label")
    flt.add_argument("--org", help="an organisation of the org tree: only the business units beneath it")
    common.add_argument("--from-url", help="a dashboard link: its selection and the page's picks (explicit options win)")
    common.add_argument("--lang", choices=["zh", "en"], default="zh", help="summary language in text output")
    common.add_argument("--json", action="store_true", help="print one JSON document")

    p = argparse.ArgumentParser(prog="python -m analytics", description="PB-KPI Lens statistics")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("fit", parents=[common], help="two-way fixed effects, clustered by unit").set_defaults(fn=cmd_fit)
    sub.add_parser("correlate", parents=[common], help="inputs x KPIs correlation matrix with BH q-values").set_defaults(fn=cmd_correlate)
    es = sub.add_parser("event-study", parents=[common], help="staggered DiD (did2s) event study with pre-trend test")
    es.add_argument("--treatment", default="demo_site", help="0/1 or count metric; first positive period = start")
    es.add_argument("--window", help="pre,post periods, e.g. 6,12")
    es.set_defaults(fn=cmd_event)
    sub.add_parser("reverse", parents=[common], help="does the KPI predict the input? (panel Granger-style)").set_defaults(fn=cmd_reverse)
    wi = sub.add_parser("whatif", parents=[common], help="predicted KPI change for input changes")
    wi.add_argument("--change", help="input=+1, input=10%%, input=median or input=required, comma-separated")
    wi.add_argument("--period", help="baseline period (default: latest)")
    wi.set_defaults(fn=cmd_whatif)
    sub.add_parser("quartiles", parents=[common], help="top vs bottom quarter of units, bootstrap CI").set_defaults(fn=cmd_quartiles)
    return p


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.from_url:
        apply_url(args, argv)
    import logsetup

    if not logsetup.start_command("analytics"):
        return 2
    try:
        args.fn(args)
    except InsufficientData as exc:
        if args.json:  # the verdict is data, even when the data are too few
            print(json.dumps({"method": args.cmd, "verdict": exc.verdict, "reason": exc.args[0]}, ensure_ascii=False))
            return 0
        print(f"数据不足 insufficient data: {exc.args[0]}", file=sys.stderr)
        return 2
    except (AnalysisError, KeyError) as exc:
        msg = exc.args[0] if exc.args else str(exc)
        print(f"错误 error: {msg}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
