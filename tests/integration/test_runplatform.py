"""``manage.py runplatform`` as a user runs it: a real process, a browser-like HTTP client."""

import re
import shutil
import signal
import subprocess
import sys
import time
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlencode
from urllib.request import HTTPCookieProcessor, build_opener

import pytest

from sipcore.tests.phones import write_linphonerc
from tests.integration.processes import free_port, platform_env, stop_process, wait_for_port

READY_LINE = "Press Ctrl-C to stop."
START_TIMEOUT = 60
LOGIN = re.compile(r"Portal login: username: (\S+)\s+password: (\S+)")
PHONE = re.compile(r"(\w+)@\S+\s+username: \S+\s+password: (\S+)\s+domain: (\S+)")


def platform_argv(port: int, sip_port: int) -> list[str]:
    return [
        sys.executable,
        "manage.py",
        "runplatform",
        "--http",
        f"127.0.0.1:{port}",
        "--listen",
        f"udp:127.0.0.1:{sip_port}",
        "--listen",
        f"tcp:127.0.0.1:{sip_port}",
    ]


def wait_for_banner(output: Path, process: subprocess.Popen) -> str:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        text = output.read_text()
        if READY_LINE in text:
            return text
        if process.poll() is not None:
            raise AssertionError(f"runplatform exited with {process.returncode}:\n{text}")
        time.sleep(0.1)
    raise AssertionError(
        f"runplatform printed no banner in {START_TIMEOUT} s:\n{output.read_text()}"
    )


@pytest.fixture
def platform_env_for_tmp(tmp_path) -> dict[str, str]:
    return platform_env(
        DATABASE_URL=f"sqlite:///{tmp_path / 'platform.sqlite3'}",
        SIPPLATFORM_VAR_DIR=str(tmp_path / "var"),
    )


def start_platform(spawn, env, output: Path) -> tuple[subprocess.Popen, str, int]:
    port = free_port()
    process = spawn(platform_argv(port, free_port(port)), env, log=output)
    banner = wait_for_banner(output, process)
    wait_for_port(port, process)
    return process, banner, port


def sign_in(port: int, username: str, password: str) -> tuple[str, str]:
    """Sign in as a browser does; the final URL and page after the redirect."""
    browser = build_opener(HTTPCookieProcessor(CookieJar()))
    base = f"http://127.0.0.1:{port}"
    with browser.open(f"{base}/login/", timeout=10) as page:
        assert page.status == 200
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.read().decode())[1]
    form = urlencode({"username": username, "password": password, "csrfmiddlewaretoken": token})
    with browser.open(f"{base}/login/", data=form.encode(), timeout=10) as page:
        return page.url, page.read().decode()


def test_runplatform_seeds_prints_serves_stops_and_reuses_its_logins(
    spawn, tmp_path, platform_env_for_tmp
):
    first, banner, port = start_platform(spawn, platform_env_for_tmp, tmp_path / "first.txt")
    username, password = LOGIN.search(banner).groups()
    phones = {name: (secret, domain) for name, secret, domain in PHONE.findall(banner)}
    assert set(phones) == {"alice", "bob"}
    assert "created now" in banner

    url, dashboard = sign_in(port, username, password)
    assert url == f"http://127.0.0.1:{port}/"
    assert "alice@" in dashboard and "bob@" in dashboard

    assert stop_process(first, signal.SIGINT) == 0
    assert "Stopped." in (tmp_path / "first.txt").read_text()
    credentials = tmp_path / "var" / "demo-credentials.json"
    assert credentials.stat().st_mode & 0o777 == 0o600

    second, banner, port = start_platform(spawn, platform_env_for_tmp, tmp_path / "second.txt")
    assert LOGIN.search(banner).groups() == (username, password)
    assert {name: (secret, domain) for name, secret, domain in PHONE.findall(banner)} == phones
    assert "kept from the first start" in banner
    assert sign_in(port, username, password)[0] == f"http://127.0.0.1:{port}/"
    assert stop_process(second, signal.SIGTERM) == 0


REGISTRAR = re.compile(r"(sip:\S+;transport=udp)")
REGISTER_TIMEOUT = 30


@pytest.mark.real
def test_a_softphone_registers_with_the_printed_details(spawn, tmp_path, platform_env_for_tmp):
    linphonec = shutil.which("linphonec")
    if linphonec is None:
        pytest.skip("linphonec is not installed (apt-get install linphone-cli)")
    platform, banner, port = start_platform(spawn, platform_env_for_tmp, tmp_path / "platform.txt")
    phones = {name: (secret, domain) for name, secret, domain in PHONE.findall(banner)}
    password, domain = phones["alice"]
    home = tmp_path / "alice"
    phone_port = free_port(port)
    config = write_linphonerc(
        home,
        "alice",
        password,
        domain,
        REGISTRAR.search(banner)[1],
        udp_port=phone_port,
        rtp_port=free_port(port, phone_port),
    )
    log = tmp_path / "linphonec.txt"
    phone = spawn(
        [linphonec, "-c", str(config), "-a", "-d", "0"],
        platform_env(HOME=str(home)),
        log=log,
        stdin=subprocess.PIPE,
    )
    deadline = time.monotonic() + REGISTER_TIMEOUT
    while 'registered, identity="alice"' not in log.read_text():
        assert time.monotonic() < deadline, f"alice did not register:\n{log.read_text()}"
        phone.stdin.write(b"status register\n")
        phone.stdin.flush()
        time.sleep(0.5)

    username, portal_password = LOGIN.search(banner).groups()
    dashboard = sign_in(port, username, portal_password)[1]
    alice_row = dashboard[dashboard.index("alice@") :].split("</tr>")[0]
    assert "1 registered" in alice_row
    phone.stdin.write(b"quit\n")
    phone.stdin.flush()
    assert stop_process(platform, signal.SIGINT) == 0
