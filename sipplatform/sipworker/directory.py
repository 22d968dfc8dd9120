"""``DjangoDirectory``: the SIP worker's view of accounts, providers and dialplans, over the ORM.

The ORM is synchronous, so every query runs on a small pool of threads of the directory's own
(``run_in_executor`` on a dedicated executor) and the event loop never waits on the database.
Each pool thread keeps one connection; a connection the server dropped is reopened once, and
``close()`` closes all of them (a PostgreSQL test database cannot be dropped while they are open).

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
import json
import logging
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import ParamSpec, TypeVar

import redis
from channels.layers import BaseChannelLayer, InMemoryChannelLayer, get_channel_layer
from django.db import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    connection,
    connections,
    transaction,
)
from django.db.models import Q

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
from sipcore.redis_pipeline import PipelinedRedis
from sipplatform.customers.models import Customer
from sipplatform.dialplans.models import DestinationPolicy, Dialplan
from sipplatform.directory.models import Binding, SIPAccount, SIPDomain, transfer_policy_of
from sipplatform.providers.models import Provider
from sipplatform.providers.secrets import ProviderSecretError
from sipplatform.providers.services import update_registration
from sipplatform.sipworker.binding_writes import (
    BINDING_COLUMNS,
    BatchedWrites,
    BindingWrite,
    RemoveAllBindings,
    RemoveBinding,
    SaveBinding,
    to_datetime,
    write_bindings,
)
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
BINDINGS_VERSION_TTL = 86_400
"""A version key lives a day past the last change; a missing key reads as a new version."""
CHANGES_RESUBSCRIBE_SECONDS = 3600.0
"""The channel layer drops group members after a day; re-joining hourly keeps us in."""


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
    """The account ``username@domain`` (the domain by name or alias), as a record.

    On PostgreSQL in one plain SQL statement: every digest check of a phone that has not
    registered in the last few seconds asks, and the ORM spent 2 ms of CPU composing the
    joins and building the instances (the worker's largest cost per registration).
    """
    if _postgresql():
        with connection.cursor() as cursor:
            cursor.execute(_SELECT_ACCOUNT, {"username": username, "host": domain})
            row = cursor.fetchone()
        return None if row is None else _account_from_row(row)
    account = SIPAccount.objects.lookup(username, domain)
    return None if account is None else account_record(account)


_SELECT_ACCOUNT = f"""
    SELECT a.id, a.username, d.name, a.ha1_md5, a.ha1_sha256, a.disabled, a.incoming_only,
        a.ip_allow_list, a.max_concurrent_calls, incoming.name, outgoing.name,
        a.transfer_default, a.refer_accept_with_200, a.semi_attended_fallback_blind,
        c.id, c.name, c.suspended, c.max_concurrent_executions, c.max_calls_per_minute,
        c.allow_cross_account_attended_transfer, c.transfer_default
    FROM {SIPAccount._meta.db_table} a
    JOIN {SIPDomain._meta.db_table} d ON d.id = a.domain_id
    JOIN {Customer._meta.db_table} c ON c.id = a.customer_id
    LEFT JOIN {Dialplan._meta.db_table} incoming ON incoming.id = a.incoming_dialplan_id
    LEFT JOIN {Dialplan._meta.db_table} outgoing ON outgoing.id = a.outgoing_dialplan_id
    WHERE a.username = %(username)s AND a.domain_id = (
        SELECT id FROM {SIPDomain._meta.db_table}
        WHERE name = %(host)s OR aliases ? %(host)s
        ORDER BY name <> %(host)s, name
        LIMIT 1
    )
"""
"""``SIPAccountQuerySet.lookup`` in one statement: the domain named ``host`` first, else the
first by name listing it among its aliases."""


def _account_from_row(row: tuple) -> AccountRecord:
    (
        account_id,
        username,
        domain,
        ha1_md5,
        ha1_sha256,
        disabled,
        incoming_only,
        ip_allow_list,
        max_concurrent_calls,
        incoming_dialplan,
        outgoing_dialplan,
        transfer_default,
        refer_accept_with_200,
        semi_attended_fallback_blind,
        customer_id,
        customer_name,
        suspended,
        max_concurrent_executions,
        max_calls_per_minute,
        allow_cross_account_attended_transfer,
        customer_transfer_default,
    ) = row
    return AccountRecord(
        id=account_id,
        customer=CustomerRecord(
            id=customer_id,
            name=customer_name,
            suspended=suspended,
            max_concurrent_executions=max_concurrent_executions,
            max_calls_per_minute=max_calls_per_minute,
            allow_cross_account_attended_transfer=allow_cross_account_attended_transfer,
        ),
        username=username,
        domain=domain,
        ha1={"MD5": ha1_md5, "SHA-256": ha1_sha256},
        disabled=disabled,
        incoming_only=incoming_only,
        # Django has psycopg hand JSON columns over as text, for JSONField to decode.
        ip_allow_list=tuple(json.loads(ip_allow_list)),
        max_concurrent_calls=max_concurrent_calls,
        incoming_dialplan=incoming_dialplan,
        outgoing_dialplan=outgoing_dialplan,
        transfer_policy=transfer_policy_of(transfer_default, customer_transfer_default),
        refer_accept_with_200=refer_accept_with_200,
        semi_attended_fallback_blind=semi_attended_fallback_blind,
    )


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


_SELECT_ALL_BINDINGS = (
    f"SELECT {', '.join(BINDING_COLUMNS)} FROM {Binding._meta.db_table} "
    "WHERE account_id = ANY(%s) ORDER BY account_id, expires_at DESC, id DESC"
)


def _binding_from_row(row: tuple) -> BindingRecord:
    values = dict(zip(BINDING_COLUMNS, row, strict=True))
    values["expires_at"] = values["expires_at"].timestamp()
    return BindingRecord(**values)


def _postgresql() -> bool:
    return connection.vendor == "postgresql"


def all_bindings(account_ids: Sequence[int]) -> dict[int, tuple[BindingRecord, ...]]:
    """Every binding row of each account, expired or not (the cache filters on each read),
    the latest expiry first; an account without any maps to ``()``.

    On PostgreSQL in plain SQL: the ORM spends more CPU composing this query than the
    database spends answering it.
    """
    found: dict[int, list[BindingRecord]] = {account_id: [] for account_id in account_ids}
    if _postgresql():
        with connection.cursor() as cursor:
            cursor.execute(_SELECT_ALL_BINDINGS, [list(account_ids)])
            records = [_binding_from_row(row) for row in cursor.fetchall()]
    else:
        rows = (
            Binding.objects.filter(account_id__in=account_ids)
            .order_by("account_id", "-expires_at", "-pk")
            .values(*BINDING_COLUMNS)
        )
        records = [
            BindingRecord(**(row | {"expires_at": row["expires_at"].timestamp()})) for row in rows
        ]
    for record in records:
        found[record.account_id].append(record)
    return {account_id: tuple(records) for account_id, records in found.items()}


def _bindings_of(account_id: int) -> tuple[BindingRecord, ...]:
    return all_bindings([account_id])[account_id]


def save_binding(binding: BindingRecord, max_bindings: int) -> None:
    """One ``SaveBinding`` committed alone (set-up and tools; the worker batches)."""
    write_bindings([SaveBinding(binding, max_bindings, at=time.time())])


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
        self._redis = PipelinedRedis(url, timeout=timeout)
        self._sync_redis = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        self._entries: dict[int, CachedBindings] = {}
        self._failing_since: float | None = None

    async def version(self, account_id: int) -> bytes | None:
        """The account's current token; None when Redis does not answer (read the database)."""
        key = BINDINGS_VERSION_KEY.format(account_id)
        try:
            token = await self._redis.execute("GET", key)
            if token is None:
                fresh = new_token()
                created = "SET", key, fresh, "NX", "EX", BINDINGS_VERSION_TTL
                if await self._redis.execute(*created):
                    token = fresh
                else:
                    token = await self._redis.execute("GET", key)
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
        await self._redis.aclose()
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
        self._writes = BatchedWrites(self._off_loop(self._commit_writes))

    def _off_loop(self, query: Callable[P, R]) -> Callable[P, Awaitable[R]]:
        """``query`` as a coroutine function run on the directory's threads.

        Straight through ``run_in_executor``: asgiref's ``sync_to_async`` cost several times
        more per call (context copies, thread bookkeeping), and every REGISTER makes calls.
        """
        run = reconnecting(query)

        async def off_loop(*args: P.args, **kwargs: P.kwargs) -> R:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, partial(run, *args, **kwargs))

        return off_loop

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
        version = None if cache is None else await cache.version(account_id)
        if cache is None or version is None:
            records = await self._off_loop(_bindings_of)(account_id)
            return [record for record in records if record.expires_at > now]
        found = cache.get(account_id, version, now)
        if found is not None:
            return found
        records = await self._shared(("bindings", account_id, version), _bindings_of, account_id)
        cache.put(account_id, version, records)
        return [record for record in records if record.expires_at > now]

    async def save_binding(
        self, binding: BindingRecord, *, max_bindings: int, now: float
    ) -> list[BindingRecord]:
        write = SaveBinding(binding, max_bindings, at=time.time())
        return await self._written(write, now)

    async def remove_binding(
        self, account_id: int, contact_uri: str, *, now: float
    ) -> list[BindingRecord]:
        return await self._written(RemoveBinding(account_id, contact_uri), now)

    async def remove_all_bindings(self, account_id: int, *, now: float) -> list[BindingRecord]:
        return await self._written(RemoveAllBindings(account_id), now)

    async def _written(self, write: BindingWrite, now: float) -> list[BindingRecord]:
        rows = await self._writes.write(write)
        return [record for record in rows[write.account_id] if record.expires_at > now]

    async def expire_bindings(self, now: float) -> list[BindingRecord]:
        expired = await self._off_loop(expire_bindings)(now)
        if self._bindings is not None and expired:
            accounts = sorted({binding.account_id for binding in expired})
            await self._off_loop(self._bindings.changed)(accounts)
        return expired

    def _commit_writes(self, writes: list[BindingWrite]) -> dict[int, tuple[BindingRecord, ...]]:
        """On a database thread: ``writes`` (one transaction), then a new version for each
        account written, then those accounts' rows read afresh, returned and kept under it:
        the registrar's 200 lists them.

        Read after the version is set, the rows are at least as new as it says.
        """
        write_bindings(writes)
        accounts = sorted({write.account_id for write in writes})
        if self._bindings is None:
            return all_bindings(accounts)
        tokens = self._bindings.changed(accounts)
        rows = all_bindings(accounts)
        for account_id, token in tokens.items():
            self._bindings.put(account_id, token, rows[account_id])
        return rows

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

        loop = asyncio.get_running_loop()
        await asyncio.gather(
            *(
                loop.run_in_executor(self._executor, close_this_threads_connections)
                for _ in range(self._threads)
            )
        )
        self._executor.shutdown(wait=True)
