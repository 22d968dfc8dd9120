"""The SIP worker's defence settings, read lazily from Django settings.

Every ``SIP_SECURITY_*`` setting is optional (the defaults are those of
``sipcore.security``); a value the defence cannot use raises ``ImproperlyConfigured``
naming the setting.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from sipcore.security import BanPolicy, GateConfig

DEFAULT_REFRESH_INTERVAL = 1.0

_POLICY_SETTINGS = {
    "max_source_failures": "SIP_SECURITY_MAX_SOURCE_FAILURES",
    "max_account_failures": "SIP_SECURITY_MAX_ACCOUNT_FAILURES",
    "failure_window": "SIP_SECURITY_FAILURE_WINDOW",
    "first_ban": "SIP_SECURITY_FIRST_BAN",
    "ban_growth": "SIP_SECURITY_BAN_GROWTH",
    "max_ban": "SIP_SECURITY_MAX_BAN",
    "ban_scanners": "SIP_SECURITY_BAN_SCANNERS",
}
_GATE_SETTINGS = {
    "request_rate": "SIP_SECURITY_REQUEST_RATE",
    "request_burst": "SIP_SECURITY_REQUEST_BURST",
    "drop_scanners": "SIP_SECURITY_DROP_SCANNERS",
    "exempt_networks": "SIP_SECURITY_EXEMPT_NETWORKS",
    "front_doors": "SIP_SECURITY_FRONT_DOORS",
}


def _build(cls: Any, names: dict[str, str]) -> Any:
    values = {
        field: getattr(settings, name) for field, name in names.items() if hasattr(settings, name)
    }
    for networks in ("exempt_networks", "front_doors"):
        if networks in values:
            values[networks] = tuple(values[networks])
    try:
        return cls(**values)
    except (TypeError, ValueError) as error:
        given = ", ".join(f"{names[k]}={v!r}" for k, v in values.items())
        raise ImproperlyConfigured(f"SIP security settings ({given}): {error}") from None


def ban_policy() -> BanPolicy:
    """Failure thresholds and ban lengths (``SIP_SECURITY_MAX_SOURCE_FAILURES``, ...)."""
    return _build(BanPolicy, _POLICY_SETTINGS)


def gate_config() -> GateConfig:
    """Per-source request rate, scanner dropping, exempt networks, trusted front doors."""
    return _build(GateConfig, _GATE_SETTINGS)


def store_url() -> str:
    """The Redis shared by every SIP worker (``SIP_SECURITY_REDIS_URL``, else ``REDIS_URL``);
    empty: the embedded default, bans kept in this process's memory."""
    return str(getattr(settings, "SIP_SECURITY_REDIS_URL", getattr(settings, "REDIS_URL", "")))


def refresh_interval() -> float:
    """How often a worker reloads the shared bans (``SIP_SECURITY_REFRESH_INTERVAL``)."""
    value = getattr(settings, "SIP_SECURITY_REFRESH_INTERVAL", DEFAULT_REFRESH_INTERVAL)
    if not isinstance(value, int | float) or value <= 0:
        raise ImproperlyConfigured(f"SIP_SECURITY_REFRESH_INTERVAL={value!r} must be positive")
    return float(value)


def worker_config_fields() -> dict[str, Any]:
    """The defence's ``sipcore.worker.WorkerConfig`` fields, from these settings."""
    return {
        "ban_policy": ban_policy(),
        "security_gate": gate_config(),
        "security_refresh_interval": refresh_interval(),
    }
