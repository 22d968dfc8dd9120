"""docker-compose.yml and the Dockerfile name only things that exist in this codebase.

No Docker engine runs here, so the production topology is checked statically: the file parses,
has the services the design lists, and each service's command resolves to a module attribute,
a management command or a Celery app of this repository.
"""

import importlib
import ipaddress
import re
import shutil
import subprocess

import pytest
import yaml
from celery import Celery
from django.core.management import get_commands

from tests.integration.processes import REPO

PLATFORM_SERVICES = ("migrate", "web", "sip", "celery-worker", "celery-beat")
IMAGE_SERVICES = ("postgres", "redis")
FRONT_DOOR = REPO / "deploy" / "kamailio"
DEFAULTED = re.compile(r"\$\{[A-Z_]+:-([^}]*)\}")


def compose_file() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def services() -> dict:
    return compose_file()["services"]


def built_services(services: dict) -> dict:
    """The services running the platform's own image (built from the repository root)."""
    return {name: service for name, service in services.items() if service.get("build") == "."}


def with_defaults(value: str) -> str:
    """``value`` as compose reads it when no ``${NAME:-default}`` variable is set."""
    return DEFAULTED.sub(lambda match: match[1], value)


def check_daphne(argv: list[str]) -> None:
    module_name, _, attribute = argv[-1].partition(":")
    module = importlib.import_module(module_name)
    assert callable(getattr(module, attribute)), f"{argv[-1]} is not an ASGI callable"


def check_manage_py(argv: list[str]) -> None:
    assert argv[1] == "manage.py" and (REPO / "manage.py").is_file()
    assert argv[2] in get_commands(), f"no management command {argv[2]!r} in any app"


def check_celery(argv: list[str]) -> None:
    app_module = argv[argv.index("-A") + 1]
    module = importlib.import_module(f"{app_module}.celery")
    assert isinstance(module.app, Celery)
    assert argv[argv.index("-A") + 2] in {"worker", "beat"}


CHECKS = {"daphne": check_daphne, "python": check_manage_py, "celery": check_celery}


def test_the_file_has_every_process_of_the_design(services):
    assert set(services) == {*PLATFORM_SERVICES, *IMAGE_SERVICES, "kamailio"}
    assert set(built_services(services)) == set(PLATFORM_SERVICES)


@pytest.mark.parametrize("name", PLATFORM_SERVICES)
def test_each_service_command_names_something_in_the_codebase(services, name):
    argv = services[name]["command"]
    assert isinstance(argv, list), "commands are written in exec form"
    assert argv[0] in CHECKS, f"{name}: unknown program {argv[0]!r}"
    CHECKS[argv[0]](argv)


def test_the_web_service_runs_daphne_on_the_asgi_app(services):
    assert services["web"]["command"] == [
        "daphne",
        "-b",
        "0.0.0.0",
        "-p",
        "8000",
        "sipplatform.asgi:application",
    ]


def test_the_sip_worker_listens_and_is_published_on_udp_and_tcp_5060(services):
    sip = services["sip"]
    assert sip["command"][2] == "sipworker"
    assert {"udp:0.0.0.0:5060", "tcp:0.0.0.0:5060"} <= set(sip["command"])
    assert {"5060:5060/udp", "5060:5060/tcp"} <= {with_defaults(p) for p in sip["ports"]}


def test_platform_services_share_postgres_and_redis(services):
    for name, service in built_services(services).items():
        environment = service["environment"]
        assert environment["DATABASE_URL"].startswith("postgres://"), name
        assert environment["REDIS_URL"].startswith("redis://redis:"), name


def test_the_image_installs_the_pinned_requirements_and_runs_unprivileged():
    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.MULTILINE)
    assert "pip install -r requirements.txt" in dockerfile
    user = re.findall(r"^USER (\S+)$", dockerfile, re.MULTILINE)
    assert user and user[-1] not in {"root", "0"}


def test_the_scale_profile_puts_kamailio_in_front_of_a_scalable_sip_service(services):
    kamailio, sip = services["kamailio"], services["sip"]
    assert kamailio["profiles"] == ["scale"]
    assert "profiles" not in sip and "container_name" not in sip, "sip must scale"
    assert all("${SIP_PUBLISH_" in port for port in sip["ports"]), "replicas need free ports"
    assert kamailio["environment"]["SIP_WORKERS_HOST"] == "sip"
    assert {with_defaults(p) for p in kamailio["ports"]} == {"5060:5060/udp", "5060:5060/tcp"}
    assert (REPO / kamailio["build"]) == FRONT_DOOR
    dockerfile = (FRONT_DOOR / "Dockerfile").read_text()
    copied = re.search(r"^COPY (.+) /etc/kamailio/$", dockerfile, re.MULTILINE)
    assert copied and all((FRONT_DOOR / name).is_file() for name in copied[1].split())
    assert "apt-get install -y --no-install-recommends kamailio" in dockerfile


def test_the_workers_believe_the_source_header_from_kamailios_pinned_address_only(services):
    network = compose_file()["networks"]["default"]["ipam"]["config"][0]
    kamailio_address = ipaddress.ip_address(
        services["kamailio"]["networks"]["default"]["ipv4_address"]
    )
    front_doors = with_defaults(services["sip"]["environment"]["SIP_SECURITY_FRONT_DOORS"])
    assert kamailio_address in ipaddress.ip_network(front_doors)
    assert kamailio_address in ipaddress.ip_network(network["subnet"])
    assert kamailio_address not in ipaddress.ip_network(network["ip_range"]), (
        "no other container may be given the front door's address"
    )


def test_the_dispatcher_list_is_rendered_from_the_template(tmp_path):
    listing = tmp_path / "dispatcher.list"
    subprocess.run(
        [str(FRONT_DOOR / "render-dispatcher.sh"), "true"],
        env={
            "PATH": "/usr/bin:/bin",
            "DISPATCHER_TEMPLATE": str(FRONT_DOOR / "dispatcher.list.template"),
            "DISPATCHER_LIST": str(listing),
            "SIP_WORKERS": "10.0.0.2:5060 10.0.0.3:5060",
        },
        check=True,
        capture_output=True,
    )
    lines = [line for line in listing.read_text().splitlines() if not line.startswith("#")]
    assert [line.split()[:2] for line in lines] == [
        ["1", "sip:10.0.0.2:5060"],
        ["1", "sip:10.0.0.3:5060"],
    ]


@pytest.mark.real
def test_kamailio_accepts_the_front_door_configuration():
    if shutil.which("kamailio") is None:
        pytest.skip("kamailio is not installed (apt-get install -y kamailio)")
    check = subprocess.run(
        ["kamailio", "-c", "-f", str(FRONT_DOOR / "kamailio.cfg")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert check.returncode == 0, check.stderr[-2000:]
    assert "config file ok" in (check.stdout + check.stderr).lower()
