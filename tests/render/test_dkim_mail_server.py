"""Signing at the mail server: the OpenDKIM configuration the README gives signs our messages
so that dkimpy's verifier accepts them, the unsubscribe headers covered.

The README's lines are read from the README itself and given to a real `opendkim`, driven
through the milter protocol by `miltertest` as Postfix would drive it; the key is made with
`opendkim-genkey` as the README says. Skipped when those tools are missing, unless
DIGEST_REQUIRE_TOOLS=1 (CI).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import dkim
import pytest

from digest.render import Renderer
from tests.render.conftest import make_digest, make_settings, parse

README = Path(__file__).resolve().parents[2] / "README.md"
TOOLS = ("opendkim", "opendkim-genkey", "miltertest")


def _require_tools() -> None:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        reason = f"{', '.join(missing)} not installed (Debian: opendkim opendkim-tools miltertest)"
        if os.environ.get("DIGEST_REQUIRE_TOOLS") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


def readme_opendkim_lines() -> list[str]:
    """The `/etc/opendkim.conf` lines of the README's example, as written there."""
    text = README.read_text(encoding="utf-8")
    block = text.split("# /etc/opendkim.conf", 1)[1].split("# /etc/postfix/main.cf", 1)[0]
    lines = [line.strip() for line in block.splitlines()[1:]]
    return [line for line in lines if line and not line.startswith("#")]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _lua(value: str) -> str:
    return json.dumps(value)  # a JSON string of ASCII is a valid Lua string literal


@pytest.fixture
def opendkim_conf(tmp_path: Path) -> Iterator[tuple[Path, int, bytes]]:
    """(config file, milter port, TXT record) for the README's lines, with a fresh key."""
    _require_tools()
    keys = tmp_path / "keys"
    keys.mkdir()
    subprocess.run(
        ["opendkim-genkey", "-b", "2048", "-d", "example.org", "-s", "digest", "-D", str(keys)],
        check=True,
        capture_output=True,
    )
    record = "".join(re.findall(r'"([^"]*)"', (keys / "digest.txt").read_text())).encode()
    port = _free_port()
    lines = []
    for line in readme_opendkim_lines():
        name = line.split()[0]
        if name == "KeyFile":
            line = f"KeyFile {keys / 'digest.private'}"
        elif name == "Socket":
            line = f"Socket inet:{port}@localhost"
        lines.append(line)
    # The test's key lives under /tmp, which OpenDKIM would rightly call unsafe.
    lines.append("RequireSafeKeys no")
    conf = tmp_path / "opendkim.conf"
    conf.write_text("\n".join(lines) + "\n")
    yield conf, port, record
    _stop_filter(tmp_path / "opendkim.pid", conf)


def _stop_filter(pid_file: Path, conf: Path) -> None:
    """miltertest ends the filter it started; should it not, end it (that one process)."""
    if not pid_file.exists():
        return
    pid = int(pid_file.read_text().strip())
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists() and str(conf).encode() in cmdline.read_bytes():
        os.kill(pid, signal.SIGTERM)


def sign_at_the_mail_server(message: bytes, conf: Path, port: int, work: Path) -> bytes:
    """`message` as OpenDKIM signs it when the mail server hands it over (milter protocol)."""
    head, body = message.split(b"\r\n\r\n", 1)
    (work / "body").write_bytes(body)
    fields: list[str] = []
    for line in head.decode("ascii").split("\r\n"):
        if line[:1] in (" ", "\t"):
            fields[-1] += "\n" + line
        else:
            fields.append(line)
    headers = "\n".join(
        f"assert(mt.header(conn, {_lua(name)}, {_lua(value.lstrip(' '))}) == nil)"
        for name, value in (field.split(":", 1) for field in fields)
    )
    script = work / "sign.lua"
    script.write_text(
        f"""
mt.startfilter({_lua(shutil.which("opendkim") or "opendkim")}, "-f", "-x", {_lua(str(conf))},
               "-P", {_lua(str(work / "opendkim.pid"))})
conn = mt.connect("inet:{port}@localhost", 40, 0.25)
assert(conn, "cannot reach opendkim")
assert(mt.conninfo(conn, "localhost", "127.0.0.1") == nil)
assert(mt.macro(conn, SMFIC_MAIL, "i", "queue-id-1") == nil)
assert(mt.mailfrom(conn, "bounces+token@example.org") == nil)
assert(mt.rcptto(conn, "reader@example.org") == nil)
{headers}
assert(mt.eoh(conn) == nil)
assert(mt.bodyfile(conn, {_lua(str(work / "body"))}) == nil)
assert(mt.eom(conn) == nil)
print("DKIM-Signature: " .. mt.getheader(conn, "DKIM-Signature", 0))
mt.disconnect(conn)
"""
    )
    result = subprocess.run(
        ["miltertest", "-s", str(script)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    signature = result.stdout.split("DKIM-Signature: ", 1)[1].rstrip("\n")
    return b"DKIM-Signature: " + signature.replace("\n", "\r\n").encode("ascii") + b"\r\n" + message


def test_the_readme_opendkim_setup_signs_digests_that_verify(
    opendkim_conf: tuple[Path, int, bytes], tmp_path: Path
) -> None:
    conf, port, record = opendkim_conf
    message = Renderer(make_settings(tmp_path)).render_digest(make_digest()).data
    assert b"DKIM-Signature" not in message  # no key configured: the service does not sign

    signed = sign_at_the_mail_server(message, conf, port, tmp_path)

    def dns(name: bytes, timeout: int = 5) -> bytes | None:
        return record if name == b"digest._domainkey.example.org." else None

    assert dkim.verify(signed, dnsfunc=dns)
    value = re.sub(r"\s+", "", str(parse(signed)["DKIM-Signature"]))
    tags = dict(part.split("=", 1) for part in value.split(";") if part)
    assert tags["c"] == "relaxed/relaxed"
    assert {"from", "list-unsubscribe", "list-unsubscribe-post"} <= set(
        tags["h"].lower().split(":")
    )
    tampered = re.sub(
        rb"<https://[^>]+/unsubscribe/[^>]+>", b"<https://evil.example/x>", signed, count=1
    )
    assert tampered != signed
    assert not dkim.verify(tampered, dnsfunc=dns)
