"""`make cluster` on this machine: PostgreSQL, SeaweedFS, the lake filled from the demo, two dashboard
servers and HAProxy in front of them (cluster/__main__.py), all real processes. Checked through the
proxy: browsers are spread over both servers and each stays on its own; both servers serve the same
published snapshot; a server that dies is taken out and its browsers are served by the other; a leader
signs in through the proxy and sees the company; `down` stops every process `up` started."""
from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
from pathlib import Path

import pytest

from cluster import __main__ as cluster
from cluster.services import free_port

pytestmark = [pytest.mark.xdist_group("lake")]


def _get(url: str, cookie: str | None = None):
    req = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.status, resp.headers.get("X-PBKPI-Server"), resp.headers.get("Set-Cookie") or "", resp.read()


@pytest.fixture(scope="module")
def running(tmp_path_factory, demo_db):
    root = tmp_path_factory.mktemp("cluster")
    before = os.environ.get("PBKPI_AUTH")
    os.environ["PBKPI_AUTH"] = "local"  # as deployed: sign-in (the tests' default is none)
    try:
        state = cluster.up(root, free_port(), 2, demo_db, warm=False)
    finally:
        os.environ["PBKPI_AUTH"] = before if before is not None else "local"
    yield root, state
    cluster.down(root)


def test_the_proxy_spreads_browsers_and_keeps_each_on_its_server(running):
    _, state = running
    base = f"http://127.0.0.1:{state['port']}/"
    seen = {}
    for _ in range(4):  # new browsers (no cookie): round robin, each told which server it has
        status, server, cookie, _ = _get(base)
        assert status == 200 and f"PBKPI_SRV={server}" in cookie
        seen[server] = cookie.split(";")[0]
    assert set(seen) == {"s1", "s2"}
    for server, cookie in seen.items():  # a browser with its cookie stays on its server
        assert {_get(base, cookie)[1] for _ in range(5)} == {server}


def test_both_servers_serve_the_same_published_snapshot(running):
    _, state = running
    docs = [json.loads(_get(f"http://127.0.0.1:{s['health']}/health")[3]) for s in state["servers"]]
    assert all(d["ready"] for d in docs)
    assert len({d["warehouse"]["version"] for d in docs}) == 1 and docs[0]["warehouse"]["snapshot"] >= 1


@pytest.mark.browser
def test_a_leader_signs_in_through_the_proxy_and_sees_the_company(running):
    from tests.e2e.test_browser import CHROME_ARGS, CHROMIUM, sign_in

    if not CHROMIUM:
        pytest.fail("Chromium is missing: make system-deps installs it")
    from playwright.sync_api import sync_playwright

    _, state = running
    base = f"http://127.0.0.1:{state['port']}/"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS)
        try:
            page = b.new_page(viewport={"width": 1366, "height": 900})
            sign_in(page, base, "leader", "leader-demo-2026")
            page.wait_for_selector("[data-testid='stPlotlyChart']", timeout=120_000)
            text = page.inner_text("body")
            assert "合成演示数据" in text or "演示" in text
            assert not page.query_selector("[data-testid='stException']")
            assert {c["name"] for c in page.context.cookies()} >= {"PBKPI_SRV"}
        finally:
            b.close()


@pytest.mark.browser
def test_a_steward_uploads_through_the_proxy_and_every_server_shows_it(running, demo_db, tmp_path):
    """The Data page on a lake, in Chromium through the proxy: a steward's file becomes a job, the page
    follows it by itself (queued, loading, pushing, publishing, done: the panel polls, no reload), and then
    both servers serve the new published snapshot."""
    from playwright.sync_api import sync_playwright

    from tests.e2e.test_browser import ARTIFACTS, CHROME_ARGS, CHROMIUM, full_screenshot, sign_in, wait_idle
    from tests.lake.conftest import kpi_file

    if not CHROMIUM:
        pytest.fail("Chromium is missing: make system-deps installs it")
    _, state = running
    base = f"http://127.0.0.1:{state['port']}/"
    before = {json.loads(_get(f"http://127.0.0.1:{s['health']}/health")[3])["warehouse"]["snapshot"] for s in state["servers"]}
    path = tmp_path / "经营指标月报_下月.csv"
    _, units = kpi_file(demo_db, path, 1)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS)
        try:
            page = b.new_page(viewport={"width": 1366, "height": 900})
            sign_in(page, base, "steward", "steward-demo-2026")
            page.goto(f"{base}data?lang=zh", wait_until="domcontentloaded")
            wait_idle(page, "zh")
            assert "装载任务" in page.inner_text("body")
            page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(path))
            page.get_by_role("button", name="提交装载任务（1 个文件）").click()
            page.wait_for_selector("text=已提交装载任务", timeout=60_000)
            page.wait_for_selector("text=已完成：已发布为快照", timeout=180_000)  # no reload: the panel polls
            wait_idle(page, "zh")
            page.wait_for_selector(f"text=导入 {units:,} 行，拒绝 0 行", timeout=30_000)
            full_screenshot(page, ARTIFACTS / "data_lake_job_zh_1366.png", 1366)
            assert page.locator('[data-testid="stException"]').count() == 0
        finally:
            b.close()
    after = {json.loads(_get(f"http://127.0.0.1:{s['health']}/health")[3])["warehouse"]["snapshot"] for s in state["servers"]}
    assert len(after) == 1 and after.pop() > max(before)


def test_a_server_that_dies_is_taken_out_and_its_browsers_go_to_the_other(running):
    _, state = running
    base = f"http://127.0.0.1:{state['port']}/"
    victim, other = state["servers"]
    os.killpg(victim["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 30
    served = None
    while time.monotonic() < deadline:
        try:
            status, served, _, _ = _get(base, f"PBKPI_SRV={victim['name']}")
            if status == 200 and served == other["name"]:
                break
        except OSError:
            pass
        time.sleep(1)
    assert served == other["name"]


def test_down_stops_everything_up_started(running):  # last: it stops the module's cluster
    root, state = running
    assert any(cluster.group_alive(pid) for pid in state["pids"].values())
    assert cluster.down(root)
    running_groups = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):  # every process on the machine, read independently
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z":
            running_groups.add(int(fields[2]))
    assert not running_groups & set(state["pids"].values())
    assert not (root / "cluster.json").exists()
    with pytest.raises(OSError):
        _get(f"http://127.0.0.1:{state['port']}/")
