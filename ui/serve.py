"""Start the dashboard: `python -m ui.serve [streamlit options]` is `streamlit run app.py [options]` without
Streamlit's emulation of the legacy `pages/` folder.

app.py declares its pages with st.navigation. Streamlit still treats a folder named `pages/` beside the
main script as a legacy multipage app until the first st.navigation call, so the very first visit to a
deep link on a freshly started server (e.g. /relationships) showed a "Page not found" dialog before the
right page ran. Clearing that flag before the server starts avoids it (`make run` starts the server this
way).

It also serves the health check (application/health.py) on PBKPI_HEALTH_PORT: GET /health answers 200
with the health document when the dashboard can serve, 503 when not — for a reverse proxy or a load
balancer deciding where to send people."""
from __future__ import annotations

import json
import logging
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from streamlit.runtime.pages_manager import PagesManager
from streamlit.web import cli

import logsetup
import settings

APP = Path(__file__).resolve().parents[1] / "app.py"
log = logging.getLogger(__name__)


class _Health(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the http.server protocol
        from application import health

        if self.path.split("?")[0].rstrip("/") not in ("/health", "/ready", ""):
            self.send_error(404)
            return
        doc = health.check()
        body = json.dumps(doc, ensure_ascii=False, default=str).encode("utf-8")
        self.send_response(200 if doc["ready"] else 503)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):  # a proxy polls every few seconds: not one log line per poll
        log.debug("health %s", fmt % args)


def start_health(port: int | None = None, address: str | None = None) -> ThreadingHTTPServer | None:
    """Serve GET /health in a daemon thread; None when off (port 0) or the port is taken (logged)."""
    port = settings.health_port() if port is None else port
    if not port:
        return None
    try:
        server = ThreadingHTTPServer((address or settings.health_address(), port), _Health)
    except OSError as exc:
        log.warning("health check not served: %s:%s: %s", address or settings.health_address(), port, exc)
        return None
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="pbkpi-health", daemon=True).start()
    log.info("health check on http://%s:%s/health", *server.server_address[:2])
    return server


def main(argv: list[str] | None = None) -> int:
    if problems := settings.check():
        print("\n".join(problems), file=sys.stderr)
        return 2
    logsetup.configure("app")
    start_health()
    PagesManager.uses_pages_directory = False  # the pages are those app.py passes to st.navigation
    sys.argv = ["streamlit", "run", str(APP), *(sys.argv[1:] if argv is None else argv)]
    return cli.main()


if __name__ == "__main__":
    sys.exit(main())
