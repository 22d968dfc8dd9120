"""The outbound registration agent: keeps every provider with ``register`` on registered.

For each provider the Directory lists, one task sends REGISTER (answering 401/407 with a
``DigestClient``, honouring ``423 Min-Expires``), refreshes the registration well before it
expires, backs off exponentially after failures, and writes every outcome through
``Directory.save_provider_registration`` so the portal shows it. The list is read again
periodically: providers added, changed or switched off are picked up without a restart.

The registered Contact is our own address with the user of the provider's
``register_contact`` (``bob@example.com`` registers ``sip:bob@<us>``), so a call the
provider sends back names the account it is for.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sipcore.auth import CredentialsRejected, DigestClient, NoUsableChallenge
from sipcore.b2bua.targets import Unreachable, parse_server, peer_for
from sipcore.cluster import ProviderLeases
from sipcore.directory import Directory, ProviderRecord, ProviderRegistrationState
from sipcore.endpoint import Endpoint
from sipcore.message import URI, ParseError, Request, Response, new_call_id, new_tag

log = logging.getLogger(__name__)

MAX_CHALLENGES = 3
"""Challenges answered for one REGISTER before giving up (a stale nonce may need two)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentConfig:
    worker_id: str = ""
    user_agent: str = "sipplatform"
    poll_interval: float = 60.0
    refresh_fraction: float = 0.75
    """Refresh when this share of the granted expiry has passed."""
    retry_base: float = 30.0
    retry_max: float = 900.0
    request_timeout: float = 40.0


@dataclass(slots=True)
class Registration:
    """What one provider's registration keeps between REGISTERs (RFC 3261 §10.2.4)."""

    provider: ProviderRecord
    call_id: str = field(default_factory=new_call_id)
    from_tag: str = field(default_factory=new_tag)
    cseq: int = 0
    failures: int = 0
    client: DigestClient | None = None


class ProviderAgent:
    def __init__(
        self,
        *,
        endpoint: Endpoint,
        directory: Directory,
        clock: Callable[[], float],
        config: AgentConfig,
        leases: ProviderLeases | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.leases = leases
        """Several workers: register only the providers whose lease this worker holds."""
        self.directory = directory
        self.clock = clock
        self.config = config
        self._tasks: dict[int, tuple[ProviderRecord, asyncio.Task[None]]] = {}
        self._supervisor: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._supervisor = asyncio.get_running_loop().create_task(self._supervise())

    async def close(self) -> None:
        tasks = [task for _, task in self._tasks.values()]
        if self._supervisor is not None:
            tasks.append(self._supervisor)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        if self.leases is not None:
            await self.leases.release_all()

    async def reconcile(self) -> None:
        """Start, restart (changed) or stop registration tasks to match the Directory."""
        wanted = {
            provider.id: provider for provider in await self.directory.providers_to_register()
        }
        if self.leases is not None:
            held = await self.leases.maintain(wanted)
            wanted = {key: provider for key, provider in wanted.items() if key in held}
        for provider_id, (provider, task) in list(self._tasks.items()):
            if wanted.get(provider_id) != provider or task.done():
                task.cancel()
                del self._tasks[provider_id]
        loop = asyncio.get_running_loop()
        for provider_id, provider in wanted.items():
            if provider_id not in self._tasks:
                task = loop.create_task(self._keep_registered(Registration(provider)))
                self._tasks[provider_id] = (provider, task)

    async def _supervise(self) -> None:
        while True:
            try:
                await self.reconcile()
            except Exception:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # a cancelled Redis command may surface as a connection error
                log.exception("reading the providers to register failed")
            await asyncio.sleep(self.config.poll_interval)

    async def _keep_registered(self, registration: Registration) -> None:
        while True:
            state = await self.register(registration)
            try:
                await self.directory.save_provider_registration(state)
            except Exception:
                log.exception(
                    "saving the registration state of %s failed", registration.provider.name
                )
            next_at = state.next_attempt_at or self.clock() + self.config.retry_max
            await asyncio.sleep(max(0.0, next_at - self.clock()))

    async def register(self, registration: Registration) -> ProviderRegistrationState:
        """One REGISTER exchange (with its challenges); the state to save."""
        provider = registration.provider
        expires = provider.register_expiry
        credentials: tuple[str, str] | None = None
        try:
            for _ in range(MAX_CHALLENGES + 1):
                response = await self._send(registration, expires, credentials)
                if response.status in (401, 407):
                    credentials = self._answer(registration, response, credentials is not None)
                    continue
                if response.status == 423 and response.min_expires:
                    expires = response.min_expires
                    continue
                break
        except TimeoutError:
            return self._failed(registration, 408, "no answer from the provider")
        except (Unreachable, NoUsableChallenge, CredentialsRejected, OSError) as error:
            return self._failed(registration, None, str(error) or type(error).__name__)
        except ParseError as error:
            return self._failed(registration, None, f"bad response: {error.reason}")
        if 200 <= response.status < 300:
            return self._registered(registration, response, expires)
        return self._failed(registration, response.status, f"{response.status} {response.reason}")

    def _answer(
        self, registration: Registration, response: Response, credentials_sent: bool
    ) -> tuple[str, str]:
        provider = registration.provider
        if registration.client is None:
            registration.client = DigestClient(
                username=provider.digest_username, password=provider.password
            )
        challenge = "WWW-Authenticate" if response.status == 401 else "Proxy-Authenticate"
        value = registration.client.authorize(
            response.headers.get_all(challenge),
            method="REGISTER",
            uri=_registrar_uri(provider),
            credentials_sent=credentials_sent,
        )
        return ("Authorization" if response.status == 401 else "Proxy-Authorization", value)

    def _registered(
        self, registration: Registration, response: Response, requested: int
    ) -> ProviderRegistrationState:
        now = self.clock()
        granted = response.expires if response.expires is not None else requested
        for contact in response.contacts:
            if contact.expires is not None and contact.uri.user == self._contact_user(registration):
                granted = contact.expires
                break
        registration.failures = 0
        refresh = max(1.0, granted * self.config.refresh_fraction)
        return ProviderRegistrationState(
            provider_id=registration.provider.id,
            registered=True,
            last_status=response.status,
            expires_at=now + granted,
            next_attempt_at=now + refresh,
            worker_id=self.config.worker_id,
        )

    def _failed(
        self, registration: Registration, status: int | None, reason: str
    ) -> ProviderRegistrationState:
        log.info("registering to provider %s failed: %s", registration.provider.name, reason)
        delay = min(self.config.retry_base * 2**registration.failures, self.config.retry_max)
        registration.failures += 1
        return ProviderRegistrationState(
            provider_id=registration.provider.id,
            registered=False,
            last_status=status,
            failure_reason=reason[:255],
            next_attempt_at=self.clock() + delay,
            worker_id=self.config.worker_id,
        )

    @staticmethod
    def _contact_user(registration: Registration) -> str:
        provider = registration.provider
        user = provider.register_contact.removeprefix("sip:").partition("@")[0]
        return user if "@" in provider.register_contact and user else provider.username

    async def _send(
        self, registration: Registration, expires: int, credentials: tuple[str, str] | None
    ) -> Response:
        provider = registration.provider
        server = parse_server(provider.server_uri)
        proxy = parse_server(provider.outbound_proxy) if provider.outbound_proxy else server
        peer = peer_for(proxy)
        local = await self.endpoint.local_address(peer)
        registration.cseq += 1
        aor = f"<sip:{provider.username}@{server.host}>"
        user = self._contact_user(registration)
        headers = [
            ("Max-Forwards", "70"),
            ("From", f"{aor};tag={registration.from_tag}"),
            ("To", aor),
            ("Call-ID", registration.call_id),
            ("CSeq", f"{registration.cseq} REGISTER"),
            ("Contact", f"<sip:{user}@{local.hostport};transport={local.transport}>"),
            ("Expires", str(expires)),
            ("User-Agent", self.config.user_agent),
        ]
        if credentials is not None:
            headers.append(credentials)
        request = Request("REGISTER", _registrar_uri(provider), headers)
        async with asyncio.timeout(self.config.request_timeout):
            return await self.endpoint.send_request(request, peer)


def _registrar_uri(provider: ProviderRecord) -> str:
    """The Request-URI of a REGISTER to ``provider``: its server without a user part."""
    server = parse_server(provider.server_uri)
    return str(URI(server.scheme, host=server.host, port=server.port, params=server.params))
