"""The contract's schema files: made from the code, and true of every message the product accepts and sends."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings

from adapters.cli.main import main
from adapters.files.file_sink import read_published
from adapters.messages.contract_files import contract_files
from adapters.messages.inbound import BadMessage, parse_message
from domain.settings import DEFAULT_SETTINGS
from tests.service.test_fuzz import VALID, mutated
from tests.support.contract_schemas import (
    SCHEMAS,
    assert_inbound_valid,
    assert_published_valid,
    assert_read_models_valid,
)


def test_the_committed_schema_files_are_the_ones_the_code_makes():
    made = contract_files(DEFAULT_SETTINGS)
    committed = {str(p.relative_to(SCHEMAS)): p.read_text() for p in SCHEMAS.rglob("*.json")}
    assert committed == made, "regenerate them: agent-learning contract schemas --out docs/schemas"


def test_the_contract_examples_validate():
    for message in VALID:
        full = {**message, "eventId": "e-1", "occurredAt": "2026-11-24T10:00:00Z"}
        parse_message(json.dumps(full), DEFAULT_SETTINGS)
        assert_inbound_valid(full)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(mutated())
def test_every_message_the_parser_accepts_validates_against_its_schema(raw):
    try:
        parse_message(raw, DEFAULT_SETTINGS)
    except BadMessage:
        return
    assert_inbound_valid(json.loads(raw))


def test_every_message_the_demo_sends_and_accepts_validates(home, capsys):
    assert main(["--home", str(home), "demo", "--quiet"]) == 0
    accepted = 0
    for raw in (home / "demo-feedback.jsonl").read_bytes().splitlines():
        try:
            parse_message(raw, DEFAULT_SETTINGS)
        except BadMessage:
            continue
        assert_inbound_valid(json.loads(raw))
        accepted += 1
    published = read_published(home / "published.jsonl")
    kinds = {m["headers"]["event-type"] for m in published}
    assert {"AgentLearningUpdated", "AgentUpdatesFrozen", "MessageRejected"} <= kinds
    assert accepted > 100 and assert_published_valid(published) == len(published)

    from adapters.bootstrap import Config, bootstrap
    from tests.contract.test_read_model_store_mongodb import all_documents

    system = bootstrap(Config(home=home))
    try:
        system.projections.catch_up()
        documents = all_documents(system.read_models)
    finally:
        system.close()
    assert assert_read_models_valid(documents) > 500
