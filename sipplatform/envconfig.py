"""Typed readers for environment settings that fail loudly.

``settings.py`` is the only caller. Every reader raises ``ImproperlyConfigured`` naming the
variable and the accepted form, so a typo in production stops the process at start-up instead
of silently meaning "off" (``DEBUG=ture``) or "default".
"""

import base64
import ipaddress
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import environ
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})
SIP_TRANSPORTS = ("udp", "tcp")
PROVIDER_KEY_HKDF_INFO = b"sipplatform provider secrets v1"
_HOST_LABEL = re.compile(r"\A(?!-)[a-z0-9-]{1,63}(?<!-)\Z")


@dataclass(frozen=True, slots=True, kw_only=True)
class ListenAddress:
    """One SIP listening socket: ``udp:127.0.0.1:5060`` or ``tcp:[::1]:5060``."""

    transport: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.transport}:{host}:{self.port}"


def env_str(name: str, default: str, environ_: Mapping[str, str] = os.environ) -> str:
    """The variable's value, or ``default`` when unset or empty."""
    return environ_.get(name, "").strip() or default


def env_bool(name: str, default: bool, environ_: Mapping[str, str] = os.environ) -> bool:
    """``true/false``, ``1/0``, ``yes/no``, ``on/off`` (any case); anything else is an error."""
    raw = environ_.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in TRUE_WORDS:
        return True
    if raw in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true or false)")


def env_int(
    name: str, default: int, environ_: Mapping[str, str] = os.environ, *, minimum: int = 0
) -> int:
    """A whole number no smaller than ``minimum``."""
    raw = environ_.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name}={value} is below the minimum {minimum}")
    return value


def env_list(name: str, default: list[str], environ_: Mapping[str, str] = os.environ) -> list[str]:
    """A comma-separated list; blanks between commas are dropped."""
    raw = environ_.get(name, "").strip()
    if not raw:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


STORED_DIGEST_ALGORITHMS = ("SHA-256", "MD5")
"""The algorithms a SIP account keeps an HA1 for, so the only ones it can be challenged with."""


def env_digest_algorithms(
    name: str, default: list[str], environ_: Mapping[str, str] = os.environ
) -> tuple[str, ...]:
    """Digest algorithms to challenge with, most preferred first (RFC 8760 §2.4)."""
    chosen = tuple(item.upper() for item in env_list(name, default, environ_))
    unknown = sorted(set(chosen) - set(STORED_DIGEST_ALGORITHMS))
    if unknown or not chosen or len(set(chosen)) != len(chosen):
        raise ImproperlyConfigured(
            f"{name} must list some of {', '.join(STORED_DIGEST_ALGORITHMS)} once each"
            + (f"; {', '.join(unknown)} is not one" if unknown else "")
        )
    return chosen


def env_database(name: str, default: str, environ_: Mapping[str, str] = os.environ) -> dict:
    """Django ``DATABASES`` entry from a URL (``postgres://...`` or ``sqlite:///path``)."""
    url = env_str(name, default, environ_)
    try:
        config = environ.Env.db_url_config(url)
    except (ValueError, KeyError) as exc:
        raise ImproperlyConfigured(f"{name} is not a database URL: {exc}") from None
    engine = config.get("ENGINE", "")
    if engine.endswith("sqlite3"):
        # The embedded platform runs web, SIP worker and in-process tasks as threads of one
        # process: wait for a lock instead of failing, and take write locks up front.
        config.setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
    elif not engine.endswith("postgresql"):
        raise ImproperlyConfigured(f"{name} must name PostgreSQL or SQLite, not {engine!r}")
    return config


def parse_listen_addresses(text: str) -> tuple[ListenAddress, ...]:
    """Parse ``udp:127.0.0.1:5060,tcp:[::1]:5060`` into listen addresses.

    Raises ``ValueError`` with the offending item; the settings reader turns it into
    ``ImproperlyConfigured`` and ``runplatform --listen`` into a command error.
    """
    addresses = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        transport, _, hostport = item.partition(":")
        transport = transport.lower()
        if transport not in SIP_TRANSPORTS:
            raise ValueError(f"{item!r}: transport must be one of {', '.join(SIP_TRANSPORTS)}")
        if hostport.startswith("["):
            host, _, rest = hostport[1:].partition("]")
            port_text = rest.removeprefix(":")
        else:
            host, _, port_text = hostport.rpartition(":")
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(f"{item!r}: host must be an IP address") from None
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"{item!r}: port must be a number from 1 to 65535")
        addresses.append(ListenAddress(transport=transport, host=host, port=int(port_text)))
    if not addresses:
        raise ValueError("at least one listen address is needed, e.g. udp:127.0.0.1:5060")
    return tuple(addresses)


def env_listen(
    name: str, default: str, environ_: Mapping[str, str] = os.environ
) -> tuple[ListenAddress, ...]:
    """SIP listen addresses from a comma-separated ``transport:host:port`` list."""
    try:
        return parse_listen_addresses(env_str(name, default, environ_))
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}: {exc}") from None


def env_sip_domain(
    name: str, listen: tuple[ListenAddress, ...], environ_: Mapping[str, str] = os.environ
) -> str:
    """The served SIP domain: a host name or IP address, lowercased.

    Defaults to the first listen address, unless that is a wildcard (``0.0.0.0``, ``::``),
    which no phone can register to: then the variable must be set.
    """
    value = env_str(name, "", environ_).lower()
    if not value:
        host = listen[0].host
        if ipaddress.ip_address(host).is_unspecified:
            raise ImproperlyConfigured(
                f"{name} must be set when SIP_LISTEN starts with the wildcard address {host}"
            )
        return host
    if not is_host_or_address(value):
        raise ImproperlyConfigured(f"{name}={value!r} is not a host name or IP address")
    return value


def is_host_or_address(value: str) -> bool:
    """A lowercase DNS host name or an IP address: what a SIP URI's host part may be."""
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        labels = value.split(".")
        return len(value) <= 253 and all(_HOST_LABEL.match(label) for label in labels)


def load_or_create_secret_key(path: Path) -> str:
    """The key kept in ``path``, generated on first use with owner-only permissions.

    Created with ``O_EXCL`` so two processes starting at once agree on one key.
    """
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


def derive_fernet_key(secret_key: str) -> str:
    """A Fernet key derived from ``SECRET_KEY`` with HKDF-SHA256 (fixed info string, no salt)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=PROVIDER_KEY_HKDF_INFO)
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode())).decode()


def env_fernet_keys(
    name: str, secret_key: str, environ_: Mapping[str, str] = os.environ
) -> tuple[str, ...]:
    """Fernet keys, newest first (the first encrypts, all decrypt: key rotation).

    When unset, one key derived from ``SECRET_KEY``.
    """
    keys = env_list(name, [], environ_)
    if not keys:
        return (derive_fernet_key(secret_key),)
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            raise ImproperlyConfigured(
                f"{name}: key {position} is not a Fernet key (32 url-safe base64-encoded bytes; "
                "make one with `python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`)"
            ) from None
    return tuple(keys)
