"""Every dead-letter code, with what it means: stable and machine-readable, beside the reason people read.

The parser (`inbound.py`), the consumer and the service file each rejection under one of these;
the DLQ header `rejection-code`, the `dead_letters` read model and `dead-letters.jsonl` carry it
(docs/contract.md lists them from here).
"""

from __future__ import annotations

from domain.dead_letter import UNCLASSIFIED as DEAD_LETTER_UNCLASSIFIED

INVALID_JSON = "invalid_json"
TOO_DEEP = "too_deep"
NOT_AN_OBJECT = "not_an_object"
UNKNOWN_TYPE = "unknown_type"
MISSING_FIELD = "missing_field"
TYPE_MISMATCH = "type_mismatch"
OUT_OF_RANGE = "out_of_range"
INVALID_TIME = "invalid_time"
INVALID_UNICODE = "invalid_unicode"
INVALID_ID = "invalid_id"
TOO_LONG = "too_long"
UNKNOWN_KIND = "unknown_kind"
UNKNOWN_NAME = "unknown_name"
UNREADABLE = "unreadable"
EMPTY_MESSAGE = "empty_message"
REFUSED_BY_RULES = "refused_by_rules"
UNPROCESSABLE = "unprocessable"
UNCLASSIFIED = DEAD_LETTER_UNCLASSIFIED  # the domain upcasts older dead letters to it

DEAD_LETTER_CODES: dict[str, str] = {
    INVALID_JSON: "the bytes are not JSON (or use NaN/Infinity, which JSON does not have)",
    TOO_DEEP: "nested deeper than 64 levels",
    NOT_AN_OBJECT: "valid JSON, but not one object",
    UNKNOWN_TYPE: "`type` is not one of the message types",
    MISSING_FIELD: "a required field is absent (or a rating has no value)",
    TYPE_MISMATCH: "a field has the wrong JSON type (a list where a string belongs, a string for a number)",
    OUT_OF_RANGE: "a number outside its range, not finite, or beyond ±10¹⁵",
    INVALID_TIME: "`occurredAt` is not ISO-8601 with a zone, or outside the accepted years",
    INVALID_UNICODE: "a string holds a lone surrogate",
    INVALID_ID: "an id holds control characters, or `agentId` a '/'",
    TOO_LONG: "an id over 256 characters, or a text over 200,000",
    UNKNOWN_KIND: "a feedback `kind` the rules in force do not define",
    UNKNOWN_NAME: "an archetype, action, trait or profile the rules do not define",
    UNREADABLE: "the message failed a check in a way no other code covers",
    EMPTY_MESSAGE: "a Kafka record with no value (null)",
    REFUSED_BY_RULES: "the service refused the command on a rule the parser could not check",
    UNPROCESSABLE: "the command failed while it was applied (a bug, or a case no check foresaw)",
    UNCLASSIFIED: "recorded before dead letters had codes",
}
