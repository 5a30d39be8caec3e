"""The learning rules as a document an operator edits: read, checked against hard caps, turned into settings.

A rules document is a plain mapping (the TOML file, parsed; `docs/rules.md` describes
every key). `settings_from_document` checks all of it and either returns the settings
it describes or raises `InvalidRules` with every problem, each naming the key, the
value and the bound. `document_from_settings` is the inverse: the document of the
built-in defaults is `document_from_settings(DEFAULT_SETTINGS)`.

Hard caps (`CAPS`) bound every number; no document can go past them. The trait-rate
bounds [0.02, 0.12] are among them and are not themselves in the document.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import timedelta
from types import MappingProxyType
from typing import Any

from attrs import frozen

from domain.catalogue import DEFAULT_ARCHETYPE, Archetype, TraitBounds
from domain.learning_options import CHOICES as OPTION_CHOICES
from domain.learning_options import DOCUMENT_KEYS as OPTION_KEYS
from domain.learning_options import LearningOptions
from domain.rewards import RewardRule, RewardTable
from domain.settings import LearningSettings

SCHEMA_VERSION = 1
NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
NAME_RULE = "a lowercase name: a letter, then letters, digits or _ (at most 64)"


@frozen
class Cap:
    minimum: float
    maximum: float
    integer: bool = False
    exclusive_minimum: bool = False

    def describe(self) -> str:
        opening = "(" if self.exclusive_minimum else "["
        kind = "a whole number" if self.integer else "a number"
        return f"{kind} in {opening}{_fmt(self.minimum)}, {_fmt(self.maximum)}]"

    def admits(self, value: float) -> bool:
        above = value > self.minimum if self.exclusive_minimum else value >= self.minimum
        return above and value <= self.maximum


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() and abs(number) < 1e15 else repr(number)


# Every number of the document, by its dotted key ("*" stands for any name), with its hard cap.
CAPS: Mapping[str, Cap] = MappingProxyType(
    {
        "rates.trait_rate": Cap(0.02, 0.12),
        "rates.traits.*": Cap(0.02, 0.12),
        "rates.action_rate": Cap(0.01, 0.10),
        "rates.epsilon": Cap(0.005, 0.10),
        "triggers.batch_size": Cap(1, 1000, integer=True),
        "triggers.timer_interval_minutes": Cap(1, 1440),
        "triggers.idle_limit_minutes": Cap(1, 10080),
        "freeze.threshold": Cap(-1.0, 0.0),
        "freeze.after_days": Cap(1, 365),
        "freeze.sentiment_alpha": Cap(0.0, 1.0, exclusive_minimum=True),
        "cold_start.full_confidence_feedback": Cap(1, 100_000, integer=True),
        "decay.rate": Cap(0.0, 1.0),
        "decay.below_feedback": Cap(0, 100_000, integer=True),
        "decay.after_gap_days": Cap(1, 3650),
        "exploration.decay": Cap(0.0, 1.0, exclusive_minimum=True),
        "exploration.floor": Cap(0.005, 0.10),
        "feedback.*.reward": Cap(-1.0, 1.0),
        "traits.*.min": Cap(0.0, 1.0),
        "traits.*.max": Cap(0.0, 1.0),
        "archetypes.*.traits.*": Cap(0.0, 1.0),
        "archetypes.*.actions.*": Cap(0.0, 1.0),
        "archetypes.*.rewards.*": Cap(-1.0, 1.0),
        "archetypes.*.trait_rates.*": Cap(0.02, 0.12),
        "options.temperature": Cap(0.01, 1.0),
    }
)
MAX_NAMES = 200  # kinds, traits, actions or archetypes in one document


@frozen
class RulesProblem:
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


class InvalidRules(ValueError):
    def __init__(self, problems: list[RulesProblem]):
        self.problems = problems
        shown = "; ".join(str(p) for p in problems[:10])
        more = f"; and {len(problems) - 10} more" if len(problems) > 10 else ""
        super().__init__(f"the rules document has {len(problems)} problem(s): {shown}{more}")


def document_from_settings(settings: LearningSettings) -> dict[str, Any]:
    """The rules document that describes these settings (the defaults' document, for one)."""
    archetypes: dict[str, Any] = {}
    for name, archetype in settings.archetypes.items():
        entry: dict[str, Any] = {"traits": dict(archetype.trait_priors), "actions": dict(archetype.action_priors)}
        if name in settings.archetype_rewards:
            table = settings.archetype_rewards[name]
            entry["rewards"] = {
                k: r.reward for k, r in table.rules.items() if r.reward != settings.rewards.rules[k].reward
            }
        if settings.archetype_trait_rates.get(name):
            entry["trait_rates"] = dict(settings.archetype_trait_rates[name])
        archetypes[name] = entry
    document: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "actions": list(settings.actions),
        "rates": {
            "trait_rate": settings.trait_rate,
            "action_rate": settings.action_rate,
            "epsilon": settings.epsilon,
            "traits": dict(settings.trait_rates),
        },
        "triggers": {
            "batch_size": settings.batch_size,
            "timer_interval_minutes": _minutes(settings.timer_interval),
            "idle_limit_minutes": _minutes(settings.idle_limit),
        },
        "freeze": {
            "threshold": settings.freeze_threshold,
            "after_days": _days(settings.freeze_after),
            "sentiment_alpha": settings.sentiment_alpha,
        },
        "cold_start": {"full_confidence_feedback": settings.full_confidence_feedback},
        "decay": {
            "rate": settings.decay_rate,
            "below_feedback": settings.decay_below_feedback,
            "after_gap_days": _days(settings.decay_after_gap),
        },
        "exploration": {"decay": settings.epsilon_decay, "floor": settings.epsilon_floor},
        "feedback": {
            kind: {"reward": rule.reward, "strong_signal": rule.strong_signal, "rating": rule.rating}
            for kind, rule in settings.rewards.rules.items()
        },
        "traits": {name: {"min": b.minimum, "max": b.maximum} for name, b in settings.traits.items()},
        "archetypes": archetypes,
    }
    if not settings.options.is_default:  # absent when every option is at its default: version 0 stays as it was
        options = settings.options.to_dict()
        document["options"] = {key: options[name] for name, key in OPTION_KEYS.items()}
        document["options"]["temperature"] = settings.options.temperature
    return document


def _minutes(duration: timedelta) -> float:
    minutes = duration.total_seconds() / 60
    return int(minutes) if minutes.is_integer() else minutes


def _days(duration: timedelta) -> float:
    days = duration.total_seconds() / 86400
    return int(days) if days.is_integer() else days


class _Reader:
    """Walks the document, collecting every problem rather than stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[RulesProblem] = []

    def problem(self, key: str, message: str) -> None:
        self.problems.append(RulesProblem(key, message))

    def table(self, parent: Mapping[str, Any], name: str, key: str, required: bool = True) -> Mapping[str, Any]:
        value = parent.get(name)
        if value is None:
            if required:
                self.problem(key, "missing: this table is required")
            return {}
        if not isinstance(value, Mapping):
            self.problem(key, f"must be a table, got {_shown(value)}")
            return {}
        return value

    def number(self, parent: Mapping[str, Any], name: str, key: str, cap_key: str | None = None) -> float | None:
        if name not in parent:
            self.problem(key, "missing: this key is required")
            return None
        return self.value(parent[name], key, cap_key or key)

    def value(self, value: Any, key: str, cap_key: str) -> float | None:
        cap = CAPS[cap_key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            self.problem(key, f"must be {cap.describe()}, got {_shown(value)}")
            return None
        if cap.integer and not float(value).is_integer():
            self.problem(key, f"must be {cap.describe()}, got {_shown(value)}")
            return None
        if not cap.admits(value):
            self.problem(key, f"{_shown(value)} is outside the hard cap: must be {cap.describe()}")
            return None
        return int(value) if cap.integer else float(value)

    def flag(self, parent: Mapping[str, Any], name: str, key: str) -> bool:
        value = parent.get(name, False)
        if not isinstance(value, bool):
            self.problem(key, f"must be true or false, got {_shown(value)}")
            return False
        return value

    def names(self, table: Mapping[str, Any], key: str) -> list[str]:
        if len(table) > MAX_NAMES:
            self.problem(key, f"names {len(table)} entries; at most {MAX_NAMES}")
            return []
        good = []
        for name in table:
            if not isinstance(name, str) or not NAME.match(name):
                self.problem(f"{key}.{_shown(name)}", f"is not a valid name: use {NAME_RULE}")
            else:
                good.append(name)
        return good

    def unknown_keys(self, table: Mapping[str, Any], key: str, known: tuple[str, ...]) -> None:
        for name in table:
            if name not in known:
                self.problem(f"{key}.{name}" if key else str(name), f"unknown key; expected one of: {', '.join(known)}")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


TOP_LEVEL = (
    "schema",
    "actions",
    "rates",
    "triggers",
    "freeze",
    "cold_start",
    "decay",
    "exploration",
    "feedback",
    "traits",
    "archetypes",
    "options",
)


def settings_from_document(document: Any, base: LearningSettings, version: int) -> LearningSettings:
    """The settings a rules document describes, as `version`; `base` gives what is not in the document
    (the accepted years of `occurredAt`). Raises InvalidRules naming every problem."""
    read = _Reader()
    if not isinstance(document, Mapping):
        raise InvalidRules([RulesProblem("(document)", f"must be a table of keys, got {_shown(document)}")])
    read.unknown_keys(document, "", TOP_LEVEL)
    schema = document.get("schema")
    if schema != SCHEMA_VERSION:
        read.problem(
            "schema",
            f"must be {SCHEMA_VERSION} (this release reads rules schema {SCHEMA_VERSION}), got {_shown(schema)}",
        )

    traits = _traits(read, read.table(document, "traits", "traits"))
    actions = _actions(read, document.get("actions"))
    kinds = _feedback(read, read.table(document, "feedback", "feedback"))
    rates = read.table(document, "rates", "rates")
    read.unknown_keys(rates, "rates", ("trait_rate", "action_rate", "epsilon", "traits"))
    global_trait_rates = {}
    per_trait = read.table(rates, "traits", "rates.traits", required=False)
    for trait in read.names(per_trait, "rates.traits"):
        if trait not in traits:
            read.problem(f"rates.traits.{trait}", f"names no trait of [traits]; known: {', '.join(traits)}")
            continue
        value = read.value(per_trait[trait], f"rates.traits.{trait}", "rates.traits.*")
        if value is not None:
            global_trait_rates[trait] = value
    triggers = read.table(document, "triggers", "triggers")
    read.unknown_keys(triggers, "triggers", ("batch_size", "timer_interval_minutes", "idle_limit_minutes"))
    freeze = read.table(document, "freeze", "freeze")
    read.unknown_keys(freeze, "freeze", ("threshold", "after_days", "sentiment_alpha"))
    cold_start = read.table(document, "cold_start", "cold_start")
    read.unknown_keys(cold_start, "cold_start", ("full_confidence_feedback",))
    decay = read.table(document, "decay", "decay")
    read.unknown_keys(decay, "decay", ("rate", "below_feedback", "after_gap_days"))
    exploration = read.table(document, "exploration", "exploration")
    read.unknown_keys(exploration, "exploration", ("decay", "floor"))

    values = {
        "trait_rate": read.number(rates, "trait_rate", "rates.trait_rate"),
        "action_rate": read.number(rates, "action_rate", "rates.action_rate"),
        "epsilon": read.number(rates, "epsilon", "rates.epsilon"),
        "batch_size": read.number(triggers, "batch_size", "triggers.batch_size"),
        "timer": read.number(triggers, "timer_interval_minutes", "triggers.timer_interval_minutes"),
        "idle": read.number(triggers, "idle_limit_minutes", "triggers.idle_limit_minutes"),
        "freeze_threshold": read.number(freeze, "threshold", "freeze.threshold"),
        "freeze_days": read.number(freeze, "after_days", "freeze.after_days"),
        "sentiment_alpha": read.number(freeze, "sentiment_alpha", "freeze.sentiment_alpha"),
        "full_confidence": read.number(cold_start, "full_confidence_feedback", "cold_start.full_confidence_feedback"),
        "decay_rate": read.number(decay, "rate", "decay.rate"),
        "decay_below": read.number(decay, "below_feedback", "decay.below_feedback"),
        "decay_gap": read.number(decay, "after_gap_days", "decay.after_gap_days"),
        "epsilon_decay": read.number(exploration, "decay", "exploration.decay"),
        "epsilon_floor": read.number(exploration, "floor", "exploration.floor"),
    }
    if values["timer"] is not None and values["idle"] is not None and values["idle"] < values["timer"]:
        read.problem(
            "triggers.idle_limit_minutes",
            f"{_fmt(values['idle'])} is shorter than triggers.timer_interval_minutes ({_fmt(values['timer'])}): "
            "an agent would be idle before its timer could fire",
        )
    if (
        values["epsilon_floor"] is not None
        and values["epsilon"] is not None
        and values["epsilon_floor"] > values["epsilon"]
    ):
        read.problem(
            "exploration.floor",
            f"{_fmt(values['epsilon_floor'])} is above rates.epsilon ({_fmt(values['epsilon'])}): ε starts at "
            "rates.epsilon and only ever falls toward the floor",
        )
    options = _options(read, read.table(document, "options", "options", required=False))
    archetypes, archetype_rewards, archetype_rates = _archetypes(
        read, read.table(document, "archetypes", "archetypes"), traits, actions, kinds
    )
    if read.problems:
        raise InvalidRules(read.problems)

    def got(name: str) -> float:
        value = values[name]
        assert value is not None  # every missing or bad value was a problem, raised above
        return value

    source = "the built-in rules" if version == 0 else f"rules version {version}"
    rewards = RewardTable(MappingProxyType(kinds), source)
    return LearningSettings(
        rules_version=version,
        traits=MappingProxyType(traits),
        actions=tuple(actions),
        archetypes=MappingProxyType(archetypes),
        rewards=rewards,
        archetype_rewards=MappingProxyType(
            {name: rewards.with_rewards(overrides, source) for name, overrides in archetype_rewards.items()}
        ),
        archetype_trait_rates=MappingProxyType({k: MappingProxyType(v) for k, v in archetype_rates.items()}),
        trait_rate=got("trait_rate"),
        trait_rates=MappingProxyType(global_trait_rates),
        trait_rate_bounds=base.trait_rate_bounds,
        action_rate=got("action_rate"),
        action_rate_bounds=base.action_rate_bounds,
        epsilon=got("epsilon"),
        epsilon_bounds=base.epsilon_bounds,
        accepted_years=base.accepted_years,
        sentiment_alpha=got("sentiment_alpha"),
        freeze_threshold=got("freeze_threshold"),
        freeze_after=timedelta(days=got("freeze_days")),
        batch_size=int(got("batch_size")),
        timer_interval=timedelta(minutes=got("timer")),
        idle_limit=timedelta(minutes=got("idle")),
        decay_rate=got("decay_rate"),
        decay_below_feedback=int(got("decay_below")),
        decay_after_gap=timedelta(days=got("decay_gap")),
        epsilon_decay=got("epsilon_decay"),
        epsilon_floor=got("epsilon_floor"),
        full_confidence_feedback=int(got("full_confidence")),
        options=options,
    )


def _options(read: _Reader, table: Mapping[str, Any]) -> LearningOptions:
    """The optional `[options]` table: each key one of its choices (docs/learning-options.md)."""
    by_key = {key: name for name, key in OPTION_KEYS.items()}
    read.unknown_keys(table, "options", (*by_key, "temperature"))
    chosen: dict[str, Any] = {}
    if "temperature" in table:
        chosen["temperature"] = read.value(table["temperature"], "options.temperature", "options.temperature")
    for key, value in table.items():
        name = by_key.get(key)
        if name is None:
            continue
        choices = OPTION_CHOICES[name]
        if not isinstance(value, str) or value not in choices:
            read.problem(f"options.{key}", f"must be one of: {', '.join(choices)}; got {_shown(value)}")
        else:
            chosen[name] = value
    return LearningOptions.from_dict(chosen)


def _traits(read: _Reader, table: Mapping[str, Any]) -> dict[str, TraitBounds]:
    traits = {}
    for name in read.names(table, "traits"):
        entry = read.table(table, name, f"traits.{name}")
        read.unknown_keys(entry, f"traits.{name}", ("min", "max"))
        low = read.number(entry, "min", f"traits.{name}.min", "traits.*.min")
        high = read.number(entry, "max", f"traits.{name}.max", "traits.*.max")
        if low is not None and high is not None:
            if low >= high:
                read.problem(f"traits.{name}", f"min ({_fmt(low)}) must be below max ({_fmt(high)})")
            traits[name] = TraitBounds(low, high)
    if not table:
        read.problem("traits", "names no trait: at least one is needed")
    return traits


def _actions(read: _Reader, value: Any) -> list[str]:
    if value is None:
        read.problem("actions", "missing: a list of action names is required")
        return []
    if not isinstance(value, list) or not value:
        read.problem("actions", f"must be a non-empty list of action names, got {_shown(value)}")
        return []
    if len(value) > MAX_NAMES:
        read.problem("actions", f"names {len(value)} actions; at most {MAX_NAMES}")
        return []
    actions = []
    for index, name in enumerate(value):
        if not isinstance(name, str) or not NAME.match(name):
            read.problem(f"actions[{index}]", f"{_shown(name)} is not a valid name: use {NAME_RULE}")
        elif name in actions:
            read.problem(f"actions[{index}]", f"{name!r} is listed twice")
        else:
            actions.append(name)
    return actions


def _feedback(read: _Reader, table: Mapping[str, Any]) -> dict[str, RewardRule]:
    kinds = {}
    for kind in read.names(table, "feedback"):
        key = f"feedback.{kind}"
        entry = read.table(table, kind, key)
        read.unknown_keys(entry, key, ("reward", "strong_signal", "rating"))
        rating = read.flag(entry, "rating", f"{key}.rating")
        strong = read.flag(entry, "strong_signal", f"{key}.strong_signal")
        if rating and "reward" not in entry:
            reward: float | None = 0.0  # a rating's reward comes from its value
        else:
            reward = read.number(entry, "reward", f"{key}.reward", "feedback.*.reward")
        if reward is not None:
            kinds[kind] = RewardRule(reward, strong_signal=strong, rating=rating)
    if not table:
        read.problem("feedback", "names no feedback kind: at least one is needed")
    return kinds


def _archetypes(
    read: _Reader,
    table: Mapping[str, Any],
    traits: Mapping[str, TraitBounds],
    actions: list[str],
    kinds: Mapping[str, RewardRule],
) -> tuple[dict[str, Archetype], dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    archetypes: dict[str, Archetype] = {}
    rewards: dict[str, dict[str, float]] = {}
    rates: dict[str, dict[str, float]] = {}
    names = read.names(table, "archetypes")
    if DEFAULT_ARCHETYPE not in names:
        read.problem(
            f"archetypes.{DEFAULT_ARCHETYPE}",
            "missing: the default archetype is required (agents registered without one start from it)",
        )
    for name in names:
        key = f"archetypes.{name}"
        entry = read.table(table, name, key)
        read.unknown_keys(entry, key, ("traits", "actions", "rewards", "trait_rates"))
        priors = _values_for(read, read.table(entry, "traits", f"{key}.traits"), f"{key}.traits", list(traits), True)
        for trait, value in priors.items():
            bounds = traits[trait]
            if not bounds.minimum <= value <= bounds.maximum:
                read.problem(
                    f"{key}.traits.{trait}",
                    f"prior {_fmt(value)} is outside the trait's bounds [{_fmt(bounds.minimum)}, {_fmt(bounds.maximum)}]",
                )
        action_priors = _values_for(
            read, read.table(entry, "actions", f"{key}.actions"), f"{key}.actions", actions, True
        )
        overrides = _values_for(
            read, read.table(entry, "rewards", f"{key}.rewards", required=False), f"{key}.rewards", list(kinds), False
        )
        trait_rates = _values_for(
            read,
            read.table(entry, "trait_rates", f"{key}.trait_rates", required=False),
            f"{key}.trait_rates",
            list(traits),
            False,
        )
        archetypes[name] = Archetype(name, MappingProxyType(priors), MappingProxyType(action_priors))
        if overrides:
            rewards[name] = overrides
        if trait_rates:
            rates[name] = trait_rates
    return archetypes, rewards, rates


def _values_for(read: _Reader, table: Mapping[str, Any], key: str, known: list[str], every: bool) -> dict[str, float]:
    """A table of name → number; with `every`, it must name each of `known` (and only those)."""
    cap_key = re.sub(r"^archetypes\.[^.]+\.", "archetypes.*.", key) + ".*"
    values = {}
    for name in read.names(table, key):
        if name not in known:
            read.problem(f"{key}.{name}", f"names nothing the document defines; known: {', '.join(known)}")
            continue
        value = read.value(table[name], f"{key}.{name}", cap_key)
        if value is not None:
            values[name] = value
    if every:
        missing = [name for name in known if name not in table]
        if missing:
            read.problem(key, f"misses {', '.join(missing)}: every one needs a value here")
    return values


def incompatibilities(new: LearningSettings, current: LearningSettings) -> list[RulesProblem]:
    """What a new version may not do to the rules in force: agents hold learned values for every trait
    and action and belong to an archetype, so none of those can be taken away (they can be added)."""
    problems = []
    for what, old, now in (
        ("traits", list(current.traits), list(new.traits)),
        ("actions", list(current.actions), list(new.actions)),
        ("archetypes", list(current.archetypes), list(new.archetypes)),
    ):
        removed = [name for name in old if name not in now]
        if removed:
            problems.append(
                RulesProblem(
                    what,
                    f"removes {', '.join(removed)}, which rules version {current.rules_version} has: "
                    f"agents keep what they learned of them, so {what} can be added but not removed",
                )
            )
    return problems


def differences(old: Any, new: Any, key: str = "") -> list[tuple[str, Any, Any]]:
    """Every dotted key whose value differs between two documents: (key, old, new); None for absent."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        out = []
        for name in list(old) + [n for n in new if n not in old]:
            out += differences(old.get(name), new.get(name), f"{key}.{name}" if key else str(name))
        return out
    return [] if old == new else [(key, old, new)]
