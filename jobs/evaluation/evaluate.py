"""`agent-learning evaluate`: off-policy evaluation of an agent from its recorded history.

The logged samples are the agent's feedbacks with an action: the action, the probability it was chosen
with (the propensity recorded with the feedback, logged by the runtime or derived from the policy in
force; feedback recorded before propensities were kept gets the one in force by its time, derived
here), and its reward. Target policies:

- `uniform`: every action alike;
- `current`: the policy the agent publishes now;
- `greedy`: always the action with the highest preference now (ties shared);
- `replay:CONFIG`: the policy the agent *would* have had at each feedback had it learned the same
  history under that configuration: the history's inputs fed again, as commands, to the domain's own
  `Agent` (the same replay as the rules' dry run). Nothing is recorded.

Each is estimated by IPS, SNIPS, clipped IPS, DM and DR (jobs/evaluation/estimators.py) with 95%
intervals and the weights' effective sample size. The recommendation is the replayed configuration
with the best lower bound of its DR interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adapters.service.learning_service import LearningService
from adapters.service.rules_replay import feed_input, logged_input
from domain.agent import Agent, replay
from domain.commands import ConfigureLearning, RecordFeedback
from domain.learning_config import LearningConfig
from domain.propensity import DERIVED, LOGGED, policy_in_force
from domain.settings import LearningSettings
from jobs.evaluation.estimators import CLIP, Sample, estimate
from jobs.simulation.configurations import Configuration

MIN_EFFECTIVE_SAMPLES = 30
CAVEAT = (
    "Replayed configurations learn from the feedback users gave to the agent that acted; how users would "
    "have answered a different agent is estimated through the propensities, not observed."
)


def logged(history: Sequence[Any]) -> tuple[list[Agent.FeedbackRecorded], list[Sample], list[str]]:
    """The feedbacks with an action, each as a sample, and each sample's propensity source."""
    policies: list[list] = []
    events, samples, sources = [], [], []
    for event in history:
        if isinstance(event, Agent.AgentRegistered):
            replayed = replay([event])
            assert replayed is not None
            policies = [[0, event.occurred_at, dict(replayed.policy)]]
        elif isinstance(event, Agent.PolicyRecalculated):
            policies.append([event.policy_version, event.occurred_at, dict(event.policy)])
        elif isinstance(event, Agent.FeedbackRecorded) and event.action is not None:
            probability, source = event.action_probability, event.propensity_source
            if probability is None and policies:  # recorded before propensities were kept
                probability, source = policy_in_force(policies, event.occurred_at)[2].get(event.action), DERIVED
            if not probability:
                continue
            events.append(event)
            samples.append(Sample(event.action, probability, event.reward))
            sources.append(source or DERIVED)
    return events, samples, sources


def replayed_policies(
    history: Sequence[Any], feedbacks: Sequence[Agent.FeedbackRecorded], configuration: Configuration, settings
) -> list[dict[str, float]]:
    """The policy the agent would have acted with at each of `feedbacks` had it learned under `configuration`."""
    wanted = {e.event_id for e in feedbacks}
    agent = replay(history[:1])
    assert agent is not None
    agent_id = agent.agent_id
    start = history[0].occurred_at
    agent.configure(ConfigureLearning(None, agent_id, start, configuration.config, from_event=False), settings)
    agent.collect_events()
    at_feedback: dict[str, dict[str, float]] = {}
    for index, event in enumerate(history[1:], start=1):
        item = logged_input(event, agent_id, history[index - 1])
        if item is None or isinstance(item, ConfigureLearning):
            continue  # the configuration stays the one under evaluation
        if isinstance(item, RecordFeedback) and item.event_id in wanted:
            at_feedback[item.event_id] = dict(agent.policy)
        try:
            feed_input(agent, item, settings)
        except ValueError:  # a kind the rules in force no longer price: the replay goes on without it
            pass
        agent.collect_events()
    return [at_feedback.get(e.event_id, dict(agent.policy)) for e in feedbacks]


def _describe(config: dict) -> str:
    parts = [config.get("profile") or "balanced"]
    parts += [f"{k}={v}" for k, v in config.items() if k != "profile" and v not in (None, {}, [])]
    return ",".join(parts)


def greedy(preferences: dict[str, float], actions: Sequence[str]) -> dict[str, float]:
    top = max(preferences.get(a, 0.0) for a in actions)
    best = [a for a in actions if preferences.get(a, 0.0) == top]
    return {a: (1 / len(best) if a in best else 0.0) for a in actions}


def evaluate_agent(
    service: LearningService,
    agent_id: str,
    configurations: Sequence[Configuration],
    clip: float = CLIP,
    settings: LearningSettings | None = None,
) -> dict[str, Any]:
    return evaluate_history(list(service.history(agent_id)), configurations, clip, settings or service.settings)


def evaluate_history(
    history: Sequence[Any], configurations: Sequence[Configuration], clip: float, settings: LearningSettings
) -> dict[str, Any]:
    """The evaluation of one agent's recorded history (oldest first); see the module's text."""
    agent = replay(history)
    assert agent is not None
    feedbacks, samples, sources = logged(history)
    report: dict[str, Any] = {"agentId": agent.agent_id, "samples": len(samples), "caveat": CAVEAT, "warnings": []}
    if not samples:
        report["warnings"].append("no feedback with an action has been recorded: there is nothing to evaluate")
        report["targets"] = []
        return report
    actions = list(settings.actions)
    derived = sum(1 for s in sources if s != LOGGED)
    report["propensities"] = {"logged": len(samples) - derived, "derived": derived}
    if derived:
        report["warnings"].append(
            f"{derived / len(samples):.0%} of the propensities were derived from the policy in force at each "
            "feedback's occurredAt, not logged by the agent runtime: if it acted on another version (a late "
            "update), the estimates are biased. Send policyVersion and actionProbability with feedback."
        )
    report["observedReward"] = sum(s.reward for s in samples) / len(samples)
    targets: list[tuple[str, list[dict[str, float]]]] = [
        ("uniform", [{a: 1 / len(actions) for a in actions}] * len(samples)),
        ("current", [dict(agent.policy)] * len(samples)),
        ("greedy", [greedy(agent.preferences, actions)] * len(samples)),
    ]
    own = Configuration(f"own ({_describe(agent.config)})", LearningConfig.from_dict(agent.config))
    for configuration in (own, *configurations):
        targets.append((f"replay:{configuration.name}", replayed_policies(history, feedbacks, configuration, settings)))
    rows = []
    logged_actions = {s.action for s in samples}
    for name, policies in targets:
        results, ess = estimate(samples, policies, actions, clip)
        unsupported = sum(p for policy in policies for a, p in policy.items() if a not in logged_actions)
        if unsupported / len(policies) > 0.01:
            report["warnings"].append(
                f"{name}: {unsupported / len(policies):.0%} of its choices are actions never logged "
                f"({', '.join(a for a in actions if a not in logged_actions)}): IPS counts them as reward 0 and "
                "DM guesses them from the other actions, so read SNIPS and DR with care"
            )
        rows.append({"target": name, "ess": ess, **{k: v.to_dict() for k, v in results.items()}})
        if ess == 0:
            report["warnings"].append(
                f"{name}: never takes an action that was logged, so IPS and SNIPS know nothing of it (shown as "
                "the whole reward range); DM and DR rest on the reward model alone"
            )
        elif ess < MIN_EFFECTIVE_SAMPLES:
            report["warnings"].append(
                f"{name}: only {ess:.0f} effective samples; its intervals are wide and may not cover the truth"
            )
    report["targets"] = rows
    replays = [r for r in rows if r["target"].startswith("replay:")]
    if replays:
        best = max(replays, key=lambda r: r["dr"]["low"])
        current = next(r for r in rows if r["target"] == "current")
        keep = best["target"] == f"replay:{own.name}"
        report["recommendation"] = {
            "configuration": best["target"].removeprefix("replay:"),
            "keep": keep,
            "drLow": best["dr"]["low"],
            "currentDr": current["dr"],
            "why": "the replayed configuration whose DR estimate has the best 95% lower bound"
            + (": the agent's own, so keep it" if keep else ""),
        }
    return report
