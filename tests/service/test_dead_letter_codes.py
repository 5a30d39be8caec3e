"""Each dead letter carries a stable machine-readable code beside its reason: in the read model, in the
dead-letter file, and as the DLQ header `rejection-code` (issue 18, part 3)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from adapters.cli.main import main
from adapters.files.file_sink import read_published
from adapters.messages.dead_letter_codes import DEAD_LETTER_CODES
from adapters.messages.inbound import BadMessage, parse_message
from adapters.service.learning_service import Rejection
from domain.commands import RecordFeedback
from domain.dead_letter import DeadLetter
from domain.settings import DEFAULT_SETTINGS
from projections.dead_letters import DEAD_LETTERS
from tests.conftest import feedback, write_jsonl
from tests.service.test_bad_input import AT, BAD, HOSTILE
from tests.support.contract_schemas import assert_published_valid

CODES = {
    "malformed JSON": "invalid_json",
    "not an object": "not_an_object",
    "unknown type": "unknown_type",
    "unknown kind": "unknown_kind",
    "missing agentId": "missing_field",
    "missing eventId": "missing_field",
    "time without zone": "invalid_time",
    "rating without value": "missing_field",
    "rating out of range": "out_of_range",
    "attribution out of range": "out_of_range",
    "unknown trait": "unknown_name",
    "unknown action": "unknown_name",
    "non-finite number": "out_of_range",
    "boolean as number": "type_mismatch",
    "unknown archetype": "unknown_name",
    "config not an object": "type_mismatch",
    "year 1 at +14:00": "invalid_time",
    "before the accepted years": "invalid_time",
    "type as a list": "unknown_type",
    "kind as a list": "type_mismatch",
    "archetype as a list": "type_mismatch",
}


@pytest.mark.parametrize("case", sorted(CODES))
def test_each_kind_of_bad_input_has_its_code(case):
    raw = {**BAD, **HOSTILE}[case][0]
    with pytest.raises(BadMessage) as rejected:
        parse_message(raw, DEFAULT_SETTINGS)
    assert rejected.value.code == CODES[case] and rejected.value.code in DEAD_LETTER_CODES


def test_every_code_the_parser_can_raise_is_documented():
    import re
    from pathlib import Path

    source = (Path(__file__).resolve().parents[2] / "adapters/messages/inbound.py").read_text()
    named = set(re.findall(r"raise BadMessage\([^;]*?, ([A-Z_]+)\)", source, re.S))
    from adapters.messages import dead_letter_codes

    assert named and {getattr(dead_letter_codes, n) for n in named} <= set(DEAD_LETTER_CODES)
    contract = (Path(__file__).resolve().parents[2] / "docs/contract.md").read_text()
    for code in DEAD_LETTER_CODES:
        assert f"`{code}`" in contract, f"docs/contract.md does not list {code}"


def test_the_code_reaches_the_read_model_the_file_and_the_dlq_header(tmp_path, home, capsys):
    lines = [BAD["malformed JSON"][0], BAD["unknown kind"][0], json.dumps(feedback("ok", "a", AT))]
    assert main(["--home", str(home), "ingest", str(write_jsonl(tmp_path / "in.jsonl", lines))]) == 1
    written = [json.loads(line) for line in (home / "dead-letters.jsonl").read_text().splitlines()]
    assert [(w["line"], w["code"]) for w in written] == [(1, "invalid_json"), (2, "unknown_kind")]

    assert main(["--home", str(home), "relay", "run", "--once"]) == 0
    letters = [m for m in read_published(home / "published.jsonl") if m["topic"] == "agent-feedback-dlq"]
    assert [m["headers"]["rejection-code"] for m in letters] == ["invalid_json", "unknown_kind"]
    assert base64.b64decode(letters[0]["valueBase64"]) == BAD["malformed JSON"][0].encode()
    assert_published_valid(letters)

    from adapters.bootstrap import Config, bootstrap

    system = bootstrap(Config(home=home))
    try:
        system.projections.catch_up()
        docs = sorted(system.read_models.find(DEAD_LETTERS), key=lambda d: d["position"])
        assert [d["code"] for d in docs] == ["invalid_json", "unknown_kind"]
    finally:
        system.close()


def test_a_kind_removed_between_parsing_and_deciding_is_coded_unknown_kind(system):
    from tests.service.test_learning_rules import apply, regenerated_rules

    document = regenerated_rules()
    del document["feedback"]["message_copied"]
    apply(system, document)
    outcome = system.service.process(
        [RecordFeedback("m-1", "a", datetime(2026, 11, 24, 10, tzinfo=UTC), "message_copied")]
    )
    [rejection] = outcome.rejected
    assert isinstance(rejection, Rejection) and rejection.code == "unknown_kind"


def test_an_old_dead_letter_reads_as_unclassified():
    state = {"source": "s", "position": "1", "reason": "r", "raw": "", "key": None, "agent_id": None}
    DeadLetter.MessageRejected.upcast_v1_v2(state)
    assert state["code"] == "unclassified" and "unclassified" in DEAD_LETTER_CODES
