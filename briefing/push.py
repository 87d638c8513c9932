"""Scheduled push of the quarterly briefing: `python -m briefing push` sends the summary, the key chart and a
link — and the PDF where the channel carries files — to 企业微信 and 钉钉 group robots and to e-mail.

Channels are configured in a TOML file (PBKPI_PUSH, default data/push.toml; README "Scheduled push"):

    link = "https://pbkpi.example.corp"            # the dashboard's address, for the link in each message

    [[channel]]
    name = "党建工作部"
    kind = "wecom"                                 # 企业微信群机器人
    url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…"
    account = "leader"                             # rendered with this account's data permission
    lang = "zh"

    [[channel]]
    kind = "dingtalk"                              # 钉钉群机器人, optionally signed
    url = "https://oapi.dingtalk.com/robot/send?access_token=…"
    secret = "SEC…"
    account = "jiangbei"

    [[channel]]
    kind = "email"
    smtp_host = "mail.example.corp"
    smtp_port = 25
    starttls = false
    sender = "pbkpi@example.corp"
    to = ["dangjian@example.corp"]
    password_env = "PBKPI_SMTP_PASSWORD"           # the password from the environment, never the file
    account = "leader"
    attach = "pdf"                                 # pdf | pptx | none

Each channel gets the briefing as its account may see it (the account's scope in PBKPI_AUTH_DB; without
sign-in, the whole company). Every send is logged and audited; a failing channel does not stop the others,
and the command exits 1 when any failed."""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import smtplib
import time
import tomllib
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import settings
from analytics.panel import PanelFilter
from briefing.content import Briefing, build, narrative, quarter_label
from catalogue import t

log = logging.getLogger(__name__)
KINDS = ("wecom", "dingtalk", "email")
TIMEOUT = 20


class PushError(Exception):
    """A configuration that cannot be used, or a channel that refused the message (the text says which)."""


@dataclass
class Channel:
    kind: str
    name: str = ""
    url: str = ""
    secret: str = ""
    account: str | None = None
    lang: str = "zh"
    smtp_host: str = ""
    smtp_port: int = 25
    starttls: bool = False
    username: str = ""
    password_env: str = ""
    sender: str = ""
    to: list[str] = field(default_factory=list)
    attach: str = "pdf"

    @property
    def label(self) -> str:
        return self.name or self.kind


def read_config(path: Path) -> tuple[str, list[Channel]]:
    """(dashboard link, channels) from the push file; PushError naming what to fix."""
    try:
        doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PushError(f"推送配置文件不存在：{path}（PBKPI_PUSH）。(no push configuration)") from None
    except tomllib.TOMLDecodeError as exc:
        raise PushError(f"推送配置文件 {path} 格式有误：{exc}。(invalid TOML)") from None
    channels = []
    for i, raw in enumerate(doc.get("channel", []), start=1):
        known = set(Channel.__dataclass_fields__)
        unknown = set(raw) - known
        if unknown:
            raise PushError(f"第 {i} 个推送渠道有未知的设置：{'、'.join(sorted(unknown))}。(unknown keys)")
        ch = Channel(**raw)
        if ch.kind not in KINDS:
            raise PushError(f"第 {i} 个推送渠道的 kind 应为 {' / '.join(KINDS)}，收到「{ch.kind}」。(unknown kind)")
        if ch.kind in ("wecom", "dingtalk") and not ch.url.startswith(("http://", "https://")):
            raise PushError(f"推送渠道「{ch.label}」缺少机器人地址 url。(missing url)")
        if ch.kind == "email" and not (ch.smtp_host and ch.sender and ch.to):
            raise PushError(f"邮件渠道「{ch.label}」需要 smtp_host、sender 和 to。(incomplete e-mail channel)")
        if ch.lang not in ("zh", "en") or ch.attach not in ("pdf", "pptx", "none"):
            raise PushError(f"推送渠道「{ch.label}」的 lang 应为 zh/en，attach 应为 pdf/pptx/none。(bad lang or attach)")
        channels.append(ch)
    if not channels:
        raise PushError(f"推送配置文件 {path} 中没有任何 [[channel]]。(no channels)")
    return str(doc.get("link", "")), channels


def summary(b: Briefing, lang: str, link: str) -> str:
    """The message text: title, scope, the narrative, and the link (Markdown both robots render)."""
    from briefing.export import scope_label

    title = t("brief.title", lang, quarter=quarter_label(b.quarter, lang))
    sub = t("brief.subtitle", lang, scope=scope_label(b, lang), n=b.n_units, date=dt.date.today().isoformat())
    lines = [f"## {title}", "", sub, "", narrative(b, lang)]
    if b.synthetic:
        lines += ["", t("brief.synthetic", lang)]
    if link:
        lines += ["", f"[{t('push.open', lang)}]({link.rstrip('/')}/briefing?br_quarter={b.quarter}&lang={lang})"]
    return "\n".join(lines)


def _post(url: str, payload: dict) -> dict:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json; charset=utf-8"})
    with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:
        answer = json.loads(resp.read() or b"{}")
    if answer.get("errcode", 0) != 0:
        raise PushError(f"机器人拒绝了消息：{answer.get('errmsg', answer)}。(robot refused: errcode {answer.get('errcode')})")
    return answer


def send_wecom(ch: Channel, text: str, image: bytes | None) -> None:
    """企业微信群机器人: a Markdown message, then the key chart as an image message (base64 + md5)."""
    _post(ch.url, {"msgtype": "markdown", "markdown": {"content": text}})
    if image:
        _post(ch.url, {"msgtype": "image", "image": {"base64": base64.b64encode(image).decode(),
                                                     "md5": hashlib.md5(image).hexdigest()}})  # noqa: S324 - the API's checksum


def signed_url(url: str, secret: str, now_ms: int | None = None) -> str:
    """钉钉 signing: timestamp and HMAC-SHA256(secret, "timestamp\\nsecret"), base64, URL-encoded."""
    if not secret:
        return url
    ts = str(now_ms if now_ms is not None else int(time.time() * 1000))
    digest = hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(digest))
    return f"{url}{'&' if '?' in url else '?'}timestamp={ts}&sign={sign}"


def send_dingtalk(ch: Channel, title: str, text: str) -> None:
    """钉钉群机器人: a Markdown message (the robot cannot carry files; the link opens the full briefing)."""
    _post(signed_url(ch.url, ch.secret), {"msgtype": "markdown", "markdown": {"title": title, "text": text}})


def send_email(ch: Channel, title: str, text: str, image: bytes | None, attachment: tuple[str, bytes, str] | None) -> None:
    msg = EmailMessage()
    msg["Subject"], msg["From"], msg["To"] = title, ch.sender, ", ".join(ch.to)
    msg["Date"] = dt.datetime.now(dt.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S +0000")
    msg.set_content(text)
    if image:
        msg.add_attachment(image, maintype="image", subtype="png", filename="quadrant.png")
    if attachment:
        name, data, mime = attachment
        main, sub = mime.split("/", 1)
        msg.add_attachment(data, maintype=main, subtype=sub, filename=name)
    with smtplib.SMTP(ch.smtp_host, ch.smtp_port, timeout=TIMEOUT) as smtp:
        if ch.starttls:
            smtp.starttls()
        if ch.username:
            smtp.login(ch.username, os.environ.get(ch.password_env, ""))
        smtp.send_message(msg)


def briefing_for(db: Path, quarter: str, account: str | None) -> Briefing:
    """The briefing as `account` may see it (its scope in the accounts file; None: the whole company)."""
    from application.warehouse import Warehouse

    warehouse = Warehouse(db)
    nodes = None
    if account:
        from auth.store import AuthStore

        user = AuthStore(settings.auth_db()).active(account)
        nodes = None if user.company else user.nodes
    return build(warehouse.snapshot(nodes), quarter, PanelFilter())


def push(config: Path, db: Path, quarter: str, dry_run: bool = False, watermark: bool = True) -> list[dict]:
    """Send the quarter's briefing to every channel; one result per channel ({"channel", "ok", "error"})."""
    from auth.audit import AuditLog
    from briefing import export
    from briefing.figures import build_figures, export_session, to_png

    link, channels = read_config(config)
    results = []
    for ch in channels:
        try:
            b = briefing_for(db, quarter, ch.account)
            mark = f"{ch.account or 'company'} {t('push.mark', ch.lang)}" if watermark else None
            title = t("brief.title", ch.lang, quarter=quarter_label(b.quarter, ch.lang))
            text = summary(b, ch.lang, link)
            image = attachment = None
            if ch.kind in ("wecom", "email"):
                with export_session():
                    image = to_png(build_figures(b, ch.lang)["quadrant"], 1200, 675)
            if ch.kind == "email" and ch.attach == "pdf":
                attachment = (f"briefing_{b.quarter}_{ch.lang}.pdf", export.to_pdf(b, ch.lang, mark), "application/pdf")
            elif ch.kind == "email" and ch.attach == "pptx":
                attachment = (f"briefing_{b.quarter}_{ch.lang}.pptx", export.to_pptx(b, ch.lang, mark),
                              "application/vnd.openxmlformats-officedocument.presentationml.presentation")
            if not dry_run:
                if ch.kind == "wecom":
                    send_wecom(ch, text, image)
                elif ch.kind == "dingtalk":
                    send_dingtalk(ch, title, text)
                else:
                    send_email(ch, title, text, image, attachment)
            log.info("briefing %s pushed to %s (%s) as %s%s", quarter, ch.label, ch.kind, ch.account, " [dry run]" if dry_run else "")
            results.append({"channel": ch.label, "kind": ch.kind, "ok": True, "error": None})
        except Exception as exc:  # one channel's failure is reported and logged; the others still get theirs
            log.error("pushing briefing %s to %s failed", quarter, ch.label, exc_info=True)
            results.append({"channel": ch.label, "kind": ch.kind, "ok": False, "error": f"{type(exc).__name__}: {exc}"})
    if settings.auth_mode() != "none" and not dry_run:
        AuditLog(settings.audit_path()).write("export", "push", what=f"briefing {quarter}", format="push",
                                              channels=[{k: r[k] for k in ("channel", "kind", "ok")} for r in results])
    return results
