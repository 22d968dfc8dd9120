"""The platform's SIP stack and application server, on asyncio.

Layers, bottom up: ``message`` (parse/serialise), ``transport`` (UDP/TCP),
``transaction`` (RFC 3261 §17), ``dialog``, ``auth`` (digest), then the
application modules. The protocol layers import no Django: the Django-backed
directory lives in ``sipplatform``.
"""
