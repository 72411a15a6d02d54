"""Health checks for `digest check`: each returns a result line (ok or not, what, a hint).

SMTP is probed with a real connection (connect, EHLO, STARTTLS, AUTH) and no message sent.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import aiosmtplib
from sqlalchemy import Engine

from digest.config import Settings
from digest.errors import DatabaseUnavailable, DigestError
from digest.render.signing import dns_record, load_private_key
from digest.store import migrations
from digest.store.service_state import database_problem


@dataclass(frozen=True, slots=True)
class CheckResult:
    ok: bool
    name: str
    detail: str
    hint: str = ""


def check_database(engine: Engine) -> CheckResult:
    where = engine.url.render_as_string(hide_password=True)
    try:
        migrations.require_current(engine)
    except DatabaseUnavailable as exc:  # the message already says what to do
        return CheckResult(False, "database", str(exc))
    except DigestError as exc:
        return CheckResult(False, "database", f"{where}: {exc}", "run `digest db upgrade`")
    problem = database_problem(engine)
    if problem is not None:
        return CheckResult(False, "database", str(problem))
    return CheckResult(True, "database", f"{where} reachable and writable, schema current")


def _tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()


async def check_smtp(settings: Settings) -> CheckResult:
    smtp = settings.smtp
    if not smtp.host:
        outbox = settings.outbox_dir
        try:
            outbox.mkdir(parents=True, exist_ok=True)
            writable = os.access(outbox, os.W_OK)
        except OSError:
            writable = False
        if not writable:
            return CheckResult(
                False,
                "mail",
                f"outbox {outbox} is not writable",
                "fix the directory's owner or set mail.outbox_dir",
            )
        return CheckResult(
            True,
            "mail",
            f"no SMTP host: messages are written to {outbox}",
            "set smtp.host to send real mail",
        )
    client = aiosmtplib.SMTP(
        hostname=smtp.host,
        port=smtp.port,
        timeout=smtp.timeout,
        use_tls=smtp.security == "tls",
        start_tls=False,
        tls_context=_tls_context(),
    )
    steps = ["connect", "EHLO"]
    try:
        await client.connect()
        await client.ehlo()
        if smtp.security == "starttls":
            if not client.supports_extension("starttls"):
                return CheckResult(
                    False,
                    "smtp",
                    f"{smtp.host}:{smtp.port} offers no STARTTLS",
                    'set smtp.security = "tls" or "none" to match the server',
                )
            await client.starttls()
            steps.append("STARTTLS")
        if smtp.username:
            await client.login(smtp.username, smtp.password or "")
            steps.append("AUTH")
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        return CheckResult(
            False,
            "smtp",
            f"{smtp.host}:{smtp.port}: {exc}",
            "check smtp.host, port, security, username and password",
        )
    finally:
        if client.is_connected:
            try:
                await client.quit()
            except aiosmtplib.SMTPException:
                client.close()
    return CheckResult(True, "smtp", f"{smtp.host}:{smtp.port}: {', '.join(steps)} ok")


def dkim_dns_record(key_file: Path) -> str:
    """The TXT record value to publish for the private key in `key_file`."""
    return dns_record(load_private_key(key_file.read_bytes()))


def check_dkim(settings: Settings) -> CheckResult:
    mail = settings.mail
    if mail.dkim_key_file is None and not mail.dkim_selector:
        return CheckResult(
            True,
            "dkim",
            "not configured: the service does not sign (your mail server may)",
            "sign at the mail server (see the README), or set mail.dkim_selector and dkim_key_file",
        )
    if mail.dkim_key_file is None or not mail.dkim_selector:
        return CheckResult(
            False,
            "dkim",
            "only one of dkim_selector and dkim_key_file is set",
            "set both (and dkim_domain if it is not the From domain), or neither",
        )
    try:
        record = dkim_dns_record(mail.dkim_key_file)
    except (OSError, ValueError, TypeError) as exc:
        return CheckResult(
            False,
            "dkim",
            f"cannot load {mail.dkim_key_file}: {exc}",
            "use an unencrypted PEM RSA/Ed25519 private key or a base64 Ed25519 seed",
        )
    name = f"{mail.dkim_selector}._domainkey.{mail.dkim_domain or mail.domain}"
    return CheckResult(True, "dkim", f'key loads; publish: {name} IN TXT "{record}"')


def _is_local(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(settings: Settings) -> CheckResult:
    url = urlsplit(settings.web.base_url)
    host = url.hostname or ""
    if url.path not in ("", "/") or url.query or url.fragment:
        return CheckResult(
            False,
            "base url",
            f"{settings.web.base_url} has a path or query",
            "web.base_url is the site root, e.g. https://digest.example.org",
        )
    if _is_local(host):
        ok = not settings.smtp.host
        return CheckResult(
            ok,
            "base url",
            f"{settings.web.base_url} is only reachable here",
            "set web.base_url to the public https URL before sending real mail",
        )
    if url.scheme != "https":
        return CheckResult(
            False,
            "base url",
            f"{settings.web.base_url} is not https",
            "one-click unsubscribe (RFC 8058) needs an https URL",
        )
    return CheckResult(True, "base url", settings.web.base_url)
