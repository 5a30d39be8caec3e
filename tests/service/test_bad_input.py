"""Bad input is dead-lettered with its line and reason; the good lines around it are processed."""

from __future__ import annotations

import json

import pytest

from adapters.cli.main import main
from projections.dead_letters import DEAD_LETTERS
from tests.conftest import feedback, write_jsonl

AT = "2026-11-24T10:00:00Z"

BAD = {
    "malformed JSON": ('{"type": "feedback", "eventId": ', "not valid JSON"),
    "not an object": ("[1, 2]", "must be a JSON object"),
    "unknown type": (
        json.dumps({"type": "telepathy", "eventId": "b1", "agentId": "a", "occurredAt": AT}),
        "unknown message type 'telepathy'",
    ),
    "unknown kind": (json.dumps(feedback("b2", "a", AT, kind="thumbs_sideways")), "unknown feedback kind"),
    "missing agentId": (
        json.dumps({"type": "feedback", "eventId": "b3", "occurredAt": AT, "kind": "thumbs_up"}),
        "missing required field 'agentId'",
    ),
    "missing eventId": (
        json.dumps({"type": "feedback", "agentId": "a", "occurredAt": AT, "kind": "thumbs_up"}),
        "missing required field 'eventId'",
    ),
    "time without zone": (json.dumps(feedback("b4", "a", "2026-11-24T10:00:00")), "with a zone"),
    "rating without value": (json.dumps(feedback("b5", "a", AT, kind="rating")), "a rating needs a 'value'"),
    "rating out of range": (json.dumps(feedback("b6", "a", AT, kind="rating", value=6)), "out of range"),
    "attribution out of range": (json.dumps(feedback("b7", "a", AT, traits={"empathy": 1.5})), "out of range"),
    "unknown trait": (json.dumps(feedback("b8", "a", AT, traits={"charisma": 1})), "unknown trait 'charisma'"),
    "unknown action": (json.dumps(feedback("b9", "a", AT, action="dance")), "unknown action 'dance'"),
    "non-finite number": (
        '{"type":"feedback","eventId":"b10","agentId":"a","occurredAt":"' + AT + '","kind":"rating","value":NaN}',
        "not a number JSON allows",
    ),
    "boolean as number": (json.dumps(feedback("b11", "a", AT, kind="rating", value=True)), "must be a number"),
    "unknown archetype": (
        json.dumps(
            {"type": "agent_registered", "eventId": "b12", "agentId": "a", "occurredAt": AT, "archetype": "wizard"}
        ),
        "unknown archetype",
    ),
    "config not an object": (
        json.dumps(
            {"type": "learning_configured", "eventId": "b13", "agentId": "a", "occurredAt": AT, "learningConfig": 3}
        ),
        "must be an object",
    ),
}


def _line(**fields) -> str:
    return json.dumps(
        {"type": "feedback", "eventId": "h1", "agentId": "a", "occurredAt": AT, "kind": "thumbs_up", **fields}
    )


HUGE = "9" * 400  # a 400-digit integer: float() of it overflows
HOSTILE = {
    "year 1 at +14:00": (_line(occurredAt="0001-01-01T00:00:00+14:00"), "outside the calendar"),
    "year 9999 at -14:00": (_line(occurredAt="9999-12-31T23:00:00-14:00"), "outside the calendar"),
    "before the accepted years": (_line(occurredAt="1999-12-31T23:59:59Z"), "outside the accepted years 2000–2100"),
    "after the accepted years": (_line(occurredAt="2101-01-01T00:00:00Z"), "outside the accepted years 2000–2100"),
    "type as a list": (_line(type=["feedback"]), "unknown message type ['feedback']"),
    "type as an object": (_line(type={"a": 1}), "unknown message type {'a': 1}"),
    "kind as a list": (_line(kind=["thumbs_up"]), "field 'kind' must be a string"),
    "action as an object": (_line(action={"x": 1}), "field 'action' must be a string"),
    "archetype as a list": (
        json.dumps(
            {"type": "agent_registered", "eventId": "h1", "agentId": "a", "occurredAt": AT, "archetype": ["mentor"]}
        ),
        "field 'archetype' must be a string",
    ),
    "profile as an object": (
        json.dumps(
            {
                "type": "learning_configured",
                "eventId": "h1",
                "agentId": "a",
                "occurredAt": AT,
                "learningConfig": {"profile": {"fast": 1}},
            }
        ),
        "learningConfig.profile {'fast': 1} is unknown",
    ),
    "400-digit value": (
        _line(kind="rating").replace('"kind": "rating"', f'"kind": "rating", "value": {HUGE}'),
        "400-digit number",
    ),
    "400-digit attribution": (
        _line().replace('"kind"', f'"traits": {{"empathy": {HUGE}}}, "kind"'),
        "400-digit number",
    ),
    "400-digit rate": (
        json.dumps(
            {
                "type": "learning_configured",
                "eventId": "h1",
                "agentId": "a",
                "occurredAt": AT,
                "learningConfig": {"traitRate": 1},
            }
        ).replace('"traitRate": 1', f'"traitRate": {HUGE}'),
        "400-digit number",
    ),
    "nesting 5,000 deep": (
        _line().replace('"kind"', '"extra": ' + "[" * 5000 + "]" * 5000 + ', "kind"'),
        "nested too deeply",
    ),
    "objects nested 100 deep": (
        _line().replace('"kind"', '"extra": ' + '{"a":' * 100 + "1" + "}" * 100 + ', "kind"'),
        "nested too deeply",
    ),
    "lone surrogate in an id": (_line(eventId="h\ud800"), "not valid Unicode"),
    "lone surrogate in a text": (_line(prompt="hi \ud800"), "not valid Unicode"),
    "traits as an empty list": (_line(traits=[]), "field 'traits' must be an object"),
    "traits as a string": (_line(traits="empathy"), "field 'traits' must be an object"),
    "an agent id with a slash": (_line(agentId="a/b"), "contains '/'"),
    "an agent id with a newline": (_line(agentId="a\nb"), "control characters"),
    "an id of 10,000 characters": (_line(userId="u" * 10_000), "an id has at most 256"),
    "a policy version never published": (
        _line(action="answer", policyVersion=3),
        "policyVersion 3 was never published for agent 'a': its policies are versions 0 to 0",
    ),
    "a negative policy version": (_line(policyVersion=-1), "field 'policyVersion' = -1 is out of range"),
    "a fractional policy version": (_line(policyVersion=1.5), "field 'policyVersion' must be a whole number"),
    "a policy version as a string": (_line(policyVersion="1"), "field 'policyVersion' must be a number"),
    "a 400-digit policy version": (
        _line(action="answer").replace('"kind"', f'"policyVersion": {HUGE}, "kind"'),
        "400-digit number",
    ),
    "an action probability of 0": (_line(action="answer", actionProbability=0), "out of range (0, 1]"),
    "an action probability above 1": (_line(action="answer", actionProbability=1.2), "out of range (0, 1]"),
    "an action probability without an action": (_line(actionProbability=0.5), "needs the 'action'"),
}
# json.dumps escapes the backslash of the \ud800 and \n written above; undo that, so the line carries the escape.
HOSTILE = {name: (line.replace("\\\\", "\\"), reason) for name, (line, reason) in HOSTILE.items()}
BAD.update(HOSTILE)


@pytest.mark.parametrize("case", sorted(BAD))
def test_each_kind_of_bad_line_is_rejected_with_its_reason(case, tmp_path, home, capsys):
    line, reason = BAD[case]
    good_before = feedback("g1", "a", AT)
    good_after = feedback("g2", "a", "2026-11-24T10:01:00Z")
    stream = write_jsonl(tmp_path / "in.jsonl", [good_before, line, good_after])

    assert main(["--home", str(home), "ingest", str(stream)]) == 1

    dead = [json.loads(x) for x in (home / "dead-letters.jsonl").read_text().splitlines()]
    assert len(dead) == 1
    assert dead[0]["line"] == 2
    assert reason in dead[0]["reason"]
    assert dead[0]["raw"] == line
    capsys.readouterr()
    main(["--home", str(home), "agent", "show", "a", "--json"])
    assert json.loads(capsys.readouterr().out)["feedbackCount"] == 2  # both good lines recorded


def test_dead_letters_read_model_keeps_the_original_bytes_and_reason(tmp_path, system):
    import base64

    from adapters.files.jsonl_ingest import ingest_lines

    raw = b'{"type": "feedback", "oops"'
    ingest_lines(system.service, [raw], "test")
    system.projections.catch_up()
    [letter] = system.read_models.find(DEAD_LETTERS)
    assert base64.b64decode(letter["raw"]) == raw
    assert letter["position"] == "line 1"
    assert "not valid JSON" in letter["reason"]


def test_an_all_good_file_exits_zero(tmp_path, home):
    stream = write_jsonl(tmp_path / "in.jsonl", [feedback("g1", "a", AT)])
    assert main(["--home", str(home), "ingest", str(stream)]) == 0
    assert not (home / "dead-letters.jsonl").exists()


def test_duplicates_are_skipped_and_counted_not_rejected(tmp_path, home, capsys):
    stream = write_jsonl(tmp_path / "in.jsonl", [feedback("g1", "a", AT), feedback("g1", "a", AT)])
    assert main(["--home", str(home), "ingest", str(stream)]) == 0
    assert "1 recorded, 1 duplicates skipped, 0 rejected" in capsys.readouterr().out
    assert main(["--home", str(home), "ingest", str(stream)]) == 0
    assert "0 recorded, 2 duplicates skipped" in capsys.readouterr().out


def test_a_missing_file_is_a_usage_error(home, capsys):
    assert main(["--home", str(home), "ingest", "/no/such/file.jsonl"]) == 2
    assert "no such file" in capsys.readouterr().err
