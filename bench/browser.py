"""Page times as a person feels them (#19): every page in a real browser (Debian's Chromium through
Playwright, 1366×768, a fresh browser context per visit), beside a one-chart Streamlit app timed in the same
run (bench/floor_app.py) — the floor any Streamlit page pays on this machine.

For each page, medians of --repeat visits of:
  first   the first visit in a new browser session, until the run is over and the charts stop changing
  filter  a sidebar filter change (grain month → quarter)
  pick    the page's own first pick (its first selectbox: the next option)
  slice   the first visit to a slice nobody precomputed (one area type, quarterly), until its statistics
          are drawn (computed in the background meanwhile)
and where the time goes: until the last websocket message arrived (server run and transfer) and after it
(drawing in the browser), the websocket messages and bytes, and Chromium's own scripting, layout and style
time (CDP Performance metrics).

    python -m bench.browser --db data/warehouse.duckdb [--repeat 3] [--out bench/results/browser.json]

The warehouse is warmed first (python -m application.warm), as `make run` does. Timings are medians; the
floor is measured in the same run, so ratios compare like with like on a shared machine."""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROME_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
PAGES = {"overview": "", "profile": "profile", "relationships": "relationships", "tests": "tests", "whatif": "whatif",
         "briefing": "briefing", "data": "data"}
QUIET_MS = 500  # the page counts as drawn when nothing changed for this long; the time reported is when it began

# Done when the run markers changed (app.py's, or a page fragment's after a rerun of the fragment alone), no
# run is in progress, nothing is stale, no statistic is still being computed in the background (the markers'
# data-pending), and the number of drawn charts stopped changing; window.__pbDrawn is the moment that state
# began (performance.now()).
SETTLED_JS = """(ms) => {
  const marks = [...document.querySelectorAll('[data-testid="pbkpi-run-done"]')];
  const run = marks.map((m) => m.getAttribute('data-run')).join(',');
  const pending = marks.reduce((n, m) => n + Number(m.getAttribute('data-pending') || 0), 0);
  const charts = document.querySelectorAll('.js-plotly-plot .main-svg').length;
  const busy = !run || run === window.__pbLastRun || document.querySelector('[data-testid="stStatusWidget"]')
               || document.querySelector('[data-stale="true"]') || pending > 0;
  const now = performance.now();
  if (busy || charts !== window.__pbCharts) { window.__pbCharts = charts; window.__pbDrawn = undefined; return false; }
  if (window.__pbDrawn === undefined) { window.__pbDrawn = now; return false; }
  if (now - window.__pbDrawn < ms) return false;
  window.__pbLastRun = run;
  return true;
}"""
METRICS = ("ScriptDuration", "LayoutDuration", "RecalcStyleDuration", "TaskDuration")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(command: list[str], env: dict, log: Path, script: list[str] = ()) -> tuple[subprocess.Popen, str]:
    """A Streamlit server (`command` with the server options, then `script`) on a free port."""
    port = free_port()
    fh = open(log, "w")
    proc = subprocess.Popen([sys.executable, *command, "--server.port", str(port), "--server.address", "127.0.0.1",
                             "--server.headless", "true", *script],
                            cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=2)
            return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"server did not start: {log.read_text()[-2000:]}")


class Visit:
    """One browser context and page, with its websocket traffic and Chromium's counters."""

    def __init__(self, browser):
        self.ctx = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
        self.page = self.ctx.new_page()
        self.cdp = self.ctx.new_cdp_session(self.page)
        self.cdp.send("Performance.enable")
        self.frames: list[tuple[float, int]] = []  # (performance.now() in the page when received, bytes)
        self.page.on("websocket", lambda ws: ws.on("framereceived", self._frame))

    def _frame(self, payload) -> None:
        size = len(payload) if isinstance(payload, (bytes, bytearray)) else len(payload.encode())
        self.frames.append((time.perf_counter(), size))

    def counters(self) -> dict:
        got = {m["name"]: m["value"] for m in self.cdp.send("Performance.getMetrics")["metrics"]}
        return {k: got.get(k, 0.0) for k in METRICS}

    def settle(self, t0_page: float, t0_wall: float, before: dict, frames_before: int, timeout=180_000) -> dict:
        self.page.wait_for_function(SETTLED_JS, arg=QUIET_MS, polling=50, timeout=timeout)
        drawn = self.page.evaluate("() => window.__pbDrawn")
        # a rerun of a page's fragment alone has its own marker (data-scope="page"); app.py's is then the last full run's
        server = self.page.evaluate("() => { const d = document.querySelector('[data-testid=\"pbkpi-run-done\"][data-scope=\"page\"]')"
                                    " || document.querySelector('[data-testid=\"pbkpi-run-done\"]');"
                                    " return d && d.getAttribute('data-ms') ? Number(d.getAttribute('data-ms')) / 1000 : null; }")
        after = self.counters()
        new = self.frames[frames_before:]
        last_wall = new[-1][0] if new else t0_wall
        total = (drawn - t0_page) / 1000
        return {"seconds": total, "server_run": server if server is not None else float("nan"),
                "until_last_message": min(total, max(0.0, last_wall - t0_wall)),
                "messages": len(new), "kbytes": sum(b for _, b in new) / 1024,
                **{k: after[k] - before[k] for k in METRICS}}

    def first(self, url: str) -> dict:
        before, n = self.counters(), len(self.frames)
        t0_wall = time.perf_counter()
        self.page.goto(url, wait_until="commit")
        # performance.now() counts from the navigation's start: the first visit's clock starts at 0
        return self.settle(0.0, t0_wall, before, n)

    def act(self, action, prepare=None) -> dict:
        """Time `action` (a click) until the page is drawn again; `prepare` (opening a list) is not timed."""
        act = prepare(self.page) if prepare else action
        before, n = self.counters(), len(self.frames)
        t0_page = self.page.evaluate("() => performance.now()")
        t0_wall = time.perf_counter()
        act(self.page) if prepare else action(self.page)
        return self.settle(t0_page, t0_wall, before, n)

    def close(self) -> None:
        self.ctx.close()


def change_grain(page) -> None:
    page.locator('[data-testid="stRadio"] label').filter(has_text="季度").first.click()


def floor_grain(page) -> None:
    page.locator('[data-testid="stRadio"] label').filter(has_text="quarter").first.click()


def open_other_option(page):
    """Open the page's first selectbox and find an option other than the one selected; the click on it (the
    returned action) is what a pick costs: opening the list is the browser's own, and not timed."""
    box = page.locator('[data-testid="stMain"] [data-testid="stSelectbox"]').first
    box.locator("input").first.click()  # Streamlit's combobox (react-aria) lists its options on a key press
    page.keyboard.press("ArrowDown")
    options = page.locator('[role="listbox"] [role="option"]')
    options.first.wait_for()
    page.wait_for_timeout(300)  # the list fills in as it opens
    states = options.evaluate_all("els => els.map(e => e.getAttribute('aria-selected'))")
    other = next((i for i, sel in enumerate(states) if sel != "true"), None)
    if other is None or len(states) < 2:
        page.keyboard.press("Escape")
        raise NoPick()
    return lambda page: options.nth(other).click()


class NoPick(Exception):
    """The page's first selectbox offers nothing else to choose."""


def measure(browser, base: str, path: str, picks: bool, floor: bool = False) -> dict:
    out = {}
    v = Visit(browser)
    try:
        out["first"] = v.first(f"{base}/{path}")
        out["filter"] = v.act(floor_grain if floor else change_grain)
        if (picks or floor) and v.page.locator('[data-testid="stMain"] [data-testid="stSelectbox"]').count():
            try:
                out["pick"] = v.act(None, prepare=open_other_option)
            except NoPick:
                pass
    finally:
        v.close()
    if not floor:
        v = Visit(browser)
        try:
            sep = "&" if "?" in path else "?"
            out["slice"] = v.first(f"{base}/{path}{sep}grain=quarter&region=%E5%8E%BF%E5%9F%8E")  # 县城, quarterly
        finally:
            v.close()
    return out


def medians(runs: list[dict]) -> dict:
    out = {}
    for kind in runs[0]:
        rows = [r[kind] for r in runs if kind in r]
        out[kind] = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
        out[kind]["runs"] = [round(r["seconds"], 3) for r in rows]
    return out


def run_scale(browser_type, db: Path, repeat: int, warm: bool, logs: Path, keep: bool = False) -> dict:
    """Every page at one warehouse, the floor app timed in the same run (interleaved with the pages)."""
    env = dict(os.environ, PBKPI_DB=str(db), PBKPI_AUTH="none", PBKPI_WARM="0", PBKPI_HEALTH_PORT="0", PBKPI_LOG_FILE="off")
    if warm and not keep:  # as `make bench` does: the warm-up is then the one after a load
        shutil.rmtree(str(db) + ".cache", ignore_errors=True)
    kept_before = Path(str(db) + ".cache").exists()
    if warm:
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "application.warm"], cwd=ROOT, env=env, check=True, capture_output=True)
        warm_seconds = time.perf_counter() - t
    else:
        warm_seconds = None
    floor_proc, floor_url = start(["-m", "streamlit", "run"], env, logs / "floor.log", [str(ROOT / "bench" / "floor_app.py")])
    app_proc, app_url = start(["-m", "ui.serve"], env, logs / f"dashboard_{db.stem}.log")
    results: dict = {"floor": [], "pages": {p: [] for p in PAGES}}
    try:
        browser = browser_type.launch(executable_path=CHROMIUM, args=CHROME_ARGS)
        try:
            measure(browser, app_url, "", picks=False)  # the server's own first run (imports, first reads) is not a visit
            measure(browser, floor_url, "", picks=False, floor=True)
            for _ in range(repeat):  # interleaved, so the floor sees the same machine as the pages
                results["floor"].append(measure(browser, floor_url, "", picks=False, floor=True))
                for name, path in PAGES.items():
                    results["pages"][name].append(measure(browser, app_url, path, picks=True))
        finally:
            browser.close()
    finally:
        for proc in (floor_proc, app_proc):
            proc.terminate()
            proc.wait(10)
    floor = medians(results["floor"])
    out = {"warehouse": str(db), "warm_seconds": warm_seconds, "warm_from_empty": not kept_before, "floor": floor,
           "pages": {name: medians(runs) for name, runs in results["pages"].items()}}
    for page in out["pages"].values():
        for kind, row in page.items():
            base = floor[{"slice": "first"}.get(kind, kind)]["seconds"]  # a pick against the floor's pick
            row["ratio_to_floor"] = row["seconds"] / base if base else None
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.browser", description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True, action="append",
                    help="a warehouse, or scale=warehouse (demo=data/warehouse.duckdb); give it once per scale")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "browser.json"))
    ap.add_argument("--md", default=str(ROOT / "bench" / "BROWSER.md"), help="the Markdown report (committed)")
    ap.add_argument("--no-warm", action="store_true")
    ap.add_argument("--keep-results", action="store_true",
                    help="warm up over the statistics already kept (faster; the warm-up is then not the one after a load)")
    args = ap.parse_args(argv)
    if CHROMIUM is None:
        print("chromium is not installed (apt-get install chromium fonts-noto-cjk)", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    scales = {}
    for item in args.db:
        name, _, path = item.rpartition("=")
        scales[name or "demo"] = Path(path).resolve()
    logs = Path(args.out).parent
    logs.mkdir(parents=True, exist_ok=True)
    report = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                          "chromium": subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True).stdout.strip()},
              "repeat": args.repeat, "when": time.strftime("%Y-%m-%d %H:%M"), "scales": {}}
    with sync_playwright() as pw:
        for name, db in scales.items():
            report["scales"][name] = run_scale(pw.chromium, db, args.repeat, not args.no_warm, logs, args.keep_results)
            report["scales"][name]["units"] = units_of(db)
    Path(args.out).write_text(json.dumps(report, ensure_ascii=False, indent=2))
    m = report["machine"]
    text = (f"# Page times in a real browser\n\nWritten by `python -m bench.browser` (`make bench-browser`) on "
            f"{report['when']}: {m['cpus']} cores, {m['platform']}, Python {m['python']}, {m['chromium']}; "
            f"each warehouse after `application.warm`; 1366×768, a fresh browser context per visit; medians of "
            f"{args.repeat}. Steps: *first* visit in a new session, *filter* (sidebar grain → quarter), *pick* (the "
            f"page's first selectbox: the click on another option, after the list is open), *slice* (first visit to "
            f"县城, quarterly: nobody precomputed it; until its statistics are drawn). A page counts as drawn when no run is in progress and the number "
            f"of drawn charts stopped changing; *until last message* is from the action to the last websocket "
            f"message (server run and transfer), the rest is drawing in the browser; *server run* is the script's own "
            f"time on the server (app.py's start to its end marker; the floor app has none); *script* and *layout* are "
            f"Chromium's own (CDP Performance). *× floor*: a first visit and a slice against the floor app's first "
            f"visit, a filter against its radio change, a pick against its selectbox pick (each change redraws its chart)."
            f"\n\n"
            + "\n\n".join(markdown(name, scale, args.repeat) for name, scale in report["scales"].items()) + "\n")
    Path(args.md).write_text(text, encoding="utf-8")
    print(text)
    return 0


def units_of(db: Path) -> int | None:
    import duckdb

    try:
        with duckdb.connect(str(db), read_only=True) as con:
            return con.execute("SELECT count(*) FROM dim_business_units").fetchone()[0]
    except duckdb.Error:
        return None


def markdown(name: str, scale: dict, repeat: int) -> str:
    f = scale["floor"]
    warm = (f", warm-up {'after a load' if scale.get('warm_from_empty', True) else 'over results already kept'} "
            f"{scale['warm_seconds']:.0f} s" if scale.get("warm_seconds") else "")
    pick = f", a pick (selectbox) {f['pick']['seconds']:.2f} s" if "pick" in f else ""
    lines = [f"## {name} ({scale.get('units') or '?'} business units{warm})", "",
             f"Floor (one-chart Streamlit app, same run): first visit {f['first']['seconds']:.2f} s, "
             f"a filter (radio) change {f['filter']['seconds']:.2f} s{pick} (medians of {repeat}).", "",
             "| page | step | median s | × floor | server run s | until last message s | messages | KB | script s | layout s |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for page_name, page in scale["pages"].items():
        for kind, r in page.items():
            lines.append(f"| {page_name} | {kind} | {r['seconds']:.2f} | {r['ratio_to_floor']:.1f} | {r['server_run']:.2f} | "
                         f"{r['until_last_message']:.2f} | "
                         f"{r['messages']:.0f} | {r['kbytes']:.0f} | {r['ScriptDuration']:.2f} | {r['LayoutDuration']:.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
