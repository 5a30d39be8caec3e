"""Property-based fuzzing of the path every entry point shares: parse → process → project.

`ingest`, the Kafka consumer and `POST /api/feedback` all hand raw bytes to `parse_message` and the
commands to `LearningService.process`. Arbitrary bytes and structurally mutated valid messages go
through it; whatever they hold, no exception escapes, each bad one is one dead letter with a reason,
each good one is recorded once (a second pass records nothing), and the read models catch up.
The number of examples is bounded for CI (FUZZ_EXAMPLES).
"""

from __future__ import annotations

import itertools
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.files.jsonl_ingest import ingest_lines
from projections.catch_up_runner import FAILED
from projections.dead_letters import DEAD_LETTERS

FUZZ_EXAMPLES = 150
AT = "2026-11-24T10:00:00Z"
_example = itertools.count()

VALID = [
    {"type": "agent_registered", "agentId": "a", "archetype": "mentor", "ownerId": "o-1"},
    {"type": "feedback", "agentId": "a", "kind": "thumbs_up", "traits": {"empathy": 1}, "action": "answer"},
    {"type": "feedback", "agentId": "b", "kind": "rating", "value": 4, "userId": "u-1", "prompt": "p", "response": "r"},
    {"type": "feedback", "agentId": "b", "kind": "abuse_flag", "sessionId": "s-1"},
    {"type": "session_ended", "agentId": "a", "sessionId": "s-1"},
    {"type": "activity", "agentId": "c", "activity": "conversation"},
    {
        "type": "learning_configured",
        "agentId": "a",
        "learningConfig": {"profile": "fast", "traitRates": {"humor": 0.1}},
    },
]
FIELDS = [
    "type",
    "eventId",
    "agentId",
    "occurredAt",
    "kind",
    "value",
    "traits",
    "action",
    "archetype",
    "ownerId",
    "learningConfig",
    "sessionId",
    "userId",
    "prompt",
    "activity",
]

# Values no producer should send, and the ones that broke the service before.
NASTY = st.sampled_from(
    [
        None,
        True,
        0,
        -1,
        10**400,
        -(10**400),
        1e308,
        2**63,
        "",
        " ",
        "\ud800",
        "a\x00b",
        "x" * 5000,
        [],
        {},
        [[[]]],
        {"profile": ["fast"]},
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:00:00-14:00",
        "2026-11-24T10:00:00",
        "1999-01-01T00:00:00Z",
        "a/b",
        "thumbs_up",
        "rating",
        {"empathy": 10**400},
        {"empathy": "1"},
    ]
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)


@st.composite
def mutated(draw) -> bytes:
    message = {**draw(st.sampled_from(VALID)), "eventId": "e", "occurredAt": AT}
    for _ in range(draw(st.integers(0, 3))):
        field = draw(st.sampled_from(FIELDS))
        action = draw(st.sampled_from(["set", "nasty", "delete", "nest"]))
        if action == "delete":
            message.pop(field, None)
        elif action == "set":
            message[field] = draw(JSON_VALUES)
        elif action == "nasty":
            message[field] = draw(NASTY)
        else:
            message[field] = [message.get(field)] if draw(st.booleans()) else {"x": message.get(field)}
    text = json.dumps(message)
    if draw(st.booleans()):  # byte-level damage: cut, splice, or deep nesting
        cut = draw(st.integers(0, len(text)))
        text = draw(st.sampled_from([text[:cut], text[:cut] + "\x7f" + text[cut:], "[" * 3000 + text + "]" * 3000]))
    return text.encode("utf-8", "surrogatepass")


LINES = st.lists(
    st.one_of(mutated(), mutated(), st.binary(min_size=1, max_size=200)).filter(
        lambda raw: raw.rstrip(b"\r\n").strip()  # ingest skips blank lines
    ),
    min_size=1,
    max_size=12,
)


def _unique(raw: bytes, example: int, index: int) -> bytes:
    """Event ids unique to this line, so that "recorded once" can be checked across examples."""
    try:
        message = json.loads(raw)
    except (ValueError, RecursionError):
        return raw
    if isinstance(message, dict) and message.get("eventId") == "e":
        message["eventId"] = f"x{example}-{index}"
        return json.dumps(message).encode("utf-8", "surrogatepass")
    return raw


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=LINES)
def test_whatever_the_lines_hold_no_exception_escapes_and_nothing_good_is_lost(system, lines):
    example = next(_example)
    lines = [_unique(raw, example, i) for i, raw in enumerate(lines)]
    letters_before = len(system.read_models.find(DEAD_LETTERS))

    first = ingest_lines(system.service, lines, "fuzz").outcome

    assert first.recorded + first.duplicates + len(first.rejected) == len(lines)
    assert all(r.reason.strip() for r in first.rejected)
    assert all(len(r.reason) < 2000 for r in first.rejected)
    again = ingest_lines(system.service, lines, "fuzz").outcome
    assert again.recorded == 0  # each good line was recorded once, the first time
    assert len(again.rejected) == len(first.rejected)

    system.projections.catch_up()
    assert [s.error for s in system.projections.status() if s.state == FAILED] == []
    assert len(system.read_models.find(DEAD_LETTERS)) == letters_before + 2 * len(first.rejected)
