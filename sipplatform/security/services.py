"""Listing and lifting SIP bans for staff, from synchronous Django code.

The store's methods are coroutines; ``async_to_sync`` runs them on the running event loop
when there is one (in ``runplatform`` that is the loop the SIP worker shares the embedded
store on, so nothing races) and on a private one otherwise. Each call opens and closes its
own Redis client, so no connection outlives the loop it was made on.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from asgiref.sync import async_to_sync

from sipcore.security import Ban, CounterStore, Subject, unbanned_event
from sipplatform.monitor.events import publish_event
from sipplatform.security.stores import counter_store
from sipplatform.sipworker.events import monitor_event

T = TypeVar("T")


async def _with_store(action: Callable[[CounterStore], Awaitable[T]]) -> T:
    store = counter_store()
    try:
        return await action(store)
    finally:
        await store.close()


def current_bans() -> list[Ban]:
    """The bans in force now, longest-lasting first. Raises the store's error when it is down."""
    now = time.time()
    return async_to_sync(_with_store)(lambda store: store.active_bans(now=now))


def lift_ban(subject_key: str, *, by: str) -> Ban | None:
    """End the ban of ``subject_key`` (``source:1.2.3.4``) on every worker; the ban lifted, or
    None when there was none. Publishes ``security.unbanned`` to the staff monitor.

    Raises ValueError for a key that names no subject. The workers' gates drop the ban at
    their next refresh (a second or so).
    """
    subject = Subject.from_key(subject_key)
    return async_to_sync(_lift)(subject, by)


async def _lift(subject: Subject, by: str) -> Ban | None:
    lifted = await _with_store(lambda store: store.lift_ban(subject))
    if lifted is not None:
        event = unbanned_event(subject, how="lifted", by=by, now=time.time())
        await publish_event(event.customer_id, monitor_event(event))
    return lifted
