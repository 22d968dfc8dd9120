"""Request-URI and Route headers for in-dialogue requests (RFC 3261 §12.2.1.1).

With an empty route set the request goes straight to the remote target. When the
first route carries ``lr`` (a loose router) the Request-URI is the remote target
and the whole route set becomes Route headers. Otherwise (a strict router, RFC
2543) the first route's URI becomes the Request-URI, stripped of what a
Request-URI may not carry, and the remote target is appended as the last Route.
"""

from __future__ import annotations

from collections.abc import Sequence

from sipcore.message import URI, Address


def as_request_uri(uri: URI) -> URI:
    """``uri`` without URI headers or a ``method`` parameter (§19.1.1); opaque URIs as-is."""
    if uri.host is None:
        return uri
    return uri.without_headers().without_param("method")


def route_request(remote_target: URI, route_set: Sequence[Address]) -> tuple[URI, list[str]]:
    """The Request-URI and the Route header values for a request in the dialogue.

    ``remote_target`` is a URI and ``route_set`` a sequence of Addresses, first hop first.
    """
    if not route_set:
        return as_request_uri(remote_target), []
    first = route_set[0]
    if "lr" in first.uri.params:
        return as_request_uri(remote_target), [str(route) for route in route_set]
    routes = [str(route) for route in route_set[1:]]
    routes.append(f"<{remote_target}>")
    return as_request_uri(first.uri), routes
