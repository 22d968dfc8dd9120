"""``DjangoDirectory``: the SIP worker's view of accounts, providers and dialplans, over the ORM.

The ORM is synchronous, so every query runs on a small pool of threads of the directory's own
(``sync_to_async(thread_sensitive=False)`` on a dedicated executor) and the event loop never
waits on the database. Each pool thread keeps one connection; a connection the server dropped
is reopened once, and ``close()`` closes all of them (a PostgreSQL test database cannot be
dropped while they are open).

Configuration lookups (domains, accounts, dialplans, providers, destination policy) are kept
for ``cache_seconds`` so a burst of calls does not repeat the same queries; every committed
save or delete of those models, in any process, clears the cache at once (see ``changes``),
so a change made in the portal or the admin counts on the next request. Model rows never
leave this module: callers get the frozen records of ``sipcore.directory``.

Bindings are read on every call and every REGISTER, and any worker may write them, so they
are cached only when Redis is given (``bindings_redis_url``; production): see
``BindingsCache``. PostgreSQL stays the only store of bindings, so they survive any restart.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import ParamSpec, TypeVar

import redis
from asgiref.sync import sync_to_async
from channels.layers import BaseChannelLayer, InMemoryChannelLayer, get_channel_layer
from django.db import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    connection,
    connections,
    transaction,
)
from django.db.models import Q, Subquery
from django.utils import timezone

from sipcore.directory import (
    AccountRecord,
    BindingRecord,
    CustomerRecord,
    DialplanRecord,
    ProviderRecord,
    ProviderRegistrationState,
    TransferPolicy,
)
from sipcore.message import URI, ParseError
from sipcore.policy import DestinationRules
from sipcore.redis_client import pooled_client
from sipplatform.customers.models import Customer
from sipplatform.dialplans.models import DestinationPolicy, Dialplan
from sipplatform.directory.models import Binding, SIPAccount, SIPDomain
from sipplatform.providers.models import Provider
from sipplatform.providers.secrets import ProviderSecretError
from sipplatform.providers.services import update_registration
from sipplatform.sipworker.changes import CHANGES_GROUP, register_cache

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_PORTS = {"sip": 5060, "sips": 5061}
DEFAULT_DATABASE_THREADS = 4
DEFAULT_CACHE_SECONDS = 5.0
"""How long a lookup is kept when no change announcement clears it first: the bound on how
stale a change made without model signals (``QuerySet.update``) can be."""
CACHE_MAX_ENTRIES = 10_000
BINDINGS_CACHE_SECONDS = 5.0
"""How long cached bindings are trusted without a version check succeeding against them: the
bound on how stale a binding changed outside this module (the admin) can be."""
BINDINGS_VERSION_KEY = "sip:bindings:version:{}"
REDIS_CONNECTIONS = 16
BINDINGS_VERSION_TTL = 86_400
"""A version key lives a day past the last change; a missing key reads as a new version."""
CHANGES_RESUBSCRIBE_SECONDS = 3600.0
"""The channel layer drops group members after a day; re-joining hourly keeps us in."""


def to_datetime(unix_time: float) -> datetime:
    return datetime.fromtimestamp(unix_time, UTC)


def customer_record(customer: Customer) -> CustomerRecord:
    return CustomerRecord(
        id=customer.pk,
        name=customer.name,
        suspended=customer.suspended,
        max_concurrent_executions=customer.max_concurrent_executions,
        max_calls_per_minute=customer.max_calls_per_minute,
        allow_cross_account_attended_transfer=customer.allow_cross_account_attended_transfer,
    )


def account_record(account: SIPAccount) -> AccountRecord:
    """The frozen record of an account loaded with its customer, domain and dialplans."""
    policy = account.effective_transfer_policy()
    return AccountRecord(
        id=account.pk,
        customer=customer_record(account.customer),
        username=account.username,
        domain=account.domain.name,
        ha1={"MD5": account.ha1_md5, "SHA-256": account.ha1_sha256},
        disabled=account.disabled,
        incoming_only=account.incoming_only,
        ip_allow_list=tuple(account.ip_allow_list),
        max_concurrent_calls=account.max_concurrent_calls,
        incoming_dialplan=account.incoming_dialplan.name if account.incoming_dialplan else None,
        outgoing_dialplan=account.outgoing_dialplan.name if account.outgoing_dialplan else None,
        transfer_policy=TransferPolicy(value=str(policy.value), source=str(policy.source)),
        refer_accept_with_200=account.refer_accept_with_200,
        semi_attended_fallback_blind=account.semi_attended_fallback_blind,
    )


def binding_record(binding: Binding) -> BindingRecord:
    return BindingRecord(
        account_id=binding.account_id,
        contact_uri=binding.contact_uri,
        transport=binding.transport,
        received_host=binding.received_host,
        received_port=binding.received_port,
        expires_at=binding.expires_at.timestamp(),
        user_agent=binding.user_agent,
        instance_id=binding.instance_id,
        call_id=binding.call_id,
        cseq=binding.cseq,
        worker_id=binding.worker_id,
    )


def provider_record(provider: Provider) -> ProviderRecord | None:
    """The provider with its password decrypted; None (logged) when it cannot be decrypted."""
    try:
        password = provider.get_password()
    except ProviderSecretError as exc:
        logger.error(
            "provider %r of customer %s is unusable: %s", provider.name, provider.customer_id, exc
        )
        return None
    return ProviderRecord(
        id=provider.pk,
        customer_id=provider.customer_id,
        name=provider.name,
        server_uri=provider.server_uri,
        outbound_proxy=provider.outbound_proxy,
        username=provider.username,
        auth_username=provider.auth_username,
        password=password,
        from_user=provider.from_user,
        from_host=provider.from_host,
        custom_headers=tuple(provider.header_pairs()),
        register=provider.register,
        register_contact=provider.register_contact,
        register_expiry=provider.register_expiry,
    )


def uri_address(text: str) -> tuple[str, int] | None:
    """``(host, port)`` of a provider's server or proxy URI; None when empty or malformed."""
    if not text:
        return None
    try:
        uri = URI.parse(text)
    except ParseError:
        return None
    if not uri.host:
        return None
    return uri.host.lower(), uri.port or DEFAULT_PORTS.get(uri.scheme, 5060)


def find_account(username: str, domain: str) -> AccountRecord | None:
    account = SIPAccount.objects.lookup(username, domain)
    return None if account is None else account_record(account)


def served_domain(host: str) -> str | None:
    domain = SIPDomain.objects.resolve(host)
    return None if domain is None else domain.name


def find_dialplan(customer_id: int, name: str) -> DialplanRecord | None:
    dialplan = Dialplan.objects.named(customer_id, name)
    if dialplan is None:
        return None
    return DialplanRecord(
        customer_id=dialplan.customer_id, name=dialplan.name, source=dialplan.script
    )


def find_provider(customer_id: int, name: str) -> ProviderRecord | None:
    provider = Provider.objects.for_customer(customer_id).filter(name=name).first()
    return None if provider is None else provider_record(provider)


def match_provider(host: str, port: int) -> ProviderRecord | None:
    """The provider of an active customer whose server or outbound proxy is ``host``.

    Matched on the host as written in the URI (an address or a name; names are not resolved,
    so a provider sending from addresses its URI does not name is not recognised). A provider
    whose port matches too wins over one matching on the host alone; ties go to the oldest.
    """
    host = host.lower()
    candidates = (
        Provider.objects.filter(customer__suspended=False)
        .filter(Q(server_uri__icontains=host) | Q(outbound_proxy__icontains=host))
        .order_by("pk")
    )
    host_only: Provider | None = None
    for provider in candidates:
        addresses = {uri_address(provider.server_uri), uri_address(provider.outbound_proxy)}
        if (host, port) in addresses:
            return provider_record(provider)
        if host_only is None and any(a is not None and a[0] == host for a in addresses):
            host_only = provider
    return None if host_only is None else provider_record(host_only)


def destination_rules(customer_id: int) -> DestinationRules:
    return DestinationPolicy.objects.rules_for(customer_id)


BINDING_COLUMNS = (
    "account_id",
    "contact_uri",
    "transport",
    "received_host",
    "received_port",
    "expires_at",
    "user_agent",
    "instance_id",
    "call_id",
    "cseq",
    "worker_id",
)


def bindings(account_id: int, now: float) -> list[BindingRecord]:
    """Read as plain rows: every call and every REGISTER asks, so no model instances."""
    rows = (
        Binding.objects.filter(account_id=account_id, expires_at__gt=to_datetime(now))
        .order_by("-expires_at", "-pk")
        .values(*BINDING_COLUMNS)
    )
    return [BindingRecord(**(row | {"expires_at": row["expires_at"].timestamp()})) for row in rows]


_BINDING_TABLE = Binding._meta.db_table
_SELECT_ALL_BINDINGS = (
    f"SELECT {', '.join(BINDING_COLUMNS)} FROM {_BINDING_TABLE} "
    "WHERE account_id = %s ORDER BY expires_at DESC, id DESC"
)
_UPSERT_BINDING = (
    f"INSERT INTO {_BINDING_TABLE} ({', '.join(BINDING_COLUMNS)}, updated_at) "
    f"VALUES ({', '.join(['%s'] * (len(BINDING_COLUMNS) + 1))}) "
    "ON CONFLICT (account_id, contact_uri) DO UPDATE SET "
    + ", ".join(
        f"{column} = EXCLUDED.{column}"
        for column in (*BINDING_COLUMNS, "updated_at")
        if column not in ("account_id", "contact_uri")
    )
)
_EVICT_BINDINGS = (
    f"DELETE FROM {_BINDING_TABLE} WHERE id IN (SELECT id FROM {_BINDING_TABLE} "
    "WHERE account_id = %s ORDER BY updated_at DESC, id DESC OFFSET %s)"
)


def _binding_from_row(row: tuple) -> BindingRecord:
    values = dict(zip(BINDING_COLUMNS, row, strict=True))
    values["expires_at"] = values["expires_at"].timestamp()
    return BindingRecord(**values)


def _postgresql() -> bool:
    return connection.vendor == "postgresql"


def all_bindings(account_id: int) -> tuple[BindingRecord, ...]:
    """Every binding row of the account, expired or not (the cache filters on each read), in
    the order of ``bindings``.

    On PostgreSQL in plain SQL: the ORM spends more CPU composing this query than the
    database spends answering it.
    """
    if _postgresql():
        with connection.cursor() as cursor:
            cursor.execute(_SELECT_ALL_BINDINGS, [account_id])
            rows = cursor.fetchall()
        return tuple(_binding_from_row(row) for row in rows)
    rows = (
        Binding.objects.filter(account_id=account_id)
        .order_by("-expires_at", "-pk")
        .values(*BINDING_COLUMNS)
    )
    return tuple(
        BindingRecord(**(row | {"expires_at": row["expires_at"].timestamp()})) for row in rows
    )


def save_binding(binding: BindingRecord, max_bindings: int) -> None:
    """Upsert on (account, contact) in one statement, then evict the oldest past the limit in
    another.

    ``INSERT ... ON CONFLICT DO UPDATE`` rather than ``update_or_create``: two workers
    refreshing the same contact at once must not collide on the unique constraint.
    """
    row = Binding(
        account_id=binding.account_id,
        contact_uri=binding.contact_uri,
        received_host=binding.received_host,
        received_port=binding.received_port,
        transport=binding.transport,
        expires_at=to_datetime(binding.expires_at),
        user_agent=binding.user_agent[:255],
        instance_id=binding.instance_id[:255],
        call_id=binding.call_id[:255],
        cseq=binding.cseq,
        worker_id=binding.worker_id[:64],
    )
    refreshed = [
        "received_host",
        "received_port",
        "transport",
        "expires_at",
        "user_agent",
        "instance_id",
        "call_id",
        "cseq",
        "worker_id",
        "updated_at",
    ]
    if _postgresql():
        _save_binding_sql(row, max_bindings)
        return
    with transaction.atomic():
        Binding.objects.bulk_create(
            [row],
            update_conflicts=True,
            unique_fields=["account", "contact_uri"],
            update_fields=refreshed,
        )
        newest_first = Binding.objects.filter(account_id=binding.account_id).order_by(
            "-updated_at", "-pk"
        )
        evicted = newest_first.values("pk")[max(max_bindings, 1) :]
        Binding.objects.filter(pk__in=Subquery(evicted)).delete()


def _save_binding_sql(row: Binding, max_bindings: int) -> None:
    """``save_binding`` on PostgreSQL: the same two statements in plain SQL, committed
    without waiting for the WAL flush.

    Bindings are soft state (every phone registers again within minutes), so the commit is
    asynchronous (``synchronous_commit = off``): it is visible to every worker at once and
    survives any worker restart; only a crash of the database server itself could lose the
    last fraction of a second of registrations. Waiting for the flush cost 10 to 20 ms per
    REGISTER on this machine and capped a worker at a few hundred registrations a second.
    """
    row.updated_at = timezone.now()
    values = [getattr(row, column) for column in BINDING_COLUMNS] + [row.updated_at]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
        cursor.execute(_UPSERT_BINDING, values)
        cursor.execute(_EVICT_BINDINGS, [row.account_id, max(max_bindings, 1)])


def remove_binding(account_id: int, contact_uri: str) -> None:
    Binding.objects.filter(account_id=account_id, contact_uri=contact_uri).delete()


def remove_all_bindings(account_id: int) -> None:
    Binding.objects.filter(account_id=account_id).delete()


def expire_bindings(now: float) -> list[BindingRecord]:
    """Delete and return the bindings expired by ``now``.

    Rows are claimed with ``SELECT ... FOR UPDATE SKIP LOCKED`` (on PostgreSQL), so when several
    workers sweep at once each expired binding is reported by exactly one of them.
    """
    with transaction.atomic():
        expired = list(
            Binding.objects.select_for_update(skip_locked=True)
            .filter(expires_at__lte=to_datetime(now))
            .order_by("pk")
        )
        Binding.objects.filter(pk__in=[b.pk for b in expired]).delete()
    return [binding_record(b) for b in expired]


def providers_to_register() -> list[ProviderRecord]:
    providers = Provider.objects.registering().order_by("pk")
    return [record for p in providers if (record := provider_record(p)) is not None]


def save_provider_registration(state: ProviderRegistrationState, attempted_at: float) -> None:
    """Store the agent's view of a provider; a provider deleted meanwhile is skipped."""
    fields = {
        "registered": state.registered,
        "last_status": state.last_status,
        "failure_reason": state.failure_reason[:255],
        "expires_at": None if state.expires_at is None else to_datetime(state.expires_at),
        "next_attempt_at": (
            None if state.next_attempt_at is None else to_datetime(state.next_attempt_at)
        ),
        "worker_id": state.worker_id[:64],
        "last_attempt_at": to_datetime(attempted_at),
    }
    if not Provider.objects.filter(pk=state.provider_id).exists():
        logger.info("provider %s was deleted; its registration state is dropped", state.provider_id)
        return
    try:
        update_registration(state.provider_id, **fields)
    except IntegrityError:
        logger.info("provider %s was deleted; its registration state is dropped", state.provider_id)


def reconnecting(query: Callable[P, R]) -> Callable[P, R]:
    """Run ``query``; if this thread's connection was dropped by the server, reopen it once.

    Every query here is idempotent (reads, upserts, deletes), so running it again is safe.
    """

    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return query(*args, **kwargs)
        except (OperationalError, InterfaceError) as exc:
            logger.warning("database connection lost (%s); reconnecting", exc)
            connections.close_all()
            return query(*args, **kwargs)

    return run


class LookupCache:
    """Lookup results by key for ``seconds``, dropped whole on a configuration change.

    Read and filled on the event loop; ``clear`` may come from any thread (a save in the
    portal of the embedded platform), so a result queried before a clear is not stored
    after it (the generation moved on).
    """

    def __init__(self, seconds: float, *, max_entries: int = CACHE_MAX_ENTRIES) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self.generation = 0
        self._entries: dict[Hashable, tuple[float, object]] = {}

    def get(self, key: Hashable) -> tuple[bool, object]:
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return False, None
        return True, entry[1]

    def put(self, key: Hashable, value: object, generation: int) -> None:
        if generation != self.generation:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key] = (time.monotonic() + self.seconds, value)

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()


@dataclass(frozen=True, slots=True)
class CachedBindings:
    version: bytes
    records: tuple[BindingRecord, ...]
    trusted_until: float
    """``time.monotonic()`` past which the entry is read again whatever its version."""


class BindingsCache:
    """Each account's bindings, kept with the version its Redis key had before they were read.

    Every write of an account's bindings, by any worker, commits in PostgreSQL and then sets
    the account's version key (``BINDINGS_VERSION_KEY``) to a new random token. A read asks
    Redis for the token (one round trip, on the loop) and uses the rows kept here only when
    they carry it; otherwise it reads the database and keeps the rows under the token it saw
    first. Rows read after a write's commit may carry an older token (they are read again
    next time) but never the other way round, so no worker answers from rows older than a
    write that has been acknowledged. Tokens are random rather than counted, so a version
    cannot come back after Redis loses its data; a missing key gets a fresh token first.

    While Redis does not answer, reads go to the database, and a write whose token could
    not be set is seen elsewhere once the others' entries age out (``seconds``).
    The loop reads and fills it; the directory's database threads drop and refill entries
    after writes (single dict operations, safe under the GIL).
    """

    def __init__(
        self,
        url: str,
        *,
        seconds: float = BINDINGS_CACHE_SECONDS,
        max_entries: int = CACHE_MAX_ENTRIES,
        timeout: float = 1.0,
    ) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self._redis = pooled_client(url, timeout=timeout, max_connections=REDIS_CONNECTIONS)
        self._sync_redis = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        self._entries: dict[int, CachedBindings] = {}
        self._failing_since: float | None = None

    async def version(self, account_id: int) -> bytes | None:
        """The account's current token; None when Redis does not answer (read the database)."""
        key = BINDINGS_VERSION_KEY.format(account_id)
        try:
            token = await self._redis.get(key)
            if token is None:
                fresh = new_token()
                if await self._redis.set(key, fresh, nx=True, ex=BINDINGS_VERSION_TTL):
                    token = fresh
                else:
                    token = await self._redis.get(key)
        except (redis.RedisError, OSError) as exc:
            self._failed(exc)
            return None
        self._failing_since = None
        return token

    def get(self, account_id: int, version: bytes, now: float) -> list[BindingRecord] | None:
        """The unexpired bindings kept under ``version``, newest first; None when not kept."""
        entry = self._entries.get(account_id)
        if entry is None or entry.version != version or entry.trusted_until < time.monotonic():
            return None
        return [record for record in entry.records if record.expires_at > now]

    def put(self, account_id: int, version: bytes, records: tuple[BindingRecord, ...]) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[account_id] = CachedBindings(
            version, records, time.monotonic() + self.seconds
        )

    def changed(self, account_ids: list[int]) -> dict[int, bytes]:
        """After a committed write (on a database thread): new tokens for ``account_ids``.

        Returns the tokens set, none when Redis does not answer (logged).
        """
        for account_id in account_ids:
            self._entries.pop(account_id, None)
        tokens = {account_id: new_token() for account_id in account_ids}
        if not tokens:
            return {}
        try:
            with self._sync_redis.pipeline(transaction=False) as pipe:
                for account_id, token in tokens.items():
                    key = BINDINGS_VERSION_KEY.format(account_id)
                    pipe.set(key, token, ex=BINDINGS_VERSION_TTL)
                pipe.execute()
        except (redis.RedisError, OSError) as exc:
            self._failed(exc)
            return {}
        return tokens

    def _failed(self, exc: BaseException) -> None:
        if self._failing_since is None:
            self._failing_since = time.monotonic()
            logger.warning(
                "bindings cache: Redis does not answer (%s); reading bindings from the database",
                exc,
            )

    async def close(self) -> None:
        await self._redis.aclose(close_connection_pool=True)
        self._sync_redis.close()


def new_token() -> bytes:
    return secrets.token_hex(8).encode()


class DjangoDirectory:
    """``sipcore.directory.Directory`` over the platform's models, off the event loop."""

    def __init__(
        self,
        *,
        threads: int = DEFAULT_DATABASE_THREADS,
        cache_seconds: float = DEFAULT_CACHE_SECONDS,
        clock: Callable[[], float] = time.time,
        bindings_redis_url: str | None = None,
    ) -> None:
        """``bindings_redis_url``: the Redis every worker shares, to cache bindings (see
        ``BindingsCache``); without it every bindings read is a database query."""
        self._threads = threads
        self._clock = clock
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="sip-directory")
        self._cache = LookupCache(cache_seconds) if cache_seconds > 0 else None
        if self._cache is not None:
            register_cache(self._cache)
        self._watcher: asyncio.Task[None] | None = None
        self._bindings = BindingsCache(bindings_redis_url) if bindings_redis_url else None
        self._running: dict[Hashable, asyncio.Future[object]] = {}

    def _off_loop(self, query: Callable[P, R]) -> Callable[P, Awaitable[R]]:
        return sync_to_async(reconnecting(query), thread_sensitive=False, executor=self._executor)

    async def _lookup(self, query: Callable[..., R], *args: Hashable) -> R:
        cache = self._cache
        if cache is None:
            return await self._off_loop(query)(*args)
        key = (query.__name__, *args)
        found, value = cache.get(key)
        if found:
            return value  # type: ignore[return-value]
        generation = cache.generation
        result = await self._shared((generation, *key), query, *args)
        cache.put(key, result, generation)
        return result

    async def _shared(self, key: Hashable, query: Callable[..., R], *args: object) -> R:
        """``query(*args)`` off the loop, run once for every caller asking for ``key`` while it
        runs: a burst of calls missing the cache together makes one query, not one each."""
        running = self._running.get(key)
        if running is None:
            running = asyncio.ensure_future(self._off_loop(query)(*args))
            self._running[key] = running
            running.add_done_callback(partial(self._finished, key))
        return await asyncio.shield(running)

    def _finished(self, key: Hashable, running: asyncio.Future[object]) -> None:
        self._running.pop(key, None)
        if not running.cancelled():
            running.exception()  # retrieved here too, should every caller have gone

    async def served_domain(self, host: str) -> str | None:
        return await self._lookup(served_domain, host.lower())

    async def find_account(self, username: str, domain: str) -> AccountRecord | None:
        return await self._lookup(find_account, username, domain.lower())

    async def find_dialplan(self, customer_id: int, name: str) -> DialplanRecord | None:
        return await self._lookup(find_dialplan, customer_id, name)

    async def find_provider(self, customer_id: int, name: str) -> ProviderRecord | None:
        return await self._lookup(find_provider, customer_id, name)

    async def match_provider(self, host: str, port: int) -> ProviderRecord | None:
        return await self._lookup(match_provider, host.lower(), port)

    async def destination_rules(self, customer_id: int) -> DestinationRules:
        return await self._lookup(destination_rules, customer_id)

    async def bindings(self, account_id: int, now: float) -> list[BindingRecord]:
        cache = self._bindings
        if cache is None:
            return await self._off_loop(bindings)(account_id, now)
        version = await cache.version(account_id)
        if version is None:
            return await self._off_loop(bindings)(account_id, now)
        found = cache.get(account_id, version, now)
        if found is not None:
            return found
        records = await self._shared(("bindings", account_id, version), all_bindings, account_id)
        cache.put(account_id, version, records)
        return [record for record in records if record.expires_at > now]

    async def save_binding(self, binding: BindingRecord, *, max_bindings: int) -> None:
        await self._off_loop(self._written)(binding.account_id, save_binding, binding, max_bindings)

    async def remove_binding(self, account_id: int, contact_uri: str) -> None:
        await self._off_loop(self._written)(account_id, remove_binding, account_id, contact_uri)

    async def remove_all_bindings(self, account_id: int) -> None:
        await self._off_loop(self._written)(account_id, remove_all_bindings, account_id)

    async def expire_bindings(self, now: float) -> list[BindingRecord]:
        expired = await self._off_loop(expire_bindings)(now)
        if self._bindings is not None and expired:
            accounts = sorted({binding.account_id for binding in expired})
            await self._off_loop(self._bindings.changed)(accounts)
        return expired

    def _written(self, account_id: int, write: Callable[..., None], *args: object) -> None:
        """On a database thread: ``write`` (it commits), then a new version for the account,
        and the account's rows read afresh under it: the registrar's 200 lists them next.

        Read after the version is set, the rows are at least as new as it says.
        """
        write(*args)
        if self._bindings is None:
            return
        token = self._bindings.changed([account_id]).get(account_id)
        if token is not None:
            self._bindings.put(account_id, token, all_bindings(account_id))

    async def providers_to_register(self) -> list[ProviderRecord]:
        return await self._off_loop(providers_to_register)()

    async def save_provider_registration(self, state: ProviderRegistrationState) -> None:
        await self._off_loop(save_provider_registration)(state, self._clock())

    def watch_changes(self) -> None:
        """Listen for configuration changes announced by other processes (see ``changes``).

        Needed only with a shared channel layer (production); in one process the announcement
        reaches the cache directly. Call on the worker's event loop; ``close`` stops it.
        """
        layer = get_channel_layer()
        if self._cache is None or layer is None or isinstance(layer, InMemoryChannelLayer):
            return
        self._watcher = asyncio.get_running_loop().create_task(
            self._receive_changes(layer), name="directory-changes"
        )

    async def _receive_changes(self, layer: BaseChannelLayer) -> None:
        assert self._cache is not None
        channel = await layer.new_channel()
        while True:
            try:
                await layer.group_add(CHANGES_GROUP, channel)
                # Anything announced while we were not listening is unknown: start afresh.
                self._cache.clear()
                async with asyncio.timeout(CHANGES_RESUBSCRIBE_SECONDS):
                    while True:
                        try:
                            await layer.receive(channel)
                        except redis.TimeoutError:
                            # redis-py's default socket timeout (5 s) equals channels_redis's
                            # blocking pop: an idle feed times out now and then. Still a
                            # member of the group, nothing was missed: wait on.
                            continue
                        self._cache.clear()
            except TimeoutError:
                continue
            except Exception:
                logger.warning("lost the configuration change feed; retrying", exc_info=True)
                await asyncio.sleep(1.0)

    async def close(self) -> None:
        """Stop listening for changes, close every pool thread's connection, stop the pool.

        One closing job per thread, each held at a barrier until all have started, so no
        thread runs two of them and every thread's connection is closed.
        """
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)
            self._watcher = None
        if self._bindings is not None:
            await self._bindings.close()
        barrier = threading.Barrier(self._threads)

        def close_this_threads_connections() -> None:
            barrier.wait()
            connections.close_all()

        closing = sync_to_async(
            close_this_threads_connections, thread_sensitive=False, executor=self._executor
        )
        await asyncio.gather(*(closing() for _ in range(self._threads)))
        self._executor.shutdown(wait=True)
