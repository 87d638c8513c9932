"""Scheduled push (briefing/push.py) against local receivers started here: a 企业微信/钉钉 robot stand-in over
HTTP and an SMTP server (aiosmtpd) — never an outside address."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys
import threading
import urllib.parse
from email import message_from_bytes
from email.policy import default as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from briefing import push
from briefing.figures import browser_path

ROOT = Path(__file__).resolve().parents[2]
needs_browser = pytest.mark.skipif(browser_path() is None, reason="the key chart and the PDF need the system Chromium")


class Robot:
    """Records what the robots receive; answers like them ({"errcode": 0}), or refuses on /refuse."""

    def __init__(self):
        self.posts: list[tuple[str, dict]] = []
        robot = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                robot.posts.append((self.path, body))
                answer = {"errcode": 93000, "errmsg": "invalid webhook url"} if self.path.startswith("/refuse") else {"errcode": 0}
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture()
def robot():
    r = Robot()
    yield r
    r.server.shutdown()


@pytest.fixture()
def mailbox():
    from aiosmtpd.controller import Controller

    class Sink:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's protocol
            self.messages.append((envelope.rcpt_tos, envelope.content))
            return "250 OK"

    from tests.e2e.test_browser import free_port

    sink = Sink()
    ctl = Controller(sink, hostname="127.0.0.1", port=free_port())
    ctl.start()
    yield sink, ctl.port
    ctl.stop()


def accounts(tmp_path, monkeypatch, demo_db):
    from auth.store import AuthStore

    monkeypatch.setenv("PBKPI_AUTH", "local")
    monkeypatch.setenv("PBKPI_AUTH_DB", str(tmp_path / "auth.sqlite"))
    monkeypatch.setenv("PBKPI_AUDIT", str(tmp_path / "audit.jsonl"))
    monkeypatch.setenv("PBKPI_DB", str(demo_db))
    store = AuthStore(tmp_path / "auth.sqlite")
    store.add_user("leader", "领导", "leader", "leader-pass-1", ["*"])
    store.add_user("jiangbei", "江北", "leader", "jiangbei-pass-1", ["P江北"])


def test_signing_follows_dingtalks_rule():
    url = push.signed_url("http://robot/send?access_token=x", "SECabc", now_ms=1700000000000)
    q = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)
    expect = base64.b64encode(hmac.new(b"SECabc", b"1700000000000\nSECabc", hashlib.sha256).digest()).decode()
    assert q["timestamp"] == ["1700000000000"] and q["sign"] == [expect] and q["access_token"] == ["x"]


def test_configuration_errors_name_what_to_fix(tmp_path):
    bad = tmp_path / "push.toml"
    for text, words in (('[[channel]]\nkind = "fax"\n', "kind"), ('[[channel]]\nkind = "wecom"\n', "url"),
                        ('[[channel]]\nkind = "email"\nsmtp_host = "x"\n', "sender"), ('[[channel]]\nkind = "wecom"\nurll = "x"\n', "urll"),
                        ("link = 1\n", "channel"), ("[[channel]\n", "TOML")):
        bad.write_text(text, encoding="utf-8")
        with pytest.raises(push.PushError, match=words):
            push.read_config(bad)


@needs_browser
def test_each_channel_gets_the_briefing_its_account_may_see(tmp_path, monkeypatch, demo_db, robot, mailbox):
    accounts(tmp_path, monkeypatch, demo_db)
    sink, port = mailbox
    cfg = tmp_path / "push.toml"
    cfg.write_text(f"""link = "https://pbkpi.example.corp"
[[channel]]
name = "党建工作部"
kind = "wecom"
url = "{robot.url}/cgi-bin/webhook/send?key=k1"
account = "leader"
[[channel]]
name = "江北"
kind = "dingtalk"
url = "{robot.url}/robot/send?access_token=t1"
secret = "SECxyz"
account = "jiangbei"
[[channel]]
name = "领导邮箱"
kind = "email"
smtp_host = "127.0.0.1"
smtp_port = {port}
sender = "pbkpi@example.corp"
to = ["dangjian@example.corp"]
account = "leader"
lang = "en"
attach = "pdf"
[[channel]]
name = "坏的机器人"
kind = "wecom"
url = "{robot.url}/refuse?key=k2"
""", encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "briefing", "push", "--config", str(cfg), "--quarter", "2025Q4", "--json"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    results = json.loads(out.stdout)
    assert out.returncode == 1  # one channel refused
    assert [r["ok"] for r in results] == [True, True, True, False] and "93000" in results[3]["error"]
    wecom = [b for p, b in robot.posts if p.startswith("/cgi-bin")]
    assert [b["msgtype"] for b in wecom] == ["markdown", "image"]
    image = base64.b64decode(wecom[1]["image"]["base64"])
    assert image[:8] == b"\x89PNG\r\n\x1a\n" and hashlib.md5(image).hexdigest() == wecom[1]["image"]["md5"]
    company_text = wecom[0]["markdown"]["content"]
    assert "2025年第4季度" in company_text and "https://pbkpi.example.corp/briefing?br_quarter=2025Q4" in company_text
    (path, ding), = [(p, b) for p, b in robot.posts if p.startswith("/robot")]
    q = urllib.parse.parse_qs(urllib.parse.urlparse(path).query)
    expect = base64.b64encode(hmac.new(b"SECxyz", f"{q['timestamp'][0]}\nSECxyz".encode(), hashlib.sha256).digest()).decode()
    assert q["sign"] == [expect]
    # 江北's message is the briefing of 江北's units only
    n_company = int(company_text.split("单位数：")[1].split()[0].strip("·"))
    n_jiangbei = int(ding["markdown"]["text"].split("单位数：")[1].split()[0].strip("·"))
    assert 0 < n_jiangbei < n_company
    (rcpt, raw), = sink.messages
    msg = message_from_bytes(raw, policy=email_policy)
    assert rcpt == ["dangjian@example.corp"] and "Q4 2025" in msg["Subject"]
    files = {p.get_filename(): p.get_content() for p in msg.iter_attachments()}
    assert files["briefing_2025Q4_en.pdf"][:5] == b"%PDF-" and files["quadrant.png"][:4] == b"\x89PNG"
    audit = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text(encoding="utf-8").splitlines()]
    assert any(e["event"] == "export" and e.get("format") == "push" for e in audit)
