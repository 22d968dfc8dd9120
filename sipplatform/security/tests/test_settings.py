"""The defence's settings: optional, turned into sipcore's configs, bad values refused."""

from dataclasses import fields

import pytest
from django.core.exceptions import ImproperlyConfigured

from sipcore.security import BanPolicy, GateConfig
from sipcore.worker import WorkerConfig
from sipplatform.security import conf


def test_without_settings_the_defaults_of_sipcore_apply(settings):
    for name in dir(settings):
        if name.startswith("SIP_SECURITY_") and name != "SIP_SECURITY_REDIS_URL":
            delattr(settings, name)
    assert conf.ban_policy() == BanPolicy()
    assert conf.gate_config() == GateConfig()
    assert conf.refresh_interval() == conf.DEFAULT_REFRESH_INTERVAL


def test_settings_reach_the_policy_and_the_gate(settings):
    settings.SIP_SECURITY_MAX_SOURCE_FAILURES = 3
    settings.SIP_SECURITY_FIRST_BAN = 2
    settings.SIP_SECURITY_DROP_SCANNERS = False
    settings.SIP_SECURITY_EXEMPT_NETWORKS = ["10.0.0.0/8"]
    settings.SIP_SECURITY_REFRESH_INTERVAL = 0.25
    policy, gate = conf.ban_policy(), conf.gate_config()
    assert (policy.max_source_failures, policy.first_ban) == (3, 2)
    assert (gate.drop_scanners, gate.exempt_networks) == (False, ("10.0.0.0/8",))
    assert conf.refresh_interval() == 0.25


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SIP_SECURITY_MAX_SOURCE_FAILURES", 0),
        ("SIP_SECURITY_BAN_GROWTH", 0.5),
        ("SIP_SECURITY_EXEMPT_NETWORKS", ["not-a-network"]),
        ("SIP_SECURITY_REQUEST_BURST", 0),
    ],
)
def test_unusable_values_stop_the_process_naming_the_setting(settings, name, value):
    setattr(settings, name, value)
    with pytest.raises(ImproperlyConfigured, match=name):
        conf.ban_policy()
        conf.gate_config()


def test_a_bad_refresh_interval_is_refused(settings):
    settings.SIP_SECURITY_REFRESH_INTERVAL = 0
    with pytest.raises(ImproperlyConfigured, match="SIP_SECURITY_REFRESH_INTERVAL"):
        conf.refresh_interval()


def test_every_setting_names_a_field_of_its_config():
    assert set(conf._POLICY_SETTINGS) <= {f.name for f in fields(BanPolicy)}
    assert set(conf._GATE_SETTINGS) <= {f.name for f in fields(GateConfig)}


def test_the_store_is_redis_when_a_url_is_set(settings):
    settings.SIP_SECURITY_REDIS_URL = ""
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"
    assert conf.store_url() == ""
    del settings.SIP_SECURITY_REDIS_URL
    assert conf.store_url() == "redis://127.0.0.1:6379/0"


def test_the_worker_config_takes_the_defences_settings(settings):
    settings.SIP_SECURITY_MAX_SOURCE_FAILURES = 7
    settings.SIP_SECURITY_REFRESH_INTERVAL = 2
    config = WorkerConfig(
        worker_id="w",
        default_domain="example.test",
        nonce_secret=b"s" * 32,
        **conf.worker_config_fields(),
    )
    assert config.ban_policy.max_source_failures == 7
    assert config.security_refresh_interval == 2.0
    assert config.security_gate == GateConfig()
