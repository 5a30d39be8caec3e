"""The contract's schema files, as `docs/schemas/` holds them: made from the code, so code and docs are one source.

`agent-learning contract schemas --out docs/schemas` writes them; a test fails when the
committed files differ from what the code makes. Inbound schemas are those of a rules
version (the built-in rules by default): the kinds, traits, actions and archetypes it names.
"""

from __future__ import annotations

import json
from typing import Any

from adapters.messages.outbound_schema import headers_schema, outbound_schemas
from adapters.messages.read_model_schemas import read_model_schemas
from adapters.messages.schema import message_schema
from domain.settings import LearningSettings

IN_BASE = "https://agent-learning.dev/schemas/in/"


def inbound_schemas(settings: LearningSettings) -> dict[str, dict[str, Any]]:
    """Message `type` → the schema of that message alone, plus `message` (any one of them)."""
    combined = message_schema(settings)
    schemas = {}
    for variant in combined["oneOf"]:
        name = variant["title"]
        schemas[name] = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"{IN_BASE}{name}.json",
            **variant,
            "description": f"a `{name}` message on the agent-feedback topic (docs/contract.md); other fields are ignored",
        }
    schemas["message"] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{IN_BASE}message.json",
        "title": "any message in",
        "description": combined["description"],
        "oneOf": [{"$ref": f"{name}.json"} for name in schemas],
    }
    return schemas


def contract_files(settings: LearningSettings) -> dict[str, str]:
    """Relative path → file content."""
    files = {}
    for name, schema in inbound_schemas(settings).items():
        files[f"in/{name}.json"] = _dumped(schema)
    for name, schema in outbound_schemas().items():
        files[f"out/{name}.json"] = _dumped(schema)
        files[f"out/{name}.headers.json"] = _dumped(headers_schema(name))
    files["out/MessageRejected.headers.json"] = _dumped(headers_schema("MessageRejected"))
    for name, schema in read_model_schemas().items():
        files[f"read-models/{name}.json"] = _dumped(schema)
    return files


def _dumped(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
