"""The operator commands: happy paths print what an operator needs; bad input exits non-zero
with a clear message and saves nothing."""

import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from sipplatform.customers.models import Customer, User
from sipplatform.dialplans.models import Dialplan
from sipplatform.directory.models import SIPAccount, SIPDomain
from sipplatform.providers.models import Provider

REPO = Path(__file__).resolve().parents[2]


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def acme(db):
    run("customer", "create", "Acme Corp")
    return Customer.objects.get()


def test_customer_create_and_list(db, fast_hashers):
    output = run("customer", "create", "Acme Corp", "--admin", "acme-admin")

    assert "created customer Acme Corp (slug acme-corp)" in output
    assert "portal login: acme-admin  password: " in output
    assert User.objects.get().customer.name == "Acme Corp"
    assert "acme-corp\tAcme Corp\tactive" in run("customer", "list")


def test_a_taken_customer_name_fails_and_a_bad_admin_rolls_the_customer_back(acme):
    with pytest.raises(CommandError, match="already exists"):
        run("customer", "create", "Acme Corp")
    with pytest.raises(CommandError, match="username"):
        run("customer", "create", "Globex", "--admin", "bad name!")
    assert list(Customer.objects.values_list("name", flat=True)) == ["Acme Corp"]


def test_sipaccount_create_prints_the_generated_password_once(acme):
    output = run("sipaccount", "create", "acme-corp", "alice", "--transfer", "c")

    account = SIPAccount.objects.get()
    password = output.split("password: ")[1].split()[0]
    assert f"created SIP account alice@{account.domain.name}" in output
    assert account.transfer_default == "c"
    assert password not in str(SIPAccount.objects.values().get())


def test_sipaccount_create_in_a_named_domain_and_list(acme):
    SIPDomain.objects.create(name="pbx.acme.test", customer=acme)
    run(
        "sipaccount",
        "create",
        "Acme Corp",
        "bob",
        "--password",
        "Sesame-Open-42",
        "--domain",
        "pbx.acme.test",
    )

    assert "bob@pbx.acme.test\tacme-corp\ttr=inherit" in run("sipaccount", "list", "Acme Corp")
    assert "bob@pbx.acme.test" in run("sipaccount", "list")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody", "alice"], "no customer named 'nobody'"),
        (["acme-corp", "Al"], "username"),
        (["acme-corp", "alice", "--password", "short"], "password"),
        (["acme-corp", "alice", "--domain", "unknown.test"], "no SIP domain"),
    ],
)
def test_sipaccount_create_refuses_bad_input(acme, args, message):
    with pytest.raises(CommandError, match=message):
        run("sipaccount", "create", *args)
    assert not SIPAccount.objects.exists()


def test_dialplan_load_creates_and_replaces(acme, tmp_path):
    script = tmp_path / "default.star"
    script.write_text('sys.Dial("${dst}@trunk")\n')

    assert "created dialplan default" in run("dialplan", "load", "acme-corp", "default", script)
    script.write_text('sys.Respond(486, "Busy")\n')
    assert "replaced dialplan default" in run("dialplan", "load", "acme-corp", "default", script)
    assert Dialplan.objects.get().script == 'sys.Respond(486, "Busy")\n'


def test_dialplan_load_reports_a_syntax_error_as_file_line_column(acme, tmp_path):
    script = tmp_path / "broken.star"
    script.write_text('sys.Log("a")\nif sys.Out\n    sys.Dial("x")\n')

    with pytest.raises(CommandError, match=rf"{script}:2:11: "):
        run("dialplan", "load", "acme-corp", "default", script)
    with pytest.raises(CommandError, match="cannot read"):
        run("dialplan", "load", "acme-corp", "default", tmp_path / "missing.star")
    assert not Dialplan.objects.exists()


def test_provider_create(acme):
    output = run(
        "provider",
        "create",
        "acme-corp",
        "trunk",
        "--server",
        "sip:trunk.example.test",
        "--username",
        "acme",
        "--password",
        "trunk-secret",
        "--register",
    )

    provider = Provider.objects.get()
    assert "created provider trunk for Acme Corp, registering" in output
    assert provider.get_password() == "trunk-secret"
    assert provider.register


def test_provider_create_refuses_a_bad_server(acme):
    with pytest.raises(CommandError, match="server_uri"):
        run("provider", "create", "acme-corp", "trunk", "--server", "trunk.example.test")
    assert not Provider.objects.exists()


def test_bad_input_exits_non_zero_from_the_command_line(tmp_path):
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "PATH": "/usr/bin:/bin",
        "SIPPLATFORM_VAR_DIR": str(tmp_path),
    }
    manage = [sys.executable, str(REPO / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=REPO, timeout=60)

    missing = subprocess.run(
        [*manage, "sipaccount", "create", "nobody", "alice"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    usage = subprocess.run(
        [*manage, "provider", "create", "x", "y"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert missing.returncode == 1
    assert "no customer named 'nobody'" in missing.stderr
    assert "Traceback" not in missing.stderr
    assert usage.returncode == 2
    assert "--server" in usage.stderr
