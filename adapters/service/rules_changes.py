"""Checking and applying a new version of the learning rules.

`check` says whether a document could be applied now (every problem, each naming its
key); `apply` records it as the next version inside one write, checked again on the
version in force at that moment (two operators applying at once: the second is decided
on the first's version). An archetype whose priors the new version changes hands them on
as the monthly refresh does: new agents start from them, existing agents of that
archetype blend toward them from their next recalculation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from attrs import evolve, field, frozen

from adapters.service.learning_service import LearningService
from adapters.service.rules_replay import ReplayReport, replay_window
from adapters.service.unit_of_work import Loaded
from domain.agent import RECORDED, replay
from domain.archetype_priors import ArchetypePriors, archetype_priors_id
from domain.learning_rules import RULES_ID, LearningRules
from domain.rules import InvalidRules, differences, incompatibilities, settings_from_document
from domain.settings import LearningSettings
from projections.agent_learning_state import STATE
from projections.catch_up_runner import CatchUpRunner
from projections.read_model_store import ReadModelStore


@frozen
class Applied:
    recorded: bool
    version: int
    settings: LearningSettings
    changes: list[tuple[str, Any, Any]]
    priors_handed_over: dict[str, int] = field(factory=dict)  # archetype → agents that took its new priors


def check(service: LearningService, document: Any) -> LearningSettings:
    """The settings the document would put in force as the next version; raises InvalidRules."""
    current = service.refresh_rules()
    settings = settings_from_document(document, service.rules.builtin, current.rules_version + 1)
    problems = incompatibilities(settings, current)
    if problems:
        raise InvalidRules(problems)
    return settings


def changes_against_current(service: LearningService, document: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    current = service.refresh_rules()
    return differences(service.rules.document(current.rules_version), document)


def apply(service: LearningService, document: dict, source: str, by: str, reason: str, now: datetime) -> Applied:
    """Records the document as the next version (nothing when it says what the rules in force say)."""
    if not reason.strip():
        raise ValueError("a rules change needs a reason: say why with --reason TEXT")
    check(service, document)

    def decide(loaded: Loaded) -> tuple[str, int]:
        rules = loaded.find(RULES_ID)
        if rules is None:
            rules = LearningRules.start(now)
            loaded.add(rules)
        # Decided on the stored versions: a document checked against a version another operator
        # has since replaced is checked again against the new one.
        in_force = service.rules.at(rules.current_version) if rules.current_version else service.rules.builtin
        candidate = settings_from_document(document, service.rules.builtin, rules.current_version + 1)
        problems = incompatibilities(candidate, in_force)
        if problems:
            raise InvalidRules(problems)
        result = rules.apply(document, source, by, reason, now, service.rules.builtin_hash)
        return result, rules.current_version

    before = service.refresh_rules()
    old_document = service.rules.document(before.rules_version)
    result, version = service.work.run(decide, fresh=True)
    settings = service.refresh_rules()
    return Applied(result == RECORDED, version, settings, differences(old_document, document))


def changed_priors(old: LearningSettings, new: LearningSettings) -> list[str]:
    """The archetypes whose trait priors the new rules change (new archetypes are not among them)."""
    return [
        name
        for name, archetype in new.archetypes.items()
        if name in old.archetypes and dict(old.archetypes[name].trait_priors) != dict(archetype.trait_priors)
    ]


def hand_over_priors(
    service: LearningService,
    old: LearningSettings,
    new: LearningSettings,
    agents_of: Mapping[str, Sequence[str]],
    now: datetime,
) -> dict[str, int]:
    """Records each changed archetype's priors (as a refresh from rules version N) and hands them to
    its agents; returns, per archetype, how many agents took them."""
    period = f"rules-v{new.rules_version}"
    taken = {}
    for name in changed_priors(old, new):
        priors = dict(new.archetypes[name].trait_priors)
        aggregate = replay(service.events.get(archetype_priors_id(name)))
        if aggregate is None:
            aggregate = ArchetypePriors.seed(name, old.archetypes[name].trait_priors, now)
        ids = list(agents_of.get(name, ()))
        if aggregate.refresh(priors, new.traits, agents=len(ids), period=period, occurred_at=now) == RECORDED:
            service.work.save([aggregate])
        taken[name] = service.refresh_priors(ids, name, priors, period, now)
    return taken


def agents_by_archetype(projections: CatchUpRunner, read_models: ReadModelStore) -> dict[str, list[str]]:
    projections.catch_up()
    agents_of: dict[str, list[str]] = {}
    for doc in read_models.find(STATE, order_by=("agentId",)):
        agents_of.setdefault(doc["archetype"], []).append(doc["agentId"])
    return agents_of


def apply_and_hand_over(
    service: LearningService,
    projections: CatchUpRunner,
    read_models: ReadModelStore,
    document: dict,
    source: str,
    by: str,
    reason: str,
    now: datetime,
) -> Applied:
    """`apply`, then the changed priors handed to the agents of their archetypes (as the CLI and API do)."""
    before = service.refresh_rules()
    applied = apply(service, document, source, by, reason, now)
    if not applied.recorded:
        return applied
    agents_of = agents_by_archetype(projections, read_models)
    handed = hand_over_priors(service, before, applied.settings, agents_of, now)
    projections.catch_up()
    return evolve(applied, priors_handed_over=handed)


def dry_run(
    service: LearningService,
    projections: CatchUpRunner,
    read_models: ReadModelStore,
    proposed: LearningSettings,
    now: datetime,
    days: float,
) -> ReplayReport:
    """The counterfactual replay of every agent's last `days` (`rules_replay.py`); writes nothing."""
    ids = [agent_id for ids in agents_by_archetype(projections, read_models).values() for agent_id in ids]
    return replay_window(service, proposed, sorted(ids), now, days)
