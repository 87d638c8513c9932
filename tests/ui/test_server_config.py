"""The server's settings that the browser timings depend on (.streamlit/config.toml), as the server reads them
when started from the project root (`make run`, `python -m ui.serve`, the browser bench and tests)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_server_neither_watches_files_nor_collects_after_each_run():
    """Both held the server after every run while the run's last messages waited (bench/BROWSER.md): the
    file watcher resolved every imported module's path on the event loop (0.1–0.3 s a run), the forced
    garbage collection held the interpreter 0.1–0.2 s. The browser bench and tests start the server without
    overriding either, so they measure and test what a company runs."""
    code = ("import json, streamlit.config as c; c.get_config_options(force_reparse=True); "
            "print(json.dumps({k: c.get_option(k) for k in ('server.fileWatcherType', 'runner.postScriptGC', "
            "'server.runOnSave', 'client.showErrorDetails')}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got == {"server.fileWatcherType": "none", "runner.postScriptGC": False, "server.runOnSave": False,
                   "client.showErrorDetails": "none"}, got
    for starter in (ROOT / "bench" / "browser.py", ROOT / "tests" / "e2e" / "test_browser.py"):
        assert "fileWatcherType" not in starter.read_text(encoding="utf-8"), f"{starter.name} overrides the shipped setting"
