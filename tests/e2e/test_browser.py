"""Real browser: serve the app (`python -m ui.serve`, as `make run` does) on the demo warehouse, visit every page in Chinese and English with
the system Chromium (Playwright), fail on any Streamlit exception box, save full-page screenshots under
test-artifacts/screenshots/ for a person to look at."""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.ui.devtext import visible_developer_text

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PAGES = {"overview": "", "profile": "profile", "relationships": "relationships", "tests": "tests", "whatif": "whatif",
         "briefing": "briefing", "data": "data", "screen": "screen"}
CHROME_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser"),
              pytest.mark.skipif(CHROMIUM is None, reason="system Chromium not installed (apt-get install chromium)")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(demo_db):
    yield from run_server(demo_db)


class Server(str):
    """The server's base URL, carrying the warehouse path it serves."""
    db: Path


@pytest.fixture(scope="module")
def upload_server(demo_db, tmp_path_factory):
    """A second server on a private copy of the demo warehouse, for tests that load data."""
    db = tmp_path_factory.mktemp("upload") / "w.duckdb"
    shutil.copyfile(demo_db, db)
    for url in run_server(db, PBKPI_MAPPINGS=str(db.parent / "mappings")):
        srv = Server(url)
        srv.db = db
        yield srv


@pytest.fixture(scope="module")
def background_server(demo_db, tmp_path_factory):
    """A server on a copy of the demo warehouse with nothing kept yet, where every slice counts as large:
    the statistics pages compute in the background and redraw themselves."""
    db = tmp_path_factory.mktemp("background") / "w.duckdb"
    shutil.copyfile(demo_db, db)
    yield from run_server(db, PBKPI_BACKGROUND_ROWS="1")


@pytest.fixture(scope="module")
def screen_server(demo_db, tmp_path_factory):
    """A server on a copy of the demo warehouse whose meeting-room screen turns every two seconds."""
    db = tmp_path_factory.mktemp("screen") / "w.duckdb"
    shutil.copyfile(demo_db, db)
    for url in run_server(db, PBKPI_SCREEN_SECONDS="2"):
        srv = Server(url)
        srv.db = db
        yield srv


def run_server(db, args=(), port=None, **env_extra):
    port = port or free_port()
    env = dict(os.environ, PBKPI_DB=str(db), **env_extra)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = open(ARTIFACTS.parent / "streamlit.log", "w")  # a pipe nobody reads would fill up and stall the server
    proc = subprocess.Popen([sys.executable, "-m", "ui.serve", "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true",
                             *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        raise RuntimeError("streamlit did not start: " + (ARTIFACTS.parent / "streamlit.log").read_text()[-2000:])
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS)
        yield b
        b.close()


NAV = {"zh": "总览", "en": "Overview"}


# settled: the end-of-run markers are there and are not the ones the previous wait saw (a new run has
# finished: app.py's marker, or a page fragment's after a rerun of the fragment alone), and no running-script
# indicator or stale element for `ms`: conditions, not fixed sleeps
IDLE_JS = """(ms) => {
  const marks = [...document.querySelectorAll('[data-testid="pbkpi-run-done"]')];
  const run = marks.map((m) => m.getAttribute('data-run')).join(',');
  const busy = !run || run === window.__pbkpiLastRun || document.querySelector('[data-testid="stStatusWidget"]')
               || document.querySelector('[data-stale="true"]');
  const now = performance.now();
  if (busy || window.__pbkpiIdle === undefined) { window.__pbkpiIdle = busy ? undefined : now; return false; }
  if (now - window.__pbkpiIdle < ms) return false;
  window.__pbkpiLastRun = run;
  return true;
}"""


def wait_idle(page, lang="zh", timeout=90_000):
    """Wait until app.py has run (our navigation is in the sidebar) and a new run has finished and settled."""
    page.wait_for_function(
        "(t) => { const n = document.querySelector('[data-testid=\"stSidebarNav\"]'); return n && n.innerText.includes(t); }",
        arg=NAV[lang], timeout=timeout)
    page.evaluate("() => { window.__pbkpiIdle = undefined; }")
    try:
        page.wait_for_function(IDLE_JS, arg=500, polling=100, timeout=timeout)
    except Exception:
        state = page.evaluate("""() => ({url: location.href, last: window.__pbkpiLastRun,
            run: [...document.querySelectorAll('[data-testid="pbkpi-run-done"]')].map((m) => m.getAttribute('data-run')).join(','),
            status: !!document.querySelector('[data-testid="stStatusWidget"]'), stale: document.querySelectorAll('[data-stale="true"]').length})""")
        raise AssertionError(f"the page did not settle: {state}") from None


def full_screenshot(page, path: Path, width: int):
    """Streamlit scrolls inside its main container, so grow the viewport to the content before capturing."""
    h = page.evaluate("() => { const m = document.querySelector('[data-testid=\"stMain\"]') || document.body;"
                      " return Math.max(m.scrollHeight, document.body.scrollHeight); }")
    vh = page.viewport_size["height"]
    page.set_viewport_size({"width": width, "height": min(max(vh, int(h) + 40), 12000)})
    page.wait_for_timeout(1200)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": width, "height": vh})


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("size", [(390, 844), (1366, 768), (1920, 1080)])
def test_every_page_renders(server, browser, lang, size):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    ctx = browser.new_context(viewport={"width": size[0], "height": size[1]}, locale="zh-CN")
    page = ctx.new_page()
    try:
        for name, path in PAGES.items():
            grain = "quarter" if name in ("overview", "profile", "briefing") else "month"
            page.goto(f"{server}/{path}?lang={lang}&grain={grain}", wait_until="domcontentloaded")
            wait_idle(page, lang)
            assert page.locator("text=Page not found").count() == 0, name  # deep links work on a fresh server
            exc = page.locator('[data-testid="stException"]')
            assert exc.count() == 0, f"{name}: " + exc.first.inner_text()[:500]
            title = page.locator("h1").first.inner_text()
            assert title.strip(), name
            if lang == "en":
                assert not any("\u4e00" <= ch <= "\u9fff" for ch in title), f"{name}: title not in English: {title}"
            else:  # what only the browser shows: Streamlit's own texts, the chart toolbar, ticks as drawn
                found = visible_developer_text(page)
                assert not found, f"{name}: developer text in a Chinese view: {found[:10]}"
            page.screenshot(path=str(ARTIFACTS / f"{name}_{lang}_{size[0]}_viewport.png"))
            full_screenshot(page, ARTIFACTS / f"{name}_{lang}_{size[0]}.png", size[0])
    finally:
        ctx.close()


def test_click_a_unit_on_a_chart_opens_its_profile_with_the_view_kept(server, browser):
    """Drill-down: a point of the overview's quadrant opens that unit's profile; the sidebar's selection
    (here: quarters, a region) comes along."""
    ctx = browser.new_context(viewport={"width": 1366, "height": 900})
    page = ctx.new_page()
    try:
        page.goto(f"{server}/?lang=zh&grain=quarter&region=农村", wait_until="domcontentloaded")
        wait_idle(page, "zh")
        quadrant = page.locator(".stPlotlyChart").nth(1)
        quadrant.scroll_into_view_if_needed()
        point = quadrant.locator(".scatterlayer .trace .points path").first
        point.click(force=True)
        page.wait_for_url("**/profile**", timeout=60_000)
        wait_idle(page, "zh")
        params = dict(p.split("=", 1) for p in page.url.split("?", 1)[1].split("&"))
        assert params["grain"] == "quarter" and params["pf_unit"].startswith("BU")
        box = page.locator('[data-testid="stMain"] [data-testid="stSelectbox"]').first
        shown = box.inner_text() + " ".join(box.locator("input").evaluate_all("els => els.map(e => e.value)"))
        assert params["pf_unit"] in shown
        assert page.locator('[data-testid="stSidebar"] input[type="radio"]:checked').count() == 2
        assert page.locator('[data-testid="stException"]').count() == 0
    finally:
        ctx.close()


@pytest.mark.parametrize("path", ["", "briefing", "profile"])
def test_a_page_fetches_nothing_from_outside_the_server(server, browser, path):
    """Customers run on an intranet: every request a page makes — scripts, fonts, icons, charts — goes to the
    dashboard's own host (or stays inside the page as data: or blob:)."""
    from urllib.parse import urlparse

    ctx = browser.new_context(viewport={"width": 1366, "height": 900})
    page = ctx.new_page()
    seen = []
    page.on("request", lambda r: seen.append(r.url))
    try:
        page.goto(f"{server}/{path}?lang=zh&grain=quarter", wait_until="domcontentloaded")
        wait_idle(page, "zh")
        page.mouse.wheel(0, 4000)  # charts further down draw too
        page.wait_for_load_state("networkidle")
    finally:
        ctx.close()
    own = urlparse(server).netloc
    outside = [u for u in seen if not u.startswith(("data:", "blob:")) and urlparse(u).netloc != own]
    assert seen and not outside, outside[:5]


def test_upload_through_the_data_page(upload_server, browser, tmp_path):
    """Upload a branch file with a bad row and hostile cells: the result and the reason show as text,
    nothing runs in the browser, and the overview reflects the new data on its next run."""
    p = tmp_path / "月报.csv"
    p.write_text("组织编码,月份,党员人数,备注\nBU001-01,2026-01,21,<img src=x onerror=alert(1)>\n"
                 "BU001-01,2026-02,-5,=HYPERLINK(\"x\")\n", encoding="utf-8")
    ctx = browser.new_context(viewport={"width": 1366, "height": 900})
    page = ctx.new_page()
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        upload(page, upload_server, "zh", p, '[data-testid="stFileChip"]')
        assert page.locator("text=Page not found").count() == 0  # the first visit of a fresh server
        page.get_by_role("button", name="开始导入").click()
        page.wait_for_selector("text=导入 1 行，拒绝 1 行", timeout=60_000)
        wait_idle(page, "zh")
        page.wait_for_selector("text=党员人数不能为负数", state="attached", timeout=30_000)  # in the rejects grid
        full_screenshot(page, ARTIFACTS / "data_upload_zh_1366.png", 1366)
        assert page.locator('[data-testid="stException"]').count() == 0
        assert not dialogs
    finally:
        ctx.close()


PLATFORM_HEADER = "支部代码,开展日期,活动形式,到会人数,应到会人数,时长,会议主题\n"


def upload(page, server: str, lang: str, path, until: str) -> None:
    """Open the Data page, put a file in the uploader, and wait until `until` shows and the run settles."""
    page.goto(f"{server}/data?lang={lang}", wait_until="domcontentloaded")
    wait_idle(page, lang)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(path))
    page.wait_for_selector(until, timeout=30_000)
    wait_idle(page, lang)


def test_column_mapping_in_the_browser(upload_server, browser, tmp_path):
    """A file exported with the platform's own headers: the Data page suggests the columns, previews what
    would load, saves the mapping; a new visitor's next file with that header loads through it by itself."""
    first = tmp_path / "平台导出_11月.csv"
    first.write_text(PLATFORM_HEADER + "BU001-01,2025-11-05,主题党日,20,22,2,学习\nBU001-01,2025-11-09,党课,18,20,1.5,党史\n"
                     "BU002-01,2025-11-12,党小组会,8,9,1,安全\n", encoding="utf-8")
    second = tmp_path / "平台导出_12月.csv"
    second.write_text(PLATFORM_HEADER + "BU001-01,2025-12-05,主题党日,19,22,2,十二月\nBU003-01,2025-12-10,党课,15,16,1.5,党史\n",
                      encoding="utf-8")
    ctx = browser.new_context(viewport={"width": 1366, "height": 900})
    page = ctx.new_page()
    try:
        upload(page, upload_server, "zh", first, "text=列映射：平台导出_11月.csv")
        assert page.locator("text=表头无法识别").count() == 1
        page.get_by_role("button", name="预览").click()
        page.wait_for_selector("text=按此映射将导入 3 行，拒绝 0 行", timeout=60_000)
        wait_idle(page, "zh")
        full_screenshot(page, ARTIFACTS / "data_mapping_zh_1366.png", 1366)
        page.get_by_role("button", name="保存映射").click()
        page.wait_for_selector("text=已保存；", timeout=30_000)
        wait_idle(page, "zh")
        page.get_by_role("button", name="开始导入").click()
        page.wait_for_selector("text=导入 3 行，拒绝 0 行", timeout=60_000)
        wait_idle(page, "zh")
        assert page.locator("text=按已保存的列映射").count() >= 1
        assert page.locator('[data-testid="stException"]').count() == 0
    finally:
        ctx.close()
    ctx = browser.new_context(viewport={"width": 1366, "height": 900})  # someone else, next month
    page = ctx.new_page()
    try:
        upload(page, upload_server, "en", second, "text=saved column mapping")
        assert page.locator("text=Column mapping:").count() == 0  # no mapping step: recognised by itself
        page.get_by_role("button", name=re.compile(r"^Load \d")).click()
        page.wait_for_selector("text=2 rows loaded, 0 rejected", timeout=60_000)
        wait_idle(page, "en")
        full_screenshot(page, ARTIFACTS / "data_mapped_load_en_1366.png", 1366)
    finally:
        ctx.close()
    from tests.etl.files import q

    assert q(upload_server.db, "SELECT count(*) FROM etl_loads WHERE mapping LIKE '%@1'")[0][0] == 2
    assert q(upload_server.db, "SELECT count(*) FROM fct_activities WHERE date = '2025-12-05' AND unit_id = 'BU001-01' "
                               "AND topic = '十二月' AND participants = 19") == [(1,)]


def test_mapping_step_in_english_on_a_phone(upload_server, browser, tmp_path):
    f = tmp_path / "kpi_export.csv"
    f.write_text("Station code,Reporting month,Customer count,Complaint tickets\nBU001,2025-11,1200,3\n", encoding="utf-8")
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = ctx.new_page()
    try:
        upload(page, upload_server, "en", f, "text=Column mapping: kpi_export.csv")
        assert page.locator('[data-testid="stException"]').count() == 0
        full_screenshot(page, ARTIFACTS / "data_mapping_en_390.png", 390)
    finally:
        ctx.close()


def test_loads_while_serving(upload_server, browser, tmp_path):
    """A real server keeps answering page after page while three `etl load` processes
    publish new data; no exception box, no lock error, and the new loads show without a restart."""
    files = []
    for k, year in enumerate((2026, 2027, 2028)):
        f = tmp_path / f"m{year}.csv"
        f.write_text("组织编码,月份,党员人数\n" + "".join(f"BU00{u}-01,{year}-{m:02d},{20 + m}\n" for u in range(1, 6)
                                                     for m in range(1, 13)), encoding="utf-8")
        files.append(f)
    ctx = browser.new_context(viewport={"width": 1366, "height": 768})
    page = ctx.new_page()
    try:
        procs = [subprocess.Popen([sys.executable, "-m", "etl", "load", str(f), "--db", str(upload_server.db)], cwd=ROOT,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for f in files]
        visits = 0
        while any(p.poll() is None for p in procs) or visits < 4:
            for path in ("", "relationships", "data"):
                page.goto(f"{upload_server}/{path}?lang=zh", wait_until="domcontentloaded")
                wait_idle(page, "zh")
                exc = page.locator('[data-testid="stException"]')
                assert exc.count() == 0, exc.first.inner_text()[:500]
                visits += 1
        assert all(p.wait(120) == 0 for p in procs), [p.stderr.read() for p in procs]
        page.goto(f"{upload_server}/data?lang=zh", wait_until="domcontentloaded")
        wait_idle(page, "zh")
        for f in files:  # the load history on the page lists every new load, without a restart
            page.wait_for_selector(f"text={f.name}", state="attached", timeout=30_000)
    finally:
        ctx.close()
    assert not list(upload_server.db.parent.glob("*.work"))  # every working copy was published or removed


def test_url_state_round_trip(server, browser):
    ctx = browser.new_context(viewport={"width": 1366, "height": 768})
    page = ctx.new_page()
    try:
        page.goto(f"{server}/relationships?lang=en&grain=month&region=农村&type=供电所,bogus", wait_until="domcontentloaded")
        wait_idle(page, "en")
        assert "grain=month" in page.url and "lang=en" in page.url
        assert "region=" in page.url and "bogus" not in page.url
        assert page.locator("text=not recognised").count() >= 1
    finally:
        ctx.close()


def test_statistics_computed_in_the_background_appear_by_themselves(background_server, browser):
    """The page answers with a notice, then redraws itself when the worker is done (the fragment's timer,
    which AppTest does not run): no click, no reload."""
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    try:
        page.goto(f"{background_server}/relationships?lang=zh", wait_until="domcontentloaded")
        notice = page.get_by_text("正在为所选范围计算统计结果")
        notice.wait_for(timeout=90_000)
        page.screenshot(path=str(ARTIFACTS / "background_pending_zh_1366.png"))
        notice.wait_for(state="detached", timeout=120_000)
        page.locator("[data-testid='stPlotlyChart']").first.wait_for(timeout=60_000)
        wait_idle(page)
        assert page.locator("[data-testid='stException']").count() == 0
        assert page.get_by_text("正在为所选范围计算统计结果").count() == 0
        assert page.locator("text=Page not found").count() == 0  # a deep link, first visit of a fresh server
        page.screenshot(path=str(ARTIFACTS / "background_done_zh_1366.png"))
    finally:
        page.close()


def url_state(page) -> dict:
    from urllib.parse import parse_qs, urlparse

    return {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items() if k != "lang"}


def switch_language(page, to: str) -> None:
    page.locator('[data-testid="stSidebar"] [role="radiogroup"]').first.get_by_text(
        "English" if to == "en" else "中文", exact=True).click()
    wait_idle(page, to)


@pytest.mark.parametrize("path", ["", "relationships", "tests"])
def test_language_switch_changes_nothing_but_labels(server, browser, path):
    """The issue's case: grain=quarter&from=2023Q1&to=2024Q4&region=农村, zh -> en -> zh: every selection
    stays (grain, period, area), in the widgets and in the URL."""
    ctx = browser.new_context(viewport={"width": 1366, "height": 900})
    page = ctx.new_page()
    try:
        page.goto(f"{server}/{path}?lang=zh&grain=quarter&from=2023Q1&to=2024Q4&region=农村", wait_until="domcontentloaded")
        wait_idle(page, "zh")
        before = url_state(page)  # the sidebar's values, and the page's own picks
        assert {k: before.get(k) for k in ("grain", "from", "to", "region")} == {
            "grain": "quarter", "from": "2023Q1", "to": "2024Q4", "region": "农村"}, before
        switch_language(page, "en")
        assert url_state(page) == before
        sidebar = page.locator('[data-testid="stSidebar"]')
        page.screenshot(path=str(ARTIFACTS / f"language_en_{path or 'overview'}.png"))
        assert sidebar.get_by_text("quarter", exact=True).count() >= 1
        grain_checked = sidebar.locator('input[type="radio"]:checked')
        assert grain_checked.count() == 2  # language and grain both have a selected option
        assert "rural" in sidebar.inner_text().lower() and "农村" not in sidebar.inner_text()
        unit_box = sidebar.locator('[data-testid="stSelectbox"]').last
        assert "All units" in unit_box.inner_text() + " ".join(unit_box.locator("input").evaluate_all("els => els.map(e => e.value)"))
        assert "Choose an option" not in unit_box.inner_text()
        switch_language(page, "zh")
        assert url_state(page) == before
        assert "农村" in sidebar.inner_text()
        assert page.locator('[data-testid="stException"]').count() == 0
    finally:
        ctx.close()


FRAGMENT_PAGES = {"": "ov_quarter", "profile": "pf_unit", "relationships": "rel_x", "tests": "ts_y", "whatif": "wi_y",
                  "briefing": "br_quarter"}


@contextlib.contextmanager
def new_page(browser, width: int = 1366, height: int = 900):
    """A page in a fresh browser context (a new session), closed afterwards."""
    ctx = browser.new_context(viewport={"width": width, "height": height})
    try:
        yield ctx.new_page()
    finally:
        ctx.close()


@pytest.mark.parametrize("path", list(FRAGMENT_PAGES))
def test_a_page_pick_reruns_the_page_alone_and_keeps_the_view(server, browser, path):
    """A statistics page's own pick reruns the page's fragment, not app.py: app.py's end marker in the sidebar
    stays as it was and the fragment draws its own. The pick still reaches the URL (the link holds the view),
    survives a language switch, and a fresh browser opening the link shows it."""
    from bench.browser import open_other_option

    key = FRAGMENT_PAGES[path]
    grain = "quarter" if path in ("", "profile", "briefing") else "month"
    with new_page(browser) as page:
        page.goto(f"{server}/{path}?lang=zh&grain={grain}", wait_until="domcontentloaded")
        wait_idle(page)
        app_mark = page.locator('[data-testid="pbkpi-run-done"][data-scope="app"]')
        app_run = app_mark.get_attribute("data-run")
        before = url_state(page)
        open_other_option(page)(page)
        wait_idle(page)
        page.wait_for_function("(k) => new URLSearchParams(location.search).has(k)", arg=key, timeout=30_000)
        after = url_state(page)
        assert after[key] != before.get(key), (before, after)
        assert {k: v for k, v in after.items() if k != key} == {k: v for k, v in before.items() if k != key}
        assert app_mark.get_attribute("data-run") == app_run, "the pick reran the whole app"
        assert page.locator('[data-testid="pbkpi-run-done"][data-scope="page"]').count() == 1, "no end marker of the page's own rerun"
        assert page.locator('[data-testid="stException"]').count() == 0
        assert page.locator('[data-testid="stMain"] [data-testid="stAlert"]').filter(has_text="查询编号").count() == 0
        switch_language(page, "en")
        assert url_state(page) == after
        switch_language(page, "zh")
        assert url_state(page) == after
        link = page.url
    with new_page(browser) as page:
        page.goto(link, wait_until="domcontentloaded")
        wait_idle(page)
        assert url_state(page) == after
        assert page.locator('[data-testid="stException"]').count() == 0


def test_deep_link_reproduces_the_senders_view(server, browser):
    """Picks made in one browser travel in the URL: a fresh browser opening it shows the same picks and the
    same sentences."""
    ctx = browser.new_context(viewport={"width": 1366, "height": 900})
    page = ctx.new_page()
    try:
        page.goto(f"{server}/relationships?lang=en&grain=month", wait_until="domcontentloaded")
        wait_idle(page, "en")
        page.locator('[data-testid="stNumberInput"]').first.locator('[data-testid="stNumberInputStepUp"]').click()
        wait_idle(page, "en")
        page.wait_for_function("() => location.search.includes('rel_lag=2')", timeout=30_000)
        link = page.url
        sender = page.locator('[data-testid="stMain"] [data-testid="stAlert"]').all_inner_texts()
    finally:
        ctx.close()
    ctx = browser.new_context(viewport={"width": 1366, "height": 900})
    page = ctx.new_page()
    try:
        page.goto(link, wait_until="domcontentloaded")
        wait_idle(page, "en")
        try:  # (on a loaded machine the widget may take a moment after the run's marker)
            page.wait_for_function("() => { const i = document.querySelector('[data-testid=\"stNumberInput\"] input');"
                                   " return i && i.value === '2'; }", timeout=20_000)
        except Exception:
            values = page.locator('[data-testid="stNumberInput"] input').evaluate_all("els => els.map(e => e.value)")
            raise AssertionError(f"the link's lag is not shown: {values} at {page.url} (link {link})") from None
        assert page.locator('[data-testid="stMain"] [data-testid="stAlert"]').all_inner_texts() == sender
        assert "rel_lag=2" in page.url
    finally:
        ctx.close()


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory):
    """A server on a warehouse whose unit names are HTML and Markdown (tests/ui/test_markup.py)."""
    from tests.ui.test_markup import HOSTILE, build_hostile

    db = build_hostile(tmp_path_factory.mktemp("hostile_browser"))
    for url in run_server(db):
        srv = Server(url)
        srv.db = db
        srv.names = HOSTILE
        yield srv


def test_no_markup_from_data_in_the_browser(hostile_server, browser):
    """Unit names that are links or tags show as text in every chart: the DOM under the charts holds no link
    and no image from data, and the names' text is there."""
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        for path in ("?grain=quarter", "profile?pf_unit=BU0", "relationships?grain=month", "briefing?grain=quarter"):
            page.goto(f"{hostile_server}/{path}&lang=zh" if "?" in path else f"{hostile_server}/{path}?lang=zh",
                      wait_until="domcontentloaded")
            wait_idle(page, "zh")
            assert page.locator('[data-testid="stException"]').count() == 0, path
            charts = page.locator(".js-plotly-plot")
            assert charts.locator("a[href]").count() == 0, path
            assert charts.locator("img").count() == 0, path
            assert page.locator('[data-testid="stMain"] a[href^="javascript"], [data-testid="stMain"] a[href*="evil.example"]').count() == 0, path
        page.goto(f"{hostile_server}/?grain=quarter&lang=zh", wait_until="domcontentloaded")
        wait_idle(page, "zh")
        page.screenshot(path=str(ARTIFACTS / "hostile_names_overview_zh_1366.png"), full_page=True)
        assert not dialogs
    finally:
        page.close()


@pytest.fixture(scope="module")
def signin_server(demo_db, tmp_path_factory):
    """A server with sign-in on (the demo accounts of `make run`), its own accounts file and audit log."""
    tmp = tmp_path_factory.mktemp("signin")
    env = {"PBKPI_AUTH": "local", "PBKPI_AUTH_DB": str(tmp / "auth.sqlite"), "PBKPI_AUDIT": str(tmp / "audit.jsonl")}
    out = subprocess.run([sys.executable, "-m", "auth", "demo"], cwd=ROOT, capture_output=True, text=True,
                         env=dict(os.environ, PBKPI_DB=str(demo_db), **env))
    assert out.returncode == 0, out.stderr
    for url in run_server(demo_db, **env):
        srv = Server(url)
        srv.db = demo_db
        srv.audit = tmp / "audit.jsonl"
        yield srv


def sign_in(page, url: str, account: str, password: str) -> None:
    page.goto(url, wait_until="domcontentloaded")
    page.get_by_label("账号", exact=True).fill(account)
    page.get_by_label("密码", exact=True).fill(password)
    page.get_by_role("button", name="登录").click()
    try:
        wait_idle(page)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / f"signin_failed_{account}.png"))
        raise


def test_sign_in_survives_a_reload_until_sign_out(signin_server, browser):
    """A reload or a new tab stays signed in (the session cookie); after sign-out neither the reload nor the
    old cookie in another browser gets in."""
    ctx = browser.new_context(viewport={"width": 1366, "height": 900})
    page = ctx.new_page()
    try:
        sign_in(page, f"{signin_server}/?lang=zh", "leader", "leader-demo-2026")
        assert "退出登录" in page.locator('[data-testid="stSidebar"]').inner_text()
        page.wait_for_function("() => document.cookie.includes('pbkpi_session=')", timeout=30_000)
        page.reload(wait_until="domcontentloaded")
        wait_idle(page, "zh")
        assert "leader" in page.locator('[data-testid="stSidebar"]').inner_text()
        tab = ctx.new_page()
        tab.goto(f"{signin_server}/tests?lang=zh", wait_until="domcontentloaded")
        wait_idle(tab, "zh")
        assert tab.locator("h1").first.inner_text().strip() and tab.locator('input[type="password"]').count() == 0
        tab.close()
        cookie = next(c for c in ctx.cookies() if c["name"] == "pbkpi_session")
        page.get_by_role("button", name="退出登录").click()
        page.wait_for_selector('input[type="password"]', timeout=30_000)
        page.reload(wait_until="domcontentloaded")
        page.wait_for_selector('input[type="password"]', timeout=30_000)
    finally:
        ctx.close()
    import json

    resumed = [json.loads(x) for x in signin_server.audit.read_text(encoding="utf-8").splitlines()]
    assert any(e["event"] == "session_resumed" and e["account"] == "leader" for e in resumed)  # the reload, audited
    ctx = browser.new_context(viewport={"width": 1366, "height": 900})
    ctx.add_cookies([cookie])  # the closed session's token, replayed elsewhere
    page = ctx.new_page()
    try:
        page.goto(f"{signin_server}/?lang=zh", wait_until="domcontentloaded")
        page.wait_for_selector('input[type="password"]', timeout=30_000)
        assert page.locator('[data-testid="stSidebarNav"]').count() == 0
    finally:
        ctx.close()


def test_sign_in_scopes_and_watermark_in_the_browser(signin_server, browser):
    """Two users with disjoint scopes: neither sees the other's units on the overview, the profile's unit
    list or the sidebar; both pages carry a watermark with the viewer's account (DOM and screenshot)."""
    from application.warehouse import Warehouse

    snap = Warehouse(signin_server.db).snapshot()
    names = snap.unit_names()
    scopes = {"jiangbei": snap.units_beneath(frozenset({"P江北"})), "secretary": snap.units_beneath(frozenset({"BU001-01"}))}
    passwords = {"jiangbei": "jiangbei-demo-2026", "secretary": "secretary-demo-2026"}
    for account, scope in scopes.items():
        ctx = browser.new_context(viewport={"width": 1366, "height": 900})
        page = ctx.new_page()
        try:
            page.goto(signin_server, wait_until="domcontentloaded")
            page.wait_for_selector("text=登录 PB-KPI Lens", timeout=60_000)
            assert not page.locator('[data-testid="stMetric"]').count()  # nothing before sign-in
            sign_in(page, signin_server, account, passwords[account])
            mark = page.locator('[data-testid="pbkpi-watermark"]')
            assert mark.count() == 1 and mark.evaluate("e => getComputedStyle(e).pointerEvents") == "none"
            for path in ("", "profile"):
                if path:  # within the signed-in session (a reload is a new session: it asks to sign in again)
                    page.locator('[data-testid="stSidebarNav"] a').nth(1).click()
                    page.wait_for_function("() => location.pathname.endsWith('/profile')", timeout=30_000)
                    wait_idle(page)
                text = page.locator("body").inner_text()
                leaked = [names[u] for u in names if u not in scope and names[u] in text]
                assert not leaked, (account, path, leaked[:3])
                page.screenshot(path=str(ARTIFACTS / f"signin_{account}_{path or 'overview'}_zh_1366.png"))
            assert "退出登录" in page.locator('[data-testid="stSidebar"]').inner_text()
        finally:
            ctx.close()
    import json

    entries = [json.loads(x) for x in signin_server.audit.read_text(encoding="utf-8").splitlines()]
    events = [e["event"] for e in entries if e.get("account") in scopes]  # the server is shared with other tests
    assert events.count("signin") == 2 and "page_view" in events


def test_gateway_sign_in_through_a_trusted_header(signin_server, browser, tmp_path):
    """PBKPI_AUTH=header: the account named by the gateway's header is signed in (role and scope from the
    accounts file); no header, an unknown account, or a request from an untrusted address is refused."""
    env = {"PBKPI_AUTH": "header", "PBKPI_AUTH_DB": str(signin_server.audit.parent / "auth.sqlite"),
           "PBKPI_AUDIT": str(tmp_path / "audit.jsonl")}
    for trusted, headers, expect in (("127.0.0.1,::1", {"X-Remote-User": "jiangbei"}, "当前用户：江北县公司领导"),
                                     ("127.0.0.1,::1", {}, "统一认证网关没有提供登录账号"),
                                     ("127.0.0.1,::1", {"X-Remote-User": "stranger"}, "未在本系统开通"),
                                     ("10.9.9.9", {"X-Remote-User": "jiangbei"}, "只接受经公司统一认证网关")):
        for url in run_server(signin_server.db, PBKPI_TRUSTED_PROXIES=trusted, **env):
            ctx = browser.new_context(viewport={"width": 1366, "height": 900}, extra_http_headers=headers)
            page = ctx.new_page()
            try:
                page.goto(url, wait_until="domcontentloaded")
                page.wait_for_selector(f"text={expect}", timeout=60_000)
                if expect.startswith("当前用户"):
                    page.wait_for_selector('[data-testid="pbkpi-watermark"]', state="attached", timeout=30_000)
            finally:
                ctx.close()
    import json

    events = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [e["event"] for e in events].count("signin") == 1
    assert {e.get("reason") for e in events if e["event"] == "signin_failed"} >= {"no account header", "untrusted address"}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_sign_in_form_and_admin_page_render(signin_server, browser, lang):
    """The sign-in form speaks the link's language; the administrator's page lists the accounts and the
    audit log (screenshots for a person to look at)."""
    ctx = browser.new_context(viewport={"width": 1366, "height": 900})
    page = ctx.new_page()
    try:
        page.goto(f"{signin_server}/?lang={lang}", wait_until="domcontentloaded")
        page.wait_for_selector("text=" + ("登录 PB-KPI Lens" if lang == "zh" else "Sign in to PB-KPI Lens"), timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / f"signin_form_{lang}_1366.png"))
        page.get_by_label("账号" if lang == "zh" else "Account", exact=True).fill("admin")
        page.get_by_label("密码" if lang == "zh" else "Password", exact=True).fill("admin-demo-2026")
        page.get_by_role("button", name="登录" if lang == "zh" else "Sign in").click()
        wait_idle(page, lang)
        page.locator('[data-testid="stSidebarNav"] a').last.click()
        page.wait_for_function("() => location.pathname.endsWith('/admin')", timeout=30_000)
        wait_idle(page, lang)
        assert page.locator('[data-testid="stDataFrame"]').count() >= 2  # accounts and audit entries (canvas grids)
        assert not page.locator('[data-testid="stException"]').count()
        if lang == "zh":  # account names are the company's own ids
            found = [f for f in visible_developer_text(page) if f.split(" ← ")[0] not in ("admin",)]
            assert not found, found
        full_screenshot(page, ARTIFACTS / f"admin_{lang}_1366.png", 1366)
    finally:
        ctx.close()


DEEP_LINKS = {
    "": {"ov_quarter": "2024Q3"},
    "profile": {"pf_unit": "BU007", "pf_kpi": "saidi"},
    "relationships": {"rel_y": "saidi", "rel_lag": "2", "rel_tab": "matrix"},
    "tests": {"ts_y": "satisfaction", "ts_lag": "2", "ts_treat": "secretary_projects_active", "ts_tab": "direction"},
    "whatif": {"wi_lag": "0", "sa_mode": "pct", "sa_theme_days_pct": "20", "wi_pick": "sb"},
    "briefing": {"br_quarter": "2025Q2"},
}


@pytest.mark.parametrize("path", list(DEEP_LINKS))
def test_deep_link_holds_every_pages_picks(server, browser, path):
    """A link opened in a fresh browser keeps each page's own picks: the widgets take them (the URL the page
    writes back from its widgets still holds them after the page has run) and the chosen values show."""
    from urllib.parse import parse_qs, urlencode, urlparse

    picks = DEEP_LINKS[path]
    ctx = browser.new_context(viewport={"width": 1366, "height": 900})
    page = ctx.new_page()
    try:
        page.goto(f"{server}/{path}?{urlencode({'lang': 'zh', **picks})}", wait_until="domcontentloaded")
        wait_idle(page)
        written = {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items()}
        assert {k: written.get(k) for k in picks} == picks, written
        first_select = page.locator('[data-testid="stMain"] [data-testid="stSelectbox"]').first.evaluate(
            "e => e.innerText + ' ' + Array.from(e.querySelectorAll('input')).map(i => i.value).join(' ')")
        from catalogue.formats import fmt_period

        for value in ("2024Q3", "BU007", "2025Q2"):  # the page's first select box shows the linked value
            if value in picks.values():
                assert fmt_period(value, "zh") in first_select, first_select
    finally:
        ctx.close()


@pytest.fixture(scope="module")
def oidc_server(demo_db, tmp_path_factory):
    """Company single sign-on against a real OpenID Connect provider started here (oidc-provider-mock): the
    dashboard signs in through st.login and maps the e-mail claim to a local account."""
    from auth.store import AuthStore

    tmp = tmp_path_factory.mktemp("oidc")
    op_port, port = free_port(), free_port()
    provider = subprocess.Popen(
        [sys.executable, "-m", "oidc_provider_mock", "--port", str(op_port),
         "--user-claims", json.dumps({"sub": "u-zhang", "email": "Zhang.Wei@Corp.example", "email_verified": True,
                                      "name": "张伟"}),
         "--user-claims", json.dumps({"sub": "u-stranger", "email": "stranger@corp.example", "email_verified": True})],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{op_port}/.well-known/openid-configuration", timeout=2)
                break
            except OSError:
                time.sleep(0.3)
        auth = AuthStore(tmp / "auth.sqlite")
        auth.add_user("zhang.wei@corp.example", "张伟", "leader", "unused-password-1x", ["P江北"])
        secrets = tmp / "secrets.toml"
        secrets.write_text(f"""[auth]
redirect_uri = "http://127.0.0.1:{port}/oauth2callback"
cookie_secret = "test-cookie-secret-{port}"
client_id = "pbkpi-lens"
client_secret = "pbkpi-lens-secret"
server_metadata_url = "http://127.0.0.1:{op_port}/.well-known/openid-configuration"
""", encoding="utf-8")
        env = {"PBKPI_AUTH": "oidc", "PBKPI_AUTH_DB": str(tmp / "auth.sqlite"), "PBKPI_AUDIT": str(tmp / "audit.jsonl")}
        for url in run_server(demo_db, args=("--secrets.files", str(secrets)), port=port, **env):
            srv = Server(url)
            srv.audit = tmp / "audit.jsonl"
            yield srv
    finally:
        provider.terminate()
        provider.wait(10)


def oidc_sign_in(page, url: str, sub: str) -> None:
    page.goto(url, wait_until="domcontentloaded")
    page.get_by_role("button", name="使用公司统一身份认证登录").click()
    page.wait_for_selector("text=Authorize Client", timeout=30_000)  # the provider's page
    page.locator('input[name="sub"]').fill(sub)
    page.get_by_role("button", name="Authorize").click()


def test_company_single_sign_on_through_openid_connect(oidc_server, browser):
    ctx = browser.new_context(viewport={"width": 1366, "height": 900})
    page = ctx.new_page()
    try:
        oidc_sign_in(page, f"{oidc_server}/?lang=zh", "u-zhang")
        wait_idle(page, "zh")
        sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
        assert "张伟" in sidebar and "zhang.wei@corp.example" in sidebar  # the local account: name, role and scope
        page.screenshot(path=str(ARTIFACTS / "oidc_signed_in_zh_1366.png"))
        page.reload(wait_until="domcontentloaded")  # the identity survives a reload
        wait_idle(page, "zh")
        assert "zhang.wei@corp.example" in page.locator('[data-testid="stSidebar"]').inner_text()
        assert page.get_by_role("button", name="使用公司统一身份认证登录").count() == 0
        page.get_by_role("button", name="退出登录").click()
        page.wait_for_selector("text=End Session", timeout=30_000)  # signing out ends the provider's session too
        if page.get_by_role("button", name="End session").count():
            page.get_by_role("button", name="End session").click()
        page.goto(f"{oidc_server}/?lang=zh", wait_until="domcontentloaded")
        page.wait_for_selector("text=使用公司统一身份认证登录", timeout=30_000)
        # a colleague the directory knows but this system has not set up: refused, audited
        oidc_sign_in(page, f"{oidc_server}/?lang=zh", "u-stranger")
        page.wait_for_selector("text=未在本系统开通", timeout=30_000)
        assert page.locator('[data-testid="stSidebarNav"]').count() == 0  # nothing was shown
    finally:
        ctx.close()
    events = [json.loads(line) for line in oidc_server.audit.read_text(encoding="utf-8").splitlines()]
    assert any(e["event"] == "signin" and e["account"] == "zhang.wei@corp.example" and e.get("via") == "oidc" for e in events)
    assert any(e["event"] == "signin_failed" and e["account"] == "stranger@corp.example" for e in events)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_meeting_room_screen_rotates_and_follows_a_publish(screen_server, browser, lang):
    """大屏 (/screen, 1920×1080): dark, no sidebar, the four panels in turn; after a new publish the screen
    starts again from the new warehouse by itself (a new full run), without anyone touching it."""
    ctx = browser.new_context(viewport={"width": 1920, "height": 1080})
    page = ctx.new_page()
    panel = page.locator('[data-testid="pbkpi-screen-panel"]').last
    try:
        page.goto(f"{screen_server}/screen?lang={lang}&grain=quarter", wait_until="domcontentloaded")
        wait_idle(page, lang)
        assert not page.locator('[data-testid="stSidebar"]').is_visible()
        background = page.evaluate("() => getComputedStyle(document.querySelector('.stApp')).backgroundColor")
        assert background == "rgb(11, 18, 32)", background
        seen = []
        deadline = time.time() + 60
        while len(set(seen)) < 4 and time.time() < deadline:
            kind = panel.get_attribute("data-panel")
            if not seen or seen[-1] != kind:
                seen.append(kind)
                page.screenshot(path=str(ARTIFACTS / f"screen_{kind}_{lang}_1920.png"))
                assert not page.locator('[data-testid="stException"]').count(), kind
            page.wait_for_timeout(300)
        assert set(seen) == {"cards", "trend", "quadrant", "alerts"}, seen
        assert seen[:4] in (["cards", "trend", "quadrant", "alerts"], ["trend", "quadrant", "alerts", "cards"],
                            ["quadrant", "alerts", "cards", "trend"], ["alerts", "cards", "trend", "quadrant"])
        if lang == "zh":
            found = visible_developer_text(page)
            assert not found, found
        run = page.locator('[data-testid="pbkpi-run-done"]').get_attribute("data-run")
        os.utime(screen_server.db)  # a publish: the warehouse file changes
        page.wait_for_function("(r) => { const d = document.querySelector('[data-testid=\"pbkpi-run-done\"]');"
                               " return d && d.getAttribute('data-run') !== r; }", arg=run, timeout=60_000)
        page.wait_for_selector('[data-testid="pbkpi-screen-panel"]', timeout=60_000)
        assert not page.locator('[data-testid="stException"]').count()
    finally:
        ctx.close()


def test_click_a_heatmap_cell_or_a_ranking_bar_opens_it(server, browser):
    """Drill-down from the other charts a leader points at: a cell of the relationships heatmap makes that pair
    the page's analysis; a bar of the briefing's rankings opens that unit's profile."""
    ctx = browser.new_context(viewport={"width": 1366, "height": 900})
    page = ctx.new_page()
    try:
        page.goto(f"{server}/relationships?lang=zh&rel_x=theme_days&rel_y=complaints_per_10k&rel_tab=matrix",
                  wait_until="domcontentloaded")
        wait_idle(page)
        cells = page.locator(".stPlotlyChart").last.locator(".scatterlayer .trace .points path")
        page.locator(".stPlotlyChart").last.scroll_into_view_if_needed()
        page.wait_for_function("() => { const c = document.querySelectorAll('.stPlotlyChart');"
                               " return c.length && c[c.length - 1].querySelectorAll('.scatterlayer .trace .points path').length > 20; }",
                               timeout=60_000)
        cells.nth(5).scroll_into_view_if_needed()
        cells.nth(5).click(force=True)
        page.wait_for_function("() => !location.search.includes('rel_x=theme_days&rel_y=complaints_per_10k')", timeout=60_000)
        wait_idle(page)
        params = dict(p.split("=", 1) for p in page.url.split("?", 1)[1].split("&"))
        assert (params["rel_x"], params["rel_y"]) != ("theme_days", "complaints_per_10k")
        # the cell's pair opens in the pair's tab: its two scatters are what is drawn now
        assert params["rel_tab"] == "pair" and open_tab(page) == "所选指标对"
        drawn_charts(page, 2)
        assert not page.locator('[data-testid="stException"]').count()

        page.goto(f"{server}/briefing?lang=zh&grain=quarter", wait_until="domcontentloaded")
        wait_idle(page)
        bars = page.locator(".stPlotlyChart").nth(2).locator(".barlayer .trace .points path")
        bars.last.scroll_into_view_if_needed()  # a worst unit: a long bar (the best may be a bar of width zero)
        bars.last.click(force=True)
        page.wait_for_url("**/profile**", timeout=60_000)
        wait_idle(page)
        assert "pf_unit=BU" in page.url and "grain=quarter" in page.url
    finally:
        ctx.close()


def test_breadcrumbs_roll_the_view_up_the_org_tree(server, browser):
    """A unit's profile shows its path 公司 › 县公司 › 所; clicking the county opens the overview rolled up
    beneath it (the sidebar shows it and the URL holds it), and the first crumb goes back to everything."""
    ctx = browser.new_context(viewport={"width": 1366, "height": 900})
    page = ctx.new_page()
    try:
        page.goto(f"{server}/profile?lang=zh&grain=quarter&pf_unit=BU001", wait_until="domcontentloaded")
        wait_idle(page)
        crumbs = page.locator('[class*="st-key-pf_crumbs"]')
        assert "江北城关供电所" in crumbs.inner_text()
        crumbs.get_by_role("button", name="江北县供电公司党委").click()
        page.wait_for_function("() => location.pathname === '/' || location.pathname.endsWith('/')", timeout=60_000)
        wait_idle(page)
        assert "org=P%E6%B1%9F%E5%8C%97" in page.url or "org=P江北" in page.url
        boxes = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').evaluate_all(
            "els => els.map(e => e.innerText + ' ' + Array.from(e.querySelectorAll('input')).map(i => i.value).join(' '))")
        assert any("江北县供电公司党委" in b for b in boxes), boxes
        page.screenshot(path=str(ARTIFACTS / "org_overview_zh_1366.png"))
        page.locator('[class*="st-key-ov_crumbs"]').get_by_role("button").first.click()
        page.wait_for_function("() => !location.search.includes('org=')", timeout=60_000)
        wait_idle(page)
        # and it stays so: the run that switched page once wrote its old view back into the address bar
        page.wait_for_timeout(1500)
        assert "org=" not in page.url, page.url
        boxes = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').evaluate_all(
            "els => els.map(e => e.innerText + ' ' + Array.from(e.querySelectorAll('input')).map(i => i.value).join(' '))")
        assert not any("江北县供电公司党委" in b for b in boxes), boxes
        assert not page.locator('[data-testid="stException"]').count()
    finally:
        ctx.close()


def test_streamlits_own_widget_texts_speak_chinese(server, browser):
    """Texts Streamlit draws itself, where it offers no option for them: the multiselect's "Select all" and the
    chart toolbar's tooltips read in Chinese in a Chinese view (ui/layout redraws them with CSS)."""
    ctx = browser.new_context(viewport={"width": 1366, "height": 900})
    page = ctx.new_page()
    try:
        page.goto(f"{server}/?lang=zh&grain=quarter", wait_until="domcontentloaded")
        wait_idle(page)
        item = page.locator('[data-key="__select_all__"] [data-item-hl]')
        box = page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').first
        for _ in range(5):  # the dropdown opens once the widget has settled
            box.click()
            try:
                item.wait_for(state="attached", timeout=5_000)
                break
            except Exception:
                page.keyboard.press("Escape")
        assert item.evaluate("e => [getComputedStyle(e).fontSize, getComputedStyle(e, '::after').content]") == ["0px", '"全选"']
        page.keyboard.press("Escape")
        titles = page.locator(".modebar-btn").evaluate_all("els => els.map(e => getComputedStyle(e, '::after').content)")
        assert titles and all(re.search(r"[\u4e00-\u9fff]", t) for t in titles if t not in ("none", "normal", '""')), titles
    finally:
        ctx.close()


@pytest.mark.parametrize("lag", [None, 0, 2])
def test_a_csv_download_is_built_on_click_and_holds_the_views_table(server, browser, demo_db, lag):
    """Downloads are built when the button is clicked, not on every run of the page (ui/layout.download_csv):
    the file the browser receives still holds the table of the view the page shows, here the relationships
    page's correlation matrix for the URL's selection and lag, computed again in this process."""
    import io

    import pandas as pd

    from application.context import Context
    from application.selection import Selection
    from application.views import relationships as rel
    from briefing.safe_export import to_safe_csv

    query = "lang=zh&grain=quarter&rel_tab=matrix" + (f"&rel_lag={lag}" if lag is not None else "")
    with new_page(browser) as page:
        page.goto(f"{server}/relationships?{query}", wait_until="domcontentloaded")
        wait_idle(page)
        state = url_state(page)
        with page.expect_download(timeout=60_000) as got:
            page.locator('[data-testid="stDownloadButton"]').first.click()
        body = Path(got.value.path()).read_bytes()
        assert got.value.suggested_filename == "correlations.csv"
    sel = Selection(state["grain"], state.get("from"), state.get("to"))
    params = rel.Params(lag=int(state.get("rel_lag", rel.DEFAULTS.lag)))
    if lag is not None:
        assert params.lag == lag
    vm = rel.view(Context.open(demo_db, disk=False), sel, params)
    want = to_safe_csv(vm.correlations.value.table)
    assert body.startswith(b"\xef\xbb\xbf"), "the CSV lost its BOM (Excel on Chinese Windows)"
    got_frame, want_frame = (pd.read_csv(io.BytesIO(b), encoding="utf-8-sig") for b in (body, want))
    assert len(got_frame) > 0 and list(got_frame.columns) == list(want_frame.columns)
    pd.testing.assert_frame_equal(got_frame, want_frame, rtol=1e-9, check_exact=False)


def drawn_charts(page, n: int) -> None:
    """Wait until the page's main area shows exactly n drawn charts."""
    page.wait_for_function("(n) => document.querySelectorAll('[data-testid=\"stMain\"] .js-plotly-plot .main-svg').length"
                           " === n * 2 || document.querySelectorAll('[data-testid=\"stMain\"] .js-plotly-plot').length === n",
                           arg=n, timeout=30_000)
    assert page.locator('[data-testid="stMain"] .js-plotly-plot').count() == n


def open_tab(page) -> str:
    return page.locator('[data-testid="stMain"] [role="tab"][aria-selected="true"]').inner_text().strip()


def test_profile_tabs_draw_one_tab_and_keep_it_through_picks_languages_and_links(server, browser):
    """The unit profile draws its open tab only. A click on a tab reruns the page alone and puts the tab in
    the URL; another unit keeps the tab; so does the other language, with the tab's label in it; a fresh
    browser opening the link opens that tab; the KPI picked before the visit to another tab is still picked."""
    from bench.browser import open_other_option

    with new_page(browser) as page:
        page.goto(f"{server}/profile?lang=zh&grain=quarter&pf_unit=BU001&pf_kpi=saidi", wait_until="domcontentloaded")
        wait_idle(page)
        assert open_tab(page) == "经营指标与创建项目"
        drawn_charts(page, 1)
        app_run = page.locator('[data-testid="pbkpi-run-done"][data-scope="app"]').get_attribute("data-run")
        page.locator('[data-testid="stMain"] [role="tab"]').filter(has_text="组织生活与考核").click()
        wait_idle(page)
        page.wait_for_function("() => new URLSearchParams(location.search).get('pf_tab') === 'work'", timeout=30_000)
        assert open_tab(page) == "组织生活与考核"
        drawn_charts(page, 2)
        assert page.locator('[data-testid="pbkpi-run-done"][data-scope="app"]').get_attribute("data-run") == app_run
        open_other_option(page)(page)  # another unit
        wait_idle(page)
        page.wait_for_function("() => new URLSearchParams(location.search).get('pf_unit') !== 'BU001'", timeout=30_000)
        state = url_state(page)
        assert state["pf_tab"] == "work" and state["pf_kpi"] == "saidi", state
        assert open_tab(page) == "组织生活与考核"
        drawn_charts(page, 2)
        switch_language(page, "en")
        assert url_state(page) == state
        assert open_tab(page) == "Activities and assessments"
        drawn_charts(page, 2)
        link = page.url
        assert page.locator('[data-testid="stException"]').count() == 0
    with new_page(browser) as page:
        page.goto(link, wait_until="domcontentloaded")
        wait_idle(page, "en")
        assert open_tab(page) == "Activities and assessments" and url_state(page) == state
        drawn_charts(page, 2)
        page.locator('[data-testid="stMain"] [role="tab"]').filter(has_text="KPIs and initiatives").click()
        wait_idle(page, "en")
        page.wait_for_function("() => new URLSearchParams(location.search).get('pf_tab') === 'kpi'", timeout=30_000)
        drawn_charts(page, 1)
        kpi_box = page.locator('[data-testid="stMain"] [data-testid="stSelectbox"]').nth(1)
        shown = kpi_box.evaluate("e => e.innerText + ' ' + Array.from(e.querySelectorAll('input')).map(i => i.value).join(' ')")
        assert "SAIDI" in shown, shown
        assert page.locator('[data-testid="stException"]').count() == 0


@pytest.fixture(scope="module")
def search_server(demo_db):
    """The demo warehouse served as a group's is: its unit lists are searched (more than 20 units)."""
    yield from run_server(demo_db, PBKPI_UNIT_LIST_MAX="20")


def test_a_unit_is_found_by_search_when_there_are_too_many_to_list(search_server, browser):
    """Above PBKPI_UNIT_LIST_MAX units the sidebar finds a unit by code or name: the list then offers the
    matches; the unit chosen is the selection, in the URL, through a language switch; a link to a unit
    beyond the first matches shows it chosen, on the profile too."""
    with new_page(browser) as page:
        page.goto(f"{search_server}/?lang=zh&grain=quarter", wait_until="domcontentloaded")
        wait_idle(page)
        sidebar = page.locator('[data-testid="stSidebar"]')
        search = sidebar.locator('[data-testid="stTextInput"] input')
        assert "共 68 个" in sidebar.locator('[data-testid="stTextInput"]').inner_text()
        search.fill("2供电所 江北")
        search.press("Enter")
        wait_idle(page)
        unit_box = sidebar.locator('[data-testid="stSelectbox"]').last
        unit_box.locator("input").first.click()
        page.keyboard.press("ArrowDown")  # the list opens on a key press (open_other_option)
        options = page.locator('[role="listbox"] [role="option"]')
        options.first.wait_for()
        page.wait_for_timeout(300)  # the list fills in as it opens
        labels = options.all_inner_texts()
        assert labels[0] == "全部单位" and len(labels) > 1
        assert all("江北" in x and "2供电所" in x for x in labels[1:]), labels
        chosen = labels[-1].rsplit("（", 1)[1].rstrip("）")
        options.last.click()
        wait_idle(page)
        page.wait_for_function("(u) => new URLSearchParams(location.search).get('unit') === u", arg=chosen, timeout=30_000)
        state = url_state(page)
        switch_language(page, "en")
        assert url_state(page) == state
        assert search.input_value() == "2供电所 江北"
        assert chosen in unit_box.evaluate("e => e.innerText + ' ' + Array.from(e.querySelectorAll('input')).map(i => i.value).join(' ')")
        assert page.locator('[data-testid="stException"]').count() == 0
    with new_page(browser) as page:
        page.goto(f"{search_server}/profile?lang=zh&grain=quarter&pf_unit=BU067", wait_until="domcontentloaded")
        wait_idle(page)
        first = page.locator('[data-testid="stMain"] [data-testid="stSelectbox"]').first
        shown = first.evaluate("e => e.innerText + ' ' + Array.from(e.querySelectorAll('input')).map(i => i.value).join(' ')")
        assert "BU067" in shown, shown
        assert page.locator('[data-testid="stMain"] [data-testid="stTextInput"]').filter(has_text="查找业务单元").count() == 1
        assert page.locator('[data-testid="stException"]').count() == 0
