"""Property-based fuzzing of the router's API against its own OpenAPI schema:
no 500, every status and body as documented. Runs as an admin (so it reaches
past authentication) on a store with an item, a queue and an officer in it.
The stream is left out (it never ends, by design) and so is /readyz (503 is its
documented answer here: the app runs without Kafka)."""

from datetime import UTC, datetime

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from switchboard_router.bootstrap import create_app
from switchboard_router.db.engine import make_engine, migrate
from switchboard_router.items.steps import save_items
from switchboard_router.people import service as people
from switchboard_router.routing.policy import Policy
from switchboard_router.settings import RouterSettings

pytestmark = pytest.mark.postgres

TOKEN = "fuzz-admin-token"
EXAMPLES = 30  # per operation: enough to find edge cases, bounded to keep `make test` quick


@pytest.fixture
def fuzz_app(database_url, make_item):
    engine = make_engine(database_url)
    migrate(engine)
    people.ensure_admin(engine, token=TOKEN, now=datetime.now(UTC))
    save_items(engine, new_items=[make_item("m1"), make_item("m2", queue="traffic")])
    app = create_app(
        # The schema to fuzz; one token fires every example (the fuzz is of the API, not its rate limit).
        RouterSettings(
            database_url=database_url, router_api_docs=True, router_token_burst=1_000_000
        ),
        engine,
        Policy.load(),
        consume=False,
        clock=False,
    )
    yield app
    engine.dispose()


def test_the_api_never_fails_and_answers_as_documented(fuzz_app):
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app).exclude(
        path=["/v1/stream", "/readyz"]
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 25
    failures = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case):
            case.call_and_validate(
                headers={"authorization": f"Bearer {TOKEN}"},
                checks=[
                    not_a_server_error,
                    status_code_conformance,
                    content_type_conformance,
                    response_schema_conformance,
                ],
            )

        try:
            fuzz()
        except Exception as exc:  # collect every operation's failure, not just the first
            failures.append(f"{operation.label}: {exc}")
    assert failures == [], "\n\n".join(failures)
