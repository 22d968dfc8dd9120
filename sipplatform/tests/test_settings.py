"""Settings from the environment: production checks pass, bad values fail loudly, the secret
key is generated once and kept private, and the models need no missing migration."""

import os
import re
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

import sipplatform.settings as settings_module
from sipplatform.envconfig import (
    ListenAddress,
    derive_fernet_key,
    env_bool,
    env_database,
    env_digest_algorithms,
    env_fernet_keys,
    env_int,
    env_listen,
    env_sip_domain,
    load_or_create_secret_key,
    parse_listen_addresses,
)

REPO = Path(__file__).resolve().parents[2]


def manage(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "SIPPLATFORM_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    } | env
    return subprocess.run(
        [sys.executable, str(REPO / "manage.py"), *args],
        env=environment,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_deploy_reports_no_errors_under_production_settings(tmp_path):
    result = manage(
        tmp_path,
        "check",
        "--deploy",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="example.com",
    )

    assert result.returncode == 0, result.stderr
    assert "ERROR" not in result.stderr


def test_check_deploy_is_silent_when_served_over_https(tmp_path):
    result = manage(
        tmp_path,
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="example.com",
        SECURE_SSL_REDIRECT="true",
        SECURE_HSTS_PRELOAD="true",
    )

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_a_misspelt_boolean_stops_start_up(tmp_path):
    result = manage(tmp_path, "check", DEBUG="ture")

    assert result.returncode != 0
    assert "DEBUG='ture' is not a boolean" in result.stderr


def test_the_generated_secret_key_is_private_and_reused(tmp_path):
    path = tmp_path / "var" / "secret_key"

    first = load_or_create_secret_key(path)
    second = load_or_create_secret_key(path)

    assert first == second
    assert len(first) >= 50
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_typed_readers_fail_loudly():
    assert env_bool("X", False, {"X": "Yes"}) is True
    assert env_bool("X", True, {}) is True
    assert env_int("X", 5, {"X": "7"}) == 7
    with pytest.raises(ImproperlyConfigured, match="X='maybe' is not a boolean"):
        env_bool("X", False, {"X": "maybe"})
    with pytest.raises(ImproperlyConfigured, match="not a whole number"):
        env_int("X", 5, {"X": "five"})
    with pytest.raises(ImproperlyConfigured, match="below the minimum"):
        env_int("X", 5, {"X": "-1"})


def test_digest_algorithms_are_ordered_and_limited_to_the_stored_hashes():
    assert env_digest_algorithms("A", ["SHA-256", "MD5"], {}) == ("SHA-256", "MD5")
    assert env_digest_algorithms("A", ["SHA-256", "MD5"], {"A": "md5, sha-256"}) == (
        "MD5",
        "SHA-256",
    )
    for bad in ("SHA-512-256", "MD5,MD5", " , "):
        with pytest.raises(ImproperlyConfigured, match="A must list some of SHA-256, MD5"):
            env_digest_algorithms("A", ["MD5"], {"A": bad})


def test_database_urls():
    postgres = env_database("D", "", {"D": "postgres://u:p@db.example:5433/sip"})
    sqlite = env_database("D", "sqlite:////tmp/x.sqlite3", {})

    assert postgres["ENGINE"] == "django.db.backends.postgresql"
    assert (postgres["HOST"], postgres["PORT"], postgres["NAME"]) == ("db.example", 5433, "sip")
    assert sqlite["NAME"] == "/tmp/x.sqlite3"
    assert sqlite["OPTIONS"]["timeout"] == 20
    with pytest.raises(ImproperlyConfigured, match="PostgreSQL or SQLite"):
        env_database("D", "", {"D": "mysql://u@h/db"})


def test_listen_addresses():
    assert parse_listen_addresses("udp:127.0.0.1:5060, TCP:[::1]:5070") == (
        ListenAddress(transport="udp", host="127.0.0.1", port=5060),
        ListenAddress(transport="tcp", host="::1", port=5070),
    )
    assert str(ListenAddress(transport="tcp", host="::1", port=5070)) == "tcp:[::1]:5070"
    for bad, message in [
        ("sctp:127.0.0.1:5060", "transport"),
        ("udp:localhost:5060", "IP address"),
        ("udp:127.0.0.1:99999", "port"),
        ("udp:127.0.0.1", "IP address"),
        (",", "at least one"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_listen_addresses(bad)
    with pytest.raises(ImproperlyConfigured, match="SIP_LISTEN"):
        env_listen("SIP_LISTEN", "", {"SIP_LISTEN": "udp:nowhere"})


def test_sip_domain():
    loopback = parse_listen_addresses("udp:127.0.0.1:5060")
    wildcard = parse_listen_addresses("udp:0.0.0.0:5060")

    assert env_sip_domain("D", loopback, {}) == "127.0.0.1"
    assert env_sip_domain("D", wildcard, {"D": "SIP.Example.com"}) == "sip.example.com"
    with pytest.raises(ImproperlyConfigured, match="D must be set"):
        env_sip_domain("D", wildcard, {})
    with pytest.raises(ImproperlyConfigured, match="not a host name"):
        env_sip_domain("D", loopback, {"D": "bad domain"})


def test_provider_keys_default_to_a_derivation_of_the_secret_key():
    derived = env_fernet_keys("K", "s" * 50, {})
    explicit = Fernet.generate_key().decode()

    assert derived == (derive_fernet_key("s" * 50),)
    assert Fernet(derived[0]).decrypt(Fernet(derived[0]).encrypt(b"x")) == b"x"
    assert derive_fernet_key("t" * 50) != derived[0]
    assert env_fernet_keys("K", "s" * 50, {"K": f"{explicit}, {derived[0]}"}) == (
        explicit,
        derived[0],
    )
    with pytest.raises(ImproperlyConfigured, match="key 1 is not a Fernet key"):
        env_fernet_keys("K", "s" * 50, {"K": "not-a-key"})


def test_redis_carries_tasks_layer_and_cache_and_without_it_all_stays_in_process(tmp_path):
    code = (
        "from django.conf import settings as s;"
        "print(s.CELERY_TASK_ALWAYS_EAGER, s.CHANNEL_LAYERS['default']['BACKEND'],"
        " s.CACHES['default']['BACKEND'], s.SIP_DOMAIN, s.SIP_LISTEN[0])"
    )
    embedded = manage(tmp_path, "shell", "--no-imports", "-c", code)
    production = manage(
        tmp_path,
        "shell",
        "--no-imports",
        "-c",
        code,
        REDIS_URL="redis://127.0.0.1:6379/9",
        SIP_LISTEN="udp:192.0.2.1:5080",
        SIP_DOMAIN="Sip.Example.Com",
    )

    assert embedded.stdout.split() == [
        "True",
        "channels.layers.InMemoryChannelLayer",
        "django.core.cache.backends.locmem.LocMemCache",
        "127.0.0.1",
        "udp:127.0.0.1:5060",
    ]
    assert production.stdout.split() == [
        "False",
        "channels_redis.core.RedisChannelLayer",
        "django.core.cache.backends.redis.RedisCache",
        "sip.example.com",
        "udp:192.0.2.1:5080",
    ]


def test_no_model_change_lacks_a_migration(db):
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_every_variable_read_by_the_settings_is_documented():
    source = Path(settings_module.__file__).read_text()
    read = set(re.findall(r'env_\w+\(\s*"([A-Z_]+)"', source))

    assert read >= {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "SIP_LISTEN", "SIP_DOMAIN"}
    assert {name for name in read if f"``{name}``" not in settings_module.__doc__} == set()
