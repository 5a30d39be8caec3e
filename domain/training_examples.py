"""Training examples from recorded feedback, in the formats TRL reads, and their content id.

- SFT (`{"prompt", "completion"}`): high-quality interactions, i.e. a feedback with
  reward ≥ 0.5 that carries a prompt and a response, outside any abuse-flagged session.
- Preference (`{"prompt", "chosen", "rejected"}`): an approved and a rejected draft for the
  same `interactionId` (or, without one, the same prompt).
- KTO (`{"prompt", "completion", "label"}`): thumbs up (true) and thumbs down (false).

Nothing from an abuse-flagged session (or interaction) is used at all. Rows are ordered by
(time, event id), so the same feedback always gives the same files, and the dataset id is a
hash of the scope and the three files' canonical text.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import datetime

from attrs import frozen

HIGH_QUALITY_REWARD = 0.5
ABUSE_FLAG = "abuse_flag"
APPROVED, REJECTED = "draft_approved", "draft_rejected"
THUMBS = {"thumbs_up": True, "thumbs_down": False}
FILES = ("sft.jsonl", "preference.jsonl", "kto.jsonl")


@frozen
class FeedbackItem:
    """One recorded feedback, as the batch loop reads it from the log."""

    position: int
    agent_id: str
    event_id: str
    kind: str
    reward: float
    occurred_at: datetime
    session_id: str | None = None
    interaction_id: str | None = None
    prompt: str | None = None
    response: str | None = None

    @property
    def has_text(self) -> bool:
        return bool(self.prompt and self.prompt.strip() and self.response and self.response.strip())


@frozen
class Scope:
    """What a dataset or a training job is for: one agent, or one archetype."""

    agent_id: str | None = None
    archetype: str | None = None

    def __attrs_post_init__(self) -> None:
        if (self.agent_id is None) == (self.archetype is None):
            raise ValueError("a scope is one agent or one archetype: give exactly one")

    @property
    def key(self) -> str:
        return f"agent:{self.agent_id}" if self.agent_id is not None else f"archetype:{self.archetype}"

    def to_dict(self) -> dict:
        return {"agentId": self.agent_id} if self.agent_id is not None else {"archetype": self.archetype}


@frozen
class Flags:
    """Sessions and interactions some abuse flag names, per agent."""

    sessions: frozenset[tuple[str, str]]
    interactions: frozenset[tuple[str, str]]

    def taint(self, item: FeedbackItem) -> bool:
        return (item.session_id is not None and (item.agent_id, item.session_id) in self.sessions) or (
            item.interaction_id is not None and (item.agent_id, item.interaction_id) in self.interactions
        )


def abuse_flags(items: Iterable[FeedbackItem]) -> Flags:
    """A flag taints its whole session and its interaction; a flag naming neither taints only itself."""
    sessions, interactions = set(), set()
    for item in items:
        if item.kind == ABUSE_FLAG:
            if item.session_id is not None:
                sessions.add((item.agent_id, item.session_id))
            if item.interaction_id is not None:
                interactions.add((item.agent_id, item.interaction_id))
    return Flags(frozenset(sessions), frozenset(interactions))


def is_high_quality(item: FeedbackItem, flags: Flags) -> bool:
    return item.reward >= HIGH_QUALITY_REWARD and item.has_text and not flags.taint(item)


def _ordered(items: Iterable[FeedbackItem]) -> list[FeedbackItem]:
    return sorted(items, key=lambda i: (i.occurred_at, i.agent_id, i.event_id))


@frozen
class Examples:
    sft: tuple[dict, ...]
    preference: tuple[dict, ...]
    kto: tuple[dict, ...]
    used: tuple[FeedbackItem, ...]  # the feedback the rows came from (for the manifest)

    @property
    def counts(self) -> dict[str, int]:
        return {"sft": len(self.sft), "preference": len(self.preference), "kto": len(self.kto)}

    @property
    def empty(self) -> bool:
        return not (self.sft or self.preference or self.kto)

    def files(self) -> dict[str, str]:
        """The three JSONL files' text, canonical (sorted keys, no spaces, UTF-8 as is)."""
        return {
            name: "".join(canonical_json(row) + "\n" for row in rows)
            for name, rows in zip(FILES, (self.sft, self.preference, self.kto))
        }


def canonical_json(value: object) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def build_examples(items: Sequence[FeedbackItem], flags: Flags) -> Examples:
    """The three example sets from `items` (already limited to the scope and the time window)."""
    clean = _ordered(i for i in items if not flags.taint(i) and i.kind != ABUSE_FLAG)
    used: dict[tuple[str, str], FeedbackItem] = {}

    sft = []
    for item in clean:
        if is_high_quality(item, flags):
            sft.append({"prompt": item.prompt, "completion": item.response})
            used[(item.agent_id, item.event_id)] = item

    kto = []
    for item in clean:
        if item.kind in THUMBS and item.has_text:
            kto.append({"prompt": item.prompt, "completion": item.response, "label": THUMBS[item.kind]})
            used[(item.agent_id, item.event_id)] = item

    preference = []
    groups: dict[tuple[str, str, str | None], dict[str, list[FeedbackItem]]] = {}
    for item in clean:
        if item.kind in (APPROVED, REJECTED) and item.has_text:
            by = ("interaction", item.interaction_id) if item.interaction_id else ("prompt", item.prompt)
            groups.setdefault((item.agent_id, *by), {APPROVED: [], REJECTED: []})[item.kind].append(item)
    seen: set[tuple[str | None, str | None, str | None]] = set()
    for group in groups.values():
        for approved in group[APPROVED]:
            for rejected in group[REJECTED]:
                row = (approved.prompt, approved.response, rejected.response)
                if approved.response == rejected.response or row in seen:
                    continue
                seen.add(row)
                preference.append({"prompt": row[0], "chosen": row[1], "rejected": row[2]})
                used[(approved.agent_id, approved.event_id)] = approved
                used[(rejected.agent_id, rejected.event_id)] = rejected
    preference.sort(key=canonical_json)  # groups come in dict order: sort for a stable file
    return Examples(tuple(sft), tuple(preference), tuple(kto), tuple(_ordered(used.values())))


def dataset_id(scope: Scope, examples: Examples) -> str:
    """`ds-` and 16 hex digits of the SHA-256 of the scope and the three files, so the same data
    for the same scope always gives the same id (and two scopes never share one)."""
    digest = hashlib.sha256()
    digest.update(canonical_json(scope.to_dict()).encode())
    for name, text in examples.files().items():
        digest.update(b"\n--" + name.encode() + b"--\n")
        digest.update(text.encode())
    return "ds-" + digest.hexdigest()[:16]
