"""Which fine-tuned model an agent is served, and which adapter its next fine-tune starts from.

Served: the agent's own `champion`; an agent without one is served its archetype's
`champion`; with neither, the bare base model. Warm start: an agent's first fine-tune (its
registry holds no version yet) starts from its archetype's `champion` adapter when there is
one, so a new agent begins where its archetype stands; later fine-tunes, archetype
fine-tunes and agents of archetypes without a champion start from the base model. A warm
start keeps the parent adapter's LoRA rank, so a job asking for another rank starts cold
(and its `Started` event says why).
"""

from __future__ import annotations

from collections.abc import Mapping

from attrs import frozen

from domain.model_registry import CHAMPION

OWN, ARCHETYPE, BASE = "own-champion", "archetype-champion", "base-model"


@frozen
class ServedModel:
    model_id: str | None  # None: the base model
    source: str  # OWN | ARCHETYPE | BASE
    why: str

    def as_dict(self) -> dict:
        return {"modelId": self.model_id, "source": self.source, "why": self.why}


def served_model(agent_id: str, archetype: str | None, own_aliases: Mapping, archetype_aliases: Mapping) -> ServedModel:
    """`own_aliases` / `archetype_aliases`: where the agent's and its archetype's aliases point."""
    if CHAMPION in own_aliases:
        return ServedModel(own_aliases[CHAMPION], OWN, f"agent {agent_id}'s own champion")
    if archetype is not None and CHAMPION in archetype_aliases:
        return ServedModel(
            archetype_aliases[CHAMPION],
            ARCHETYPE,
            f"agent {agent_id} has no champion of its own yet, so it is served archetype {archetype}'s champion",
        )
    return ServedModel(
        None,
        BASE,
        f"neither agent {agent_id} nor its archetype {archetype or '(none)'} has a champion: the base model",
    )


@frozen
class WarmStart:
    parent_model_id: str | None  # None: start from the base model
    parent_adapter_dir: str | None
    note: str


def warm_start(
    agent_id: str | None,
    archetype: str | None,
    own_versions: int,
    archetype_champion: Mapping | None,
    lora_rank: int,
    parent_rank: int | None,
) -> WarmStart:
    """Where a fine-tune of `agent_id` (None: an archetype job) starts.

    `own_versions`: how many versions the agent's registry holds; `archetype_champion`: the
    archetype champion's `{"model_id", "adapter_dir"}` (None if there is none); `parent_rank`:
    that adapter's LoRA rank, when known."""
    if agent_id is None:
        return WarmStart(None, None, "archetype fine-tunes start from the base model")
    if own_versions > 0:
        return WarmStart(None, None, f"agent {agent_id} has {own_versions} model(s) of its own: base model")
    if archetype_champion is None:
        return WarmStart(None, None, f"archetype {archetype or '(none)'} has no champion: base model")
    parent = archetype_champion["model_id"]
    if parent_rank is not None and parent_rank != lora_rank:
        return WarmStart(
            None,
            None,
            f"a warm start from {parent} keeps its LoRA rank {parent_rank}, the job asks for {lora_rank}: base model",
        )
    return WarmStart(
        parent,
        archetype_champion["adapter_dir"],
        f"first fine-tune of agent {agent_id}: starts from archetype {archetype}'s champion {parent}",
    )
