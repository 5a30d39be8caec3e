"""The OpenAPI document tells the truth: schemathesis drives the running app from it (bounded examples),
as an owner and as an administrator, and no answer is a 5xx or strays from what the document says."""

from __future__ import annotations

import re

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

EXAMPLES = 25  # per operation, for CI


def test_every_operation_answers_as_documented_and_never_with_a_5xx(api):
    """Each operation with generated parameters and bodies (valid and not), as an owner, an administrator
    and a stranger."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def answers_as_documented(case):
            for token in (api.owner_a, api.admin, "not-a-token"):
                case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=checks)

        answers_as_documented()


def test_the_message_schema_names_the_vocabularies_and_limits_the_parser_enforces(api):
    document = api.client.get("/openapi.json").json()
    message = document["components"]["schemas"]["FeedbackMessage"]
    variants = {v["title"]: v for v in message["oneOf"]}
    assert sorted(variants) == ["activity", "agent_registered", "feedback", "learning_configured", "session_ended"]
    feedback = variants["feedback"]["properties"]
    assert "thumbs_up" in feedback["kind"]["enum"] and "rating" in feedback["kind"]["enum"]
    assert feedback["traits"]["additionalProperties"]["minimum"] == -1
    assert "2000–2100" in feedback["occurredAt"]["description"]
    assert re.fullmatch(feedback["agentId"]["pattern"], "a-1")
    assert not re.fullmatch(feedback["agentId"]["pattern"], "a/b")
    assert not re.fullmatch(feedback["agentId"]["pattern"], "a\nb")
    post = document["paths"]["/api/feedback"]["post"]
    assert sorted(post["responses"]) == ["200", "400", "401", "403", "404", "409", "413", "422"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/FeedbackMessage"
    }
    assert "text/plain" in document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]


def test_docs_is_a_page_that_needs_no_network(api):
    page = api.client.get("/docs")
    assert page.status_code == 200 and "/api/feedback" in page.text
    assert not re.search(r"""(src|href)=["']?https?://""", page.text)  # no CDN, no other host
    assert api.client.get("/redoc").status_code == 404
