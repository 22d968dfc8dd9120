"""Property-based run of every operation in the live schema (schemathesis, in-process WSGI).

The schema is fetched from ``/api/schema/`` through the WSGI app, and schemathesis generates
requests for every operation from it; each is sent with a staff token (which reaches every
endpoint) and with a customer's token. Every response must be no server error and match the
schema: a documented status code and a body of the documented shape. Operations on one object
get generated ids and, half the time, the id of a real object, so updates and deletes run too.
``max_examples`` keeps the whole run well under 90 s; the examples are derandomized so CI
checks the same requests every time (runs with 40 random examples per operation, on SQLite
and PostgreSQL, found nothing more).
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from sipplatform.api.services import create_token
from sipplatform.customers.models import Customer
from sipplatform.dialplans.models import DestinationPolicy

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
EXAMPLES_PER_OPERATION = 10


@pytest.fixture
def live_schema(db, settings):
    """The schema served by the real WSGI app, inside the test's transaction.

    Like Django's test client, keep the request signals from closing the database connection
    (which would end the test's transaction on PostgreSQL).
    """
    # Hundreds of generated requests: the rate limit has tests of its own.
    settings.REST_FRAMEWORK = settings.REST_FRAMEWORK | {"DEFAULT_THROTTLE_CLASSES": []}
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/schema/?format=json", WSGIHandler())
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def real_ids(tenant_a, tenant_b) -> dict[str, int]:
    """An existing object per collection, owned by tenant A (a token other than the caller's,
    so revoking it does not end the run)."""
    return {
        "sip-domains": tenant_a.domain.pk,
        "tokens": create_token(tenant_a.user, "pinned")[0].pk,
        "sip-accounts": tenant_a.account.pk,
        "providers": tenant_a.provider.pk,
        "dialplans": tenant_a.dialplan.pk,
        "destination-policies": tenant_a.policy.pk,
        "registrations": tenant_a.binding.pk,
        "calls": tenant_a.call.pk,
        "active-calls": tenant_a.call.pk,
        "transfers": tenant_a.transfer.pk,
        "customers": Customer.objects.create(name="Scratch").pk,
    }


def run_every_operation(schema, headers: dict[str, str], real_ids: dict[str, int]) -> None:
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        strategy = operation.as_strategy()
        if "{id}" in operation.path:
            collection = operation.path.split("/")[3]
            pinned = operation.as_strategy(path_parameters={"id": real_ids[collection]})
            strategy = st.one_of(strategy, pinned)

        @given(case=strategy)
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def check(case) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            check()
        except (Exception, FailureGroup) as exc:  # report every failing operation at once
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)


def test_live_schema_as_staff(live_schema, platform_staff, real_ids):
    DestinationPolicy.objects.platform()
    _, clear = create_token(platform_staff, "schemathesis")

    run_every_operation(live_schema, {"Authorization": f"Bearer {clear}"}, real_ids)


def test_live_schema_as_customer(live_schema, tenant_a, real_ids):
    _, clear = create_token(tenant_a.user, "schemathesis")

    run_every_operation(live_schema, {"Authorization": f"Bearer {clear}"}, real_ids)
