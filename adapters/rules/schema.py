"""The rules document's JSON Schema, made from the domain's own caps (so the two cannot disagree).

Editors and CI check a TOML file against it (taplo, or check-jsonschema on the parsed file);
the service itself checks more (`domain/rules.py`): that the named traits, actions and kinds
exist, that min < max, that priors sit inside their trait's bounds.
"""

from __future__ import annotations

from typing import Any

from domain.learning_options import CHOICES as OPTION_CHOICES
from domain.learning_options import DOCUMENT_KEYS as OPTION_KEYS
from domain.rules import CAPS, MAX_NAMES, NAME, SCHEMA_VERSION, TOP_LEVEL, Cap

SCHEMA_ID = "https://agent-learning.dev/schemas/rules-v1.json"


def _number(cap: Cap, description: str) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer" if cap.integer else "number", "maximum": cap.maximum}
    schema["exclusiveMinimum" if cap.exclusive_minimum else "minimum"] = cap.minimum
    schema["description"] = description
    return schema


def _table(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    schema["required"] = list(properties) if required is None else required
    return schema


def _names_to(value: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "maxProperties": MAX_NAMES,
        "propertyNames": {"pattern": NAME.pattern},
        "additionalProperties": value,
    }


def rules_schema() -> dict[str, Any]:
    def n(key: str, description: str) -> dict[str, Any]:
        return _number(CAPS[key], description)

    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "agent-learning rules document",
        "description": "The learning rules an operator can change (docs/rules.md). Numbers are bounded by hard caps.",
        **_table(
            {
                "schema": {"const": SCHEMA_VERSION, "description": "the document format's version"},
                "actions": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": MAX_NAMES,
                    "uniqueItems": True,
                    "items": {"type": "string", "pattern": NAME.pattern},
                    "description": "the actions an agent chooses between",
                },
                "rates": _table(
                    {
                        "trait_rate": n("rates.trait_rate", "every trait's learning rate, unless more specific"),
                        "action_rate": n("rates.action_rate", "the action preferences' learning rate"),
                        "epsilon": n("rates.epsilon", "a new agent's exploration rate ε"),
                        "traits": _names_to(n("rates.traits.*", "this trait's rate for every agent")),
                    },
                    required=["trait_rate", "action_rate", "epsilon"],
                ),
                "triggers": _table(
                    {
                        "batch_size": n("triggers.batch_size", "recalculate after this many pending feedbacks"),
                        "timer_interval_minutes": n(
                            "triggers.timer_interval_minutes", "the tick recalculates pending feedback this old"
                        ),
                        "idle_limit_minutes": n(
                            "triggers.idle_limit_minutes", "agents idle longer than this are left to the next event"
                        ),
                    }
                ),
                "freeze": _table(
                    {
                        "threshold": n("freeze.threshold", "sentiment below this starts the freeze clock"),
                        "after_days": n("freeze.after_days", "days below the threshold before updates freeze"),
                        "sentiment_alpha": n("freeze.sentiment_alpha", "the sentiment's moving-average weight"),
                    }
                ),
                "cold_start": _table(
                    {
                        "full_confidence_feedback": n(
                            "cold_start.full_confidence_feedback", "feedbacks after which learned traits stand alone"
                        )
                    }
                ),
                "decay": _table(
                    {
                        "rate": n("decay.rate", "how far learned traits move back toward the priors"),
                        "below_feedback": n("decay.below_feedback", "decay while an agent has fewer feedbacks"),
                        "after_gap_days": n("decay.after_gap_days", "or when its feedback pauses this long"),
                    }
                ),
                "exploration": _table(
                    {
                        "decay": n("exploration.decay", "ε is multiplied by this when reward variance falls"),
                        "floor": n("exploration.floor", "ε never falls below this"),
                    }
                ),
                "feedback": _names_to(
                    _table(
                        {
                            "reward": n("feedback.*.reward", "what one feedback of this kind is worth"),
                            "strong_signal": {"type": "boolean", "description": "recalculate at once"},
                            "rating": {
                                "type": "boolean",
                                "description": "the reward comes from the message's value 1–5: (value − 3) / 2",
                            },
                        },
                        required=[],
                    )
                ),
                "traits": _names_to(
                    _table({"min": n("traits.*.min", "the lowest value"), "max": n("traits.*.max", "the highest")})
                ),
                "archetypes": _names_to(
                    _table(
                        {
                            "traits": _names_to(n("archetypes.*.traits.*", "the trait prior")),
                            "actions": _names_to(n("archetypes.*.actions.*", "the action prior")),
                            "rewards": _names_to(n("archetypes.*.rewards.*", "this archetype's reward for the kind")),
                            "trait_rates": _names_to(n("archetypes.*.trait_rates.*", "this archetype's trait rate")),
                        },
                        required=["traits", "actions"],
                    )
                ),
                "options": _table(
                    {
                        OPTION_KEYS[name]: {
                            "enum": list(choices),
                            "description": f"every agent's {name} unless it sets its own (docs/learning-options.md)",
                        }
                        for name, choices in OPTION_CHOICES.items()
                    }
                    | {"temperature": n("options.temperature", "softmax's temperature for every agent")},
                    required=[],
                ),
            },
            # every table of the document is required but [options] (all of them off when it is absent)
            required=[key for key in TOP_LEVEL if key != "options"],
        ),
    }
