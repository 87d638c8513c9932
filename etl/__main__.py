"""Command line: python -m etl load|status|template|demo|metric|refresh|migrate|push|publish|worker|maintain|docs|config|health|mappings|watch
(see README "Command line")."""
from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import time
from pathlib import Path

import duckdb

import logsetup
import settings
from catalogue import env_profile, profiles
from etl.errors import EtlError

log = logging.getLogger("etl.cli")


def _db(args) -> Path:
    return Path(args.db) if args.db else settings.db_path()


CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text) -> str:
    """Text from files as the terminal should show it: control characters (escape sequences a cell could
    carry to recolour or rewrite the terminal) removed."""
    return CONTROL.sub("", str(text))


PHASES = {"read": "读取 reading", "load": "校验并写入 validating and writing", "panels": "刷新分析面板 refreshing panels",
          "publish": "发布 publishing"}


class TerminalProgress:
    """Each file's phase on a terminal as it happens (stderr; one line per file, rewritten in place)."""

    def __init__(self, stream=sys.stderr):
        self.stream, self.t0, self.file_t0 = stream, time.perf_counter(), time.perf_counter()

    def __call__(self, ev: dict) -> None:
        phase, name = ev["phase"], printable(ev["file"] or "")
        head = f"[{ev['index']}/{ev['total']}] {name}"
        if phase == "read":
            self.file_t0 = time.perf_counter()
            size = f" ({ev['bytes'] / 1048576:.1f} MB)" if ev.get("bytes") else ""
            self._line(f"{head}{size} · {PHASES['read']} …")
        elif phase == "load":
            self._line(f"{head} · {ev.get('kind') or ''} · {PHASES['load']} …")
        elif phase in ("done", "failed"):
            mark = "✓" if phase == "done" else "✗"
            self._line(f"{head} {mark} {time.perf_counter() - self.file_t0:.1f} s", end="\n")
        else:
            self._line(f"{PHASES[phase]} … ({time.perf_counter() - self.t0:.0f} s)", end="\n")

    def _line(self, text: str, end: str = "") -> None:
        self.stream.write("\r\x1b[K" + text + end)
        self.stream.flush()


def cmd_load(args) -> int:
    from etl.load import load_files

    progress = TerminalProgress() if (sys.stderr.isatty() and not args.json) else None
    results = load_files([Path(f) for f in args.files], _db(args), kind=args.kind, mapping=args.mapping,
                         progress=progress)
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
                         seed=args.seed, n_units=args.units, years=args.years, end_year=args.end_year,
                         profile=args.profile or env_profile())
    print(json.dumps(summary, ensure_ascii=False, indent=2, default=str) if args.json else
          f"合成演示数据已生成并导入（synthetic demo data loaded）：{summary['warehouse']}\n"
          f"源文件 source files: {summary['out_dir']}\n真值清单 ground-truth manifest: {summary['manifest']}\n"
          f"导入 loaded rows: {summary['rows_loaded']:,}，拒绝 rejected rows: {summary['rows_rejected']:,}（演示文件中故意放入的错误行）")
    return 0


def cmd_refresh(args) -> int:
    from etl import warehouse

    def change(con):
        if args.major_events:
            warehouse.set_meta(con, "exclude_major_events", "true" if args.major_events == "exclude" else "false")

    warehouse.republish(_db(args), change)
    print("panel_month / panel_quarter 已刷新 (refreshed)")
    return 0


def cmd_metric(args) -> int:
    """List, define or remove the metrics an administrator adds (etl/definitions.py)."""
    import tomllib

    from etl import definitions, warehouse

    db = _db(args)
    if not db.exists():
        raise EtlError(f"仓库文件不存在：{db}。请先导入数据。(no warehouse)")
    if args.action == "define":
        if not args.target:
            raise EtlError("请给出定义文件：python -m etl metric define 定义.toml (a TOML or JSON file)")
        path = Path(args.target)
        text = path.read_text(encoding="utf-8")
        body = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
        definitions.save(db, body, args.by)
        print(f"指标 {body['metric']['id']} 已定义，面板已刷新 (defined; panels refreshed)")
        return 0
    if args.action == "remove":
        definitions.remove(db, args.target or "", args.by)
        print(f"指标 {args.target} 已删除 (removed)")
        return 0
    con = warehouse.connect(db, read_only=True)
    try:
        if args.action == "undefined":
            rows = definitions.undefined_headers(con)
        else:
            import catalogue

            rows = [{"id": b["metric"]["id"], "zh": b["metric"].get("zh"), "kind": b["metric"].get("kind"),
                     "columns": [c["zh"] for c in b["columns"]]} for b in catalogue.defined_metrics()]
    finally:
        con.close()
    print(json.dumps(rows, ensure_ascii=False, indent=2, default=str))
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
    if args.to:
        from etl import lake

        url = lake.parse(args.to)
        started = time.monotonic()
        done = lake.migrate(db, url)
        rows = sum(done["tables"].values())
        print(f"已迁入湖仓 migrated into {url}: {len(done['tables'])} 个表/视图 tables and views, {rows:,} 行 rows, "
              f"逐行校验一致 verified row for row; 已发布快照 published snapshot {done['snapshot']} "
              f"({time.monotonic() - started:.1f} s)")
    return 0


def _lake_url(args):
    from etl import lake

    target = args.to or settings.warehouse()
    url = lake.parse(target) if isinstance(target, str) else target
    if not isinstance(url, lake.LakeURL):
        raise EtlError("请用 --to 指定湖仓地址，或把 PBKPI_DB 设为湖仓地址（ducklake+postgres://…）。(no lake URL given)")
    return url


def cmd_push(args) -> int:
    """A province's warehouse file into its tables of the lake (one commit; published by `etl publish`)."""
    from etl import lake

    url = _lake_url(args)
    db = Path(args.db) if args.db else settings.db_path()
    started = time.monotonic()
    snapshot = lake.push(db, url, args.province)
    print(f"省份 {args.province} 已推送 pushed into {url}: 快照 snapshot {snapshot} "
          f"({time.monotonic() - started:.1f} s)；发布后看板可见 visible once published (`python -m etl publish`)")
    if args.publish:
        return cmd_publish(args)
    return 0


def cmd_publish(args) -> int:
    """The publisher: group views, aggregates and panels from every province, then the published snapshot."""
    from etl import lake

    url = _lake_url(args)
    started = time.monotonic()
    snapshot = lake.publish_lake(url)
    print(f"已发布 published {url}: 快照 snapshot {snapshot} ({time.monotonic() - started:.1f} s)")
    return 0


def cmd_worker(args) -> int:
    """A province's loader on a lake: the upload page's jobs for that province (etl/jobs.py)."""
    from etl import jobs

    return jobs.run(args)


def cmd_maintain(args) -> int:
    from etl import lake

    url = _lake_url(args)
    done = lake.maintain(url, keep_days=args.keep_days)
    print(f"湖仓维护 maintained {url}: 过期快照 snapshots expired {done['snapshots']}, 删除旧文件 old files deleted "
          f"{done['files']}, 删除孤立文件 orphaned files deleted {done['orphans']}")
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


def cmd_config(args) -> int:
    rows = settings.listing()
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        for r in rows:
            mark = "✗" if r["problem"] else ("*" if r["source"] == "env" else " ")
            print(f"{mark} {r['name']:<26} {r['value']}")
            print(f"    {r['problem'] or r['doc']}")
        print("\n* 来自环境变量 set in the environment; ✗ 无效 unusable")
    return 1 if any(r["problem"] for r in rows) else 0


def cmd_health(args) -> int:
    from application import health
    from etl import lake

    doc = health.check((args.db if lake.is_lake(args.db) else Path(args.db)) if args.db else None)
    print(json.dumps(doc, ensure_ascii=False, indent=2, default=str) if args.json else health.describe(doc))
    return 0 if doc["ready"] else 1


def _parse_maps(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        header, sep, column = pair.rpartition("=")
        if not sep or not header.strip() or not column.strip():
            raise EtlError(f"--map 「{pair}」的写法应为 \"文件列名=模板列编号\"，如 --map \"支部代码=unit_id\"。(bad --map)")
        out[header.strip()] = column.strip()
    return out


def cmd_mappings(args) -> int:
    from etl import mappings

    store = mappings.Store()
    if args.action == "list":
        profiles = store.list()
        if args.json:
            print(json.dumps([p.to_dict() for p in profiles], ensure_ascii=False, indent=2))
        for p in profiles if not args.json else []:
            print(printable(f"{p.name}  [{p.kind}]  第 {p.version} 版 version {p.version}  {p.saved_at}  "
                            f"{len(p.columns)} 列 columns"))
        if not profiles and not args.json:
            print(f"尚无列映射 no mappings yet ({store.dir})")
    elif args.action == "show":
        print(json.dumps(store.get(args.name).to_dict(), ensure_ascii=False, indent=2))
    elif args.action == "delete":
        store.delete(args.name)
        print(f"已删除 deleted {args.name}")
    elif args.action == "save":
        if not args.kind or not args.map:
            raise EtlError("保存列映射需要 --kind 和至少一个 --map \"文件列名=模板列编号\"。(save needs --kind and --map)")
        p = store.save(args.name, args.kind, _parse_maps(args.map), by="cli")
        print(printable(f"已保存 saved {p.tag} → {p.kind}: " + "，".join(f"{h}={c}" for h, c in p.columns.items())))
    elif args.action == "import":
        try:
            doc = json.loads(Path(args.name).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise EtlError(f"无法读取列映射文件 {args.name}：{exc}。(cannot read mapping file)") from None
        p = store.import_doc(doc, by="cli")
        print(f"已导入 imported {p.tag}")
    elif args.action == "suggest":
        print(suggest_text(Path(args.name), args.kind))
    return 0


def suggest_text(path: Path, kind: str | None) -> str:
    """Suggested --map arguments for a file with foreign headers (python -m etl mappings suggest FILE)."""
    from etl import mappings, readers

    sheet = readers.head_sheets(path, path.name, 200)
    if not sheet:
        raise EtlError(f"无法读取文件「{path.name}」的前几行。(cannot read file)")
    guessed, row = mappings.guess_kind(sheet[0], mappings.known_units())
    kind = kind or guessed
    from catalogue import datasets

    ds = datasets()[kind]
    lines = [f"# {path.name}: {ds.zh} ({kind}), 表头在第 {row + 1} 行 header row {row + 1}"]
    args = []
    for sug, col in zip(mappings.suggest(sheet[0], kind, row, mappings.known_units()), ds.columns):
        need = "必填 required" if col.required else ""
        if sug.header:
            lines.append(f"#   {col.id:<22} ← {sug.header}  ({sug.why}, {sug.score:.2f}) {need}")
            args.append(f'--map "{sug.header}={col.id}"')
        else:
            lines.append(f"#   {col.id:<22} ← ?  {need}")
    lines.append(f"python -m etl mappings save NAME --kind {kind} " + " ".join(args))
    return printable("\n".join(lines))


def cmd_watch(args) -> int:
    from etl.watch import Watcher

    return Watcher(Path(args.dir), _db(args), settle=args.settle, mapping=args.mapping).run(args.interval, once=args.once)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m etl", description="PB-KPI Lens ETL: load party-building and KPI files into DuckDB")
    sub = p.add_subparsers(dest="cmd", required=True)

    ld = sub.add_parser("load", help="load CSV/Excel files (one transaction per file)")
    ld.add_argument("files", nargs="+")
    ld.add_argument("--db", help="warehouse path (default $PBKPI_DB or data/warehouse.duckdb)")
    ld.add_argument("--kind", help="force the dataset kind instead of detecting it from the header")
    ld.add_argument("--json", action="store_true", help="print one JSON document")
    ld.add_argument("--max-rejects", type=int, default=20, help="rejected rows to print per file (text mode)")
    ld.add_argument("--mapping", help="read the files through this saved column mapping (python -m etl mappings)")
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
    dm.add_argument("--profile", choices=sorted(profiles()),
                    help="industry profile of the synthetic company: power (default, or $PBKPI_PROFILE), oilfield, plant")
    dm.add_argument("--json", action="store_true")
    dm.set_defaults(fn=cmd_demo)

    mt = sub.add_parser("metric", help="the metrics an administrator defines: list, undefined (numeric KPI columns no "
                                       "metric reads yet), define FILE (TOML/JSON: [metric] + [[columns]]), remove ID")
    mt.add_argument("action", choices=["list", "undefined", "define", "remove"])
    mt.add_argument("target", nargs="?", help="define: the definition file; remove: the metric id")
    mt.add_argument("--db")
    mt.add_argument("--by", help="who defines it (kept with the definition)")
    mt.set_defaults(fn=cmd_metric)

    rf = sub.add_parser("refresh", help="rebuild panel_month / panel_quarter")
    rf.add_argument("--db")
    rf.add_argument("--major-events", choices=["include", "exclude"],
                    help="include (DL/T 836 headline, default) or exclude major-event outages from reliability")
    rf.set_defaults(fn=cmd_refresh)
    mg = sub.add_parser("migrate", help="bring an older warehouse to this version's schema (clears personal data kept by "
                        "older versions); with --to, copy it into a lake")
    mg.add_argument("--db")
    mg.add_argument("--to", metavar="LAKE_URL", help="then copy the warehouse into an empty DuckLake "
                    "(ducklake+postgres://user@host:port/db?data_path=…), verify every table and publish it")
    mg.set_defaults(fn=cmd_migrate)
    ps = sub.add_parser("push", help="a province's warehouse file into its own tables of the lake (one commit, "
                        "retried on a conflict; readers see it once published)")
    ps.add_argument("--province", required=True, help="the province's code (its schema in the lake), e.g. gd")
    ps.add_argument("--db", help="the province's warehouse file (default $PBKPI_DB)")
    ps.add_argument("--to", metavar="LAKE_URL", required=True, help="the lake (ducklake+postgres://…)")
    ps.add_argument("--publish", action="store_true", help="then publish (waits for the publisher lock)")
    ps.set_defaults(fn=cmd_push)
    pb = sub.add_parser("publish", help="the lake's publisher: group views, aggregates and panels from every "
                        "province, then a new published snapshot (one publisher at a time)")
    pb.add_argument("--to", metavar="LAKE_URL", help="the lake (default: $PBKPI_DB when it is a lake URL)")
    pb.set_defaults(fn=cmd_publish)
    wk = sub.add_parser("worker", help="a province's loader on a lake: runs the load jobs the upload page queues "
                        "for that province (load, push, publish), one worker per province")
    wk.add_argument("--province", required=True, help="the province's code (its schema in the lake)")
    wk.add_argument("--db", required=True, help="the province's warehouse file (on this machine)")
    wk.add_argument("--to", metavar="LAKE_URL", help="the lake (default: $PBKPI_DB when it is a lake URL)")
    wk.add_argument("--once", action="store_true", help="run the jobs waiting now, then stop")
    wk.add_argument("--poll", type=float, default=2.0, help="seconds between looks for a new job (default 2)")
    wk.add_argument("--no-warm", action="store_true", help="do not warm the statistics after a publish")
    wk.set_defaults(fn=cmd_worker)
    mn = sub.add_parser("maintain", help="tidy the lake: expire old snapshots (never the last two published), delete "
                        "data files nothing reads and files a killed push left")
    mn.add_argument("--to", metavar="LAKE_URL", help="the lake (default: $PBKPI_DB when it is a lake URL)")
    mn.add_argument("--keep-days", type=float, default=7.0, help="keep snapshots younger than this (default 7)")
    mn.set_defaults(fn=cmd_maintain)
    dc = sub.add_parser("docs", help="print (or --write into README.md) the data-contract, metric and settings tables")
    dc.add_argument("--write", action="store_true")
    dc.set_defaults(fn=cmd_docs)
    cf = sub.add_parser("config", help="every setting: its value, where it came from, and whether it is usable")
    cf.add_argument("--json", action="store_true")
    cf.set_defaults(fn=cmd_config)
    hl = sub.add_parser("health", help="is the dashboard ready: settings, warehouse, last publish, warm-up (exit 0 ready, 1 not)")
    hl.add_argument("--db")
    hl.add_argument("--json", action="store_true")
    hl.set_defaults(fn=cmd_health)
    mp = sub.add_parser("mappings", help="column-mapping profiles for files with their own headers")
    mp.add_argument("action", choices=["list", "show", "save", "delete", "import", "suggest"])
    mp.add_argument("name", nargs="?", default="", help="profile name (import, suggest: a file)")
    mp.add_argument("--kind", help="the dataset the files hold (save; suggest: instead of guessing)")
    mp.add_argument("--map", action="append", default=[], metavar="FILE_HEADER=column",
                    help="one file header and the contract column it holds; repeat for each column")
    mp.add_argument("--json", action="store_true")
    mp.set_defaults(fn=cmd_mappings)
    wt = sub.add_parser("watch", help="load files as they land in a folder; move them to done/ or failed/ with a result file")
    wt.add_argument("dir")
    wt.add_argument("--db")
    wt.add_argument("--interval", type=float, default=5.0, help="seconds between looks at the folder")
    wt.add_argument("--settle", type=float, default=2.0, help="seconds a file must stay unchanged before it is taken")
    wt.add_argument("--mapping", help="read every file through this saved column mapping")
    wt.add_argument("--once", action="store_true", help="take what is there, then stop")
    wt.set_defaults(fn=cmd_watch)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    # `config` lists the settings itself, problems included; a watcher or worker runs as a service: its log is its output
    if args.cmd != "config" and not logsetup.start_command("etl", stderr=args.cmd in ("watch", "worker")):
        return 2
    try:
        with logsetup.context(cmd=args.cmd):
            return args.fn(args)
    except EtlError as exc:
        log.error("%s failed: %s", args.cmd, exc)
        print(printable(f"错误 error: {exc}"), file=sys.stderr)
        return 2
    except duckdb.Error as exc:  # the warehouse itself (a damaged file): one line, never a traceback
        from etl.errors import unreadable_message

        log.error("%s failed on the warehouse: %s", args.cmd, exc)
        print(printable(f"错误 error: {unreadable_message(_db(args), exc)}"), file=sys.stderr)
        return 2
    except Exception as exc:
        if not type(exc).__module__.startswith("psycopg"):
            raise
        # a lake's catalog database failed mid-command (it went down, a connection was cut): one line
        log.error("%s failed on the lake's catalog database: %s", args.cmd, exc)
        print(printable(f"错误 error: 湖仓目录数据库（PostgreSQL）在执行中出错：{str(exc).strip()}。请确认数据库可用后重新运行；"
                        f"推送与发布都是单个事务，中断不会留下一半的数据。(the catalog database failed; run again)"),
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
