"""runplatform refuses bad options and a busy port with a plain error, before serving."""

import socket

import pytest
from django.core.management import CommandError, call_command

from tests.integration.processes import free_port


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--http", "nowhere"], "the host must be an IP address or localhost"),
        (["--http", "127.0.0.1:99999"], "the port must be a number from 1 to 65535"),
        (["--http", "127.0.0.1"], "the host must be an IP address or localhost"),
        (["--listen", "sctp:127.0.0.1:5060"], "transport must be one of udp, tcp"),
        (["--listen", "udp:example.com:5060"], "host must be an IP address"),
    ],
)
def test_a_bad_address_is_refused_with_a_clear_error(option, message):
    with pytest.raises(CommandError, match=message):
        call_command("runplatform", *option)


def test_a_busy_portal_port_is_reported_before_the_banner(db, settings, tmp_path, capsys):
    settings.VAR_DIR = tmp_path
    with socket.socket() as squatter:
        port = free_port()
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        with pytest.raises(
            CommandError, match=f"cannot serve the portal on http://127.0.0.1:{port}/"
        ):
            call_command("runplatform", "--http", f"127.0.0.1:{port}")
    assert "Press Ctrl-C" not in capsys.readouterr().out
