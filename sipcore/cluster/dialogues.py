"""Asking the worker that holds a dialogue to describe it, over Redis.

An attended transfer must judge the dialogue its Replaces names (RFC 3891 §3: does it exist,
was it created by INVITE, whose is it, is it still up) before the REFER is accepted. When the
ownership map says a peer worker holds that dialogue, the worker that received the REFER asks
the holder here: it pushes the question (the Replaces, and the transferor the judging is
for) onto the holder's list in Redis (``<prefix>:ask:<worker id>``) and waits on a reply list
of its own for the answer, the holder's ``DialogueInfo`` or nothing. Every worker serves its
own list from one task (``serve``) with its ``Answerer``: the B2BUA, which describes the
dialogue from its registry (remembering those that ended in the last 32 s) and, when the
transfer will be accepted, holds the dialogue for it (``sipcore.b2bua.crossworker``). Redis
is shared infrastructure every worker already trusts with the ownership map; a question
nobody answers in time, or an answer that does not parse, raises ``ClusterError``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from sipcore.cluster.leases import DEFAULT_PREFIX
from sipcore.cluster.records import ClusterError, WorkerInfo
from sipcore.message import ParseError, Replaces
from sipcore.transfer.replaces import DialogueInfo, DialogueState, Transferor

Answerer = Callable[[Replaces, Transferor], DialogueInfo | None]
"""What a worker answers about one of its dialogues, asked on behalf of ``Transferor``."""

log = logging.getLogger(__name__)

ANSWER_TIMEOUT = 1.5
"""Seconds to wait for the holder's answer (below the clients' 2 s socket timeout)."""
POLL = 1.0
"""How long one wait for questions lasts, so ``close`` is heard within a second."""
KEY_LIFETIME = 10
"""Seconds an unread question or answer list lives (a worker that died leaves no litter)."""


def encode_info(info: DialogueInfo | None) -> str:
    if info is None:
        return json.dumps({"found": False})
    return json.dumps(
        {
            "found": True,
            "call_id": info.call_id,
            "local_tag": info.local_tag,
            "remote_tag": info.remote_tag,
            "state": info.state.value,
            "method": info.method,
            "account_id": info.account_id,
            "customer_id": info.customer_id,
            "worker_id": info.worker_id,
            "far_end_sdp": base64.b64encode(info.far_end_sdp).decode(),
            "far_end_owned_call_id": info.far_end_owned_call_id,
        },
        separators=(",", ":"),
    )


def decode_info(raw: str | bytes) -> DialogueInfo | None:
    """The answer a holder sent; raises ClusterError for anything malformed."""
    try:
        data = json.loads(raw)
        if not data["found"]:
            return None
        return DialogueInfo(
            call_id=str(data["call_id"]),
            local_tag=str(data["local_tag"]),
            remote_tag=str(data["remote_tag"]),
            state=DialogueState(data["state"]),
            method=str(data["method"]),
            account_id=_optional_int(data["account_id"]),
            customer_id=_optional_int(data["customer_id"]),
            worker_id=str(data["worker_id"]),
            far_end_sdp=base64.b64decode(data["far_end_sdp"], validate=True),
            far_end_owned_call_id=bool(data["far_end_owned_call_id"]),
        )
    except (ValueError, TypeError, KeyError) as error:
        raise ClusterError(f"not a dialogue description: {str(raw)[:80]!r}") from error


def _optional_int(value: Any) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"not an id: {value!r}")
    return value


def encode_question(reply: str, replaces: Replaces, transferor: Transferor) -> str:
    return json.dumps(
        {
            "reply": reply,
            "replaces": str(replaces),
            "account_id": transferor.account_id,
            "customer_id": transferor.customer_id,
            "cross_account_allowed": transferor.cross_account_allowed,
            "call_id": transferor.call_id,
            "local_tag": transferor.local_tag,
            "remote_tag": transferor.remote_tag,
        },
        separators=(",", ":"),
    )


def decode_question(raw: str | bytes) -> tuple[str, Replaces, Transferor]:
    """The reply key, the Replaces and the transferor; raises ClusterError when malformed."""
    try:
        data = json.loads(raw)
        transferor = Transferor(
            account_id=_optional_int(data["account_id"]),
            customer_id=_optional_int(data["customer_id"]),
            cross_account_allowed=bool(data["cross_account_allowed"]),
            call_id=str(data["call_id"]),
            local_tag=str(data["local_tag"]),
            remote_tag=str(data["remote_tag"]),
        )
        return str(data["reply"]), Replaces.parse(str(data["replaces"])), transferor
    except (ValueError, TypeError, KeyError, ParseError) as error:
        raise ClusterError(f"not a dialogue question: {str(raw)[:80]!r}") from error


class RemoteDialogues:
    """This worker's side of the questions: asking peers, and answering its own list."""

    def __init__(
        self,
        client: Redis,
        me: WorkerInfo,
        answer: Answerer | None = None,
        *,
        prefix: str = DEFAULT_PREFIX,
        timeout: float = ANSWER_TIMEOUT,
    ) -> None:
        self.client = client
        self.me = me
        self.answer = answer
        self.prefix = prefix
        self.timeout = timeout
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def _inbox(self, worker_id: str) -> str:
        return f"{self.prefix}:ask:{worker_id}"

    async def describe(
        self, holder: WorkerInfo, replaces: Replaces, transferor: Transferor
    ) -> DialogueInfo | None:
        """The dialogue ``replaces`` names as ``holder`` sees it, None if it knows none.

        Raises ClusterError when no answer comes in time or it cannot be read, and Redis'
        own errors when Redis is unreachable.
        """
        reply = f"{self.prefix}:answer:{uuid.uuid4().hex}"
        inbox = self._inbox(holder.worker_id)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.rpush(inbox, encode_question(reply, replaces, transferor))
            pipe.expire(inbox, KEY_LIFETIME)
            await pipe.execute()
        answer = await self.client.blpop([reply], timeout=self.timeout)
        if answer is None:
            raise ClusterError(
                f"worker {holder.worker_id} did not describe {replaces.call_id[:80]!r}"
            )
        return decode_info(answer[1])

    def start(self) -> None:
        """Answer the questions peers put to this worker, until ``close``."""
        if self.answer is None:
            raise ClusterError("a worker answers questions only with an answerer")
        self._stopping = False
        self._task = asyncio.get_running_loop().create_task(self._serve())

    async def close(self) -> None:
        if self._task is not None:
            # Not task.cancel(): the Redis client may turn a cancellation inside a command
            # into a broken connection; the loop stops after its current wait instead.
            self._stopping = True
            await self._task
            self._task = None

    async def _serve(self) -> None:
        inbox = self._inbox(self.me.worker_id)
        while not self._stopping:
            try:
                item = await self.client.blpop([inbox], timeout=POLL)
                if item is not None:
                    await self._answer(item[1])
            except (RedisError, OSError) as error:
                log.warning("dialogue questions not served: %s", error)
                await asyncio.sleep(POLL)

    async def _answer(self, raw: bytes) -> None:
        assert self.answer is not None
        try:
            reply, replaces, transferor = decode_question(raw)
        except ClusterError as error:
            log.warning("dialogue question ignored: %s", error)
            return
        if not reply.startswith(f"{self.prefix}:answer:"):
            log.warning("dialogue question with a foreign reply key %r ignored", reply[:80])
            return
        try:
            found = self.answer(replaces, transferor)
        except Exception:
            # one bad question must not stop the answers to every later one
            log.exception("answering a dialogue question failed")
            found = None
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.rpush(reply, encode_info(found))
            pipe.expire(reply, KEY_LIFETIME)
            await pipe.execute()
