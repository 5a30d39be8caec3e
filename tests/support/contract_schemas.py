"""Validation against the committed schema files of docs/schemas/ (the ones integrators read)."""

from __future__ import annotations

import base64
import json
from functools import cache
from pathlib import Path

import jsonschema_rs

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"


@cache
def validator(relative: str):
    return jsonschema_rs.validator_for(json.loads((SCHEMAS / relative).read_text()))


def problems(relative: str, instance) -> list[str]:
    return [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in validator(relative).iter_errors(instance)]


def assert_inbound_valid(message: dict) -> None:
    found = problems(f"in/{message['type']}.json", message)
    assert not found, f"a message the parser accepts breaks in/{message['type']}.json: {found}\n{message}"


def assert_read_models_valid(documents: dict[str, list[dict]]) -> int:
    """Every document of every collection against docs/schemas/read-models; returns how many."""
    count = 0
    for collection, docs in documents.items():
        for doc in docs:
            found = problems(f"read-models/{collection}.json", doc)
            assert not found, f"a {collection} document breaks its schema: {found}\n{doc}"
            count += 1
    return count


def assert_published_valid(published: list[dict]) -> int:
    """Every message as the file sink wrote it (topic, key, headers, value): body and headers; returns how many."""
    for message in published:
        event_type = message["headers"]["event-type"]
        found = problems(f"out/{event_type}.headers.json", message["headers"])
        assert not found, f"{event_type} headers break the schema: {found}\n{message['headers']}"
        if event_type == "MessageRejected":
            assert "valueBase64" in message and isinstance(base64.b64decode(message["valueBase64"]), bytes)
            continue
        found = problems(f"out/{event_type}.json", message["value"])
        assert not found, f"{event_type} breaks out/{event_type}.json: {found}\n{message['value']}"
        assert message["headers"]["event-id"] == message["value"]["eventId"]
    return len(published)
