"""Telling every SIP worker that the platform's configuration changed.

SIP workers keep what they looked up (accounts, domains, dialplans, providers, destination
policy) for a few seconds, so a burst of calls does not repeat the same queries. A change
saved anywhere must still count on the worker's next request, so every save or delete of
those models, once committed, is announced:

* to the caches of this process directly (the embedded platform: portal and worker share it);
* to the other processes over the channel layer's ``sip-directory.changes`` group (production:
  a save in daphne's portal or the admin reaches each ``manage.py sipworker``), where
  ``DjangoDirectory.watch_changes`` listens.

Code that changes these models without signals (``QuerySet.update``, ``bulk_create``) calls
``directory_changed()`` itself; otherwise the workers see the change only when their cache
entries expire (``DEFAULT_CACHE_SECONDS`` in ``directory``).
"""

from __future__ import annotations

import logging
import weakref
from typing import Any, Protocol

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import transaction
from django.db.models.signals import post_delete, post_save

logger = logging.getLogger(__name__)

CHANGES_GROUP = "sip-directory.changes"
CHANGED_MESSAGE = {"type": "directory.changed"}


class Forgetful(Protocol):
    def clear(self) -> None: ...


_local_caches: weakref.WeakSet[Forgetful] = weakref.WeakSet()


def register_cache(cache: Forgetful) -> None:
    """Have ``cache`` cleared whenever this process commits a configuration change."""
    _local_caches.add(cache)


def directory_changed() -> None:
    """Announce a configuration change once the current transaction commits."""
    transaction.on_commit(announce, robust=True)


def announce() -> None:
    """Clear this process's caches and tell the other processes' workers (if any)."""
    for cache in list(_local_caches):
        cache.clear()
    layer = get_channel_layer()
    if layer is None or isinstance(layer, InMemoryChannelLayer):
        return
    try:
        async_to_sync(layer.group_send)(CHANGES_GROUP, CHANGED_MESSAGE)
    except Exception:
        logger.warning(
            "could not tell the SIP workers about a configuration change; they see it "
            "when their cached entries expire",
            exc_info=True,
        )


def _model_changed(sender: type, **kwargs: Any) -> None:
    directory_changed()


def connect_signals() -> None:
    """Announce every save and delete of the models the SIP worker's directory reads."""
    from sipplatform.customers.models import Customer
    from sipplatform.dialplans.models import DestinationPolicy, Dialplan
    from sipplatform.directory.models import SIPAccount, SIPDomain
    from sipplatform.providers.models import Provider

    for model in (Customer, SIPDomain, SIPAccount, Dialplan, Provider, DestinationPolicy):
        uid = f"sipworker-changes-{model._meta.label_lower}"
        post_save.connect(_model_changed, sender=model, dispatch_uid=f"{uid}-save")
        post_delete.connect(_model_changed, sender=model, dispatch_uid=f"{uid}-delete")
