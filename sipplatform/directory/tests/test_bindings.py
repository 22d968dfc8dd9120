"""Bindings left behind while no SIP worker ran are cleared by the beat task, fresh ones kept."""

from datetime import timedelta

from django.utils import timezone

from sipplatform.directory.models import Binding
from sipplatform.directory.services import STALE_BINDING_GRACE
from sipplatform.directory.tasks import purge_stale_bindings


def bind(account, contact: str, expires_in: timedelta) -> Binding:
    return Binding.objects.create(
        account=account,
        contact_uri=contact,
        expires_at=timezone.now() + expires_in,
        received_host="192.0.2.10",
        received_port=5062,
        transport="udp",
        call_id="reg-1",
        cseq=1,
    )


def test_only_bindings_expired_longer_than_the_grace_are_purged(tenant_a):
    just_expired = bind(tenant_a.account, "sip:a@192.0.2.11", -timedelta(seconds=5))
    bind(tenant_a.account, "sip:a@192.0.2.12", -STALE_BINDING_GRACE - timedelta(seconds=5))

    assert purge_stale_bindings.delay().get() == 1
    assert set(Binding.objects.all()) == {tenant_a.binding, just_expired}


def test_current_and_expired_querysets(tenant_a):
    expired = bind(tenant_a.account, "sip:a@192.0.2.11", -timedelta(seconds=5))

    assert list(Binding.objects.current()) == [tenant_a.binding]
    assert list(Binding.objects.expired()) == [expired]
