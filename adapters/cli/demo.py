"""`agent-learning demo`: a simulated day of feedback for four agents, through the whole loop.

The users are differently minded, so each agent learns something different:
aria's users love warmth and jokes, sage's users punish sarcasm and reward
curiosity, atlas's users approve concise formal drafts and reject rambling
ones, and blaze's users are hostile all day (a week later its updates freeze).
The stream is written to `demo-feedback.jsonl` in the home folder, with three
bad lines to show the dead letters; it is ingested minute by minute with the
periodic tick after each minute, then the relay publishes what happened.
The simulation is seeded: running it again records nothing new.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

from adapters.bootstrap import System
from adapters.cli.common import EXIT_OK
from adapters.files.file_sink import read_published
from adapters.files.jsonl_ingest import ingest_lines
from domain.timestamps import to_iso
from projections.agent_learning_state import STATE
from projections.agent_policy_history import HISTORY
from projections.agent_queries import agents_due_for_tick
from projections.dead_letters import DEAD_LETTERS
from projections.read_model_store import Condition

DAY = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
HOURS = 24  # a full day: enough feedback with text for the batch loop's eligibility (100 positive)

AGENTS = {
    "aria": {"archetype": "companion", "ownerId": "owner-1", "learningConfig": {"profile": "fast"}},
    "sage": {"archetype": "mentor", "ownerId": "owner-1", "learningConfig": {"profile": "balanced"}},
    "atlas": {"archetype": "professional", "ownerId": "owner-2", "learningConfig": {"profile": "conservative"}},
    "blaze": {"archetype": "default", "ownerId": "owner-2", "learningConfig": None},
}


def _reaction(agent: str, rng: random.Random) -> dict:
    """One user's reaction to one response, by the kind of users each agent has, with the propensity the
    demo's runtime logs: it picks among these four responses alike, so an action is chosen with the share
    of them that take it (what `agent-learning evaluate` weighs by)."""
    reactions = _reactions(agent)
    reaction = rng.choice(reactions)
    share = sum(1 for r in reactions if r["action"] == reaction["action"]) / len(reactions)
    return {**reaction, "actionProbability": share}


def _reactions(agent: str) -> list[dict]:
    if agent == "aria":
        return [
            {"kind": "thumbs_up", "traits": {"empathy": 1.0, "humor": 0.6}, "action": "answer"},
            {"kind": "message_copied", "traits": {"humor": 1.0}, "action": "answer"},
            {"kind": "rating", "value": 5, "traits": {"empathy": 0.8}, "action": "answer"},
            {"kind": "thumbs_down", "traits": {"formality": 1.0}, "action": "escalate"},
        ]
    if agent == "sage":
        return [
            {"kind": "thumbs_down", "traits": {"sarcasm": 1.0}, "action": "answer"},
            {"kind": "rating", "value": 4, "traits": {"curiosity": 1.0}, "action": "ask_clarifying_question"},
            {
                "kind": "thumbs_up",
                "traits": {"curiosity": 0.7, "empathy": 0.4},
                "action": "ask_clarifying_question",
            },
            {"kind": "conversation_continued", "traits": {"curiosity": 0.5}, "action": "ask_clarifying_question"},
        ]
    if agent == "atlas":
        return [
            {"kind": "draft_approved", "traits": {"formality": 1.0, "verbosity": -0.5}, "action": "suggest_draft"},
            {"kind": "draft_rejected", "traits": {"verbosity": 1.0}, "action": "suggest_draft"},
            {"kind": "draft_edited", "traits": {"verbosity": 0.6}, "action": "suggest_draft"},
            {"kind": "draft_approved", "traits": {"formality": 0.8}, "action": "suggest_draft"},
        ]
    return [  # blaze: users who stay unhappy whatever it does
        {"kind": "thumbs_down", "traits": {"sarcasm": 1.0, "empathy": -1.0}, "action": "answer"},
        {"kind": "abuse_flag", "traits": {"sarcasm": 1.0}, "action": "answer"},
        {"kind": "conversation_abandoned", "traits": {"empathy": -0.5}, "action": "escalate"},
        {"kind": "rating", "value": 1, "traits": {"humor": 1.0}, "action": "answer"},
    ]


# What each agent's users ask and what the agent answered: the batch loop's training text.
CONVERSATIONS = {
    "aria": [
        (
            "I had a rough day at work.",
            "I'm sorry it was rough. Want to tell me what happened, or shall I cheer you up?",
        ),
        ("Tell me something funny.", "Why did the scarecrow win an award? He was outstanding in his field."),
        ("I can't sleep.", "That's hard. Try slowing your breath: in for four, hold for four, out for six."),
        ("My cat knocked my coffee over.", "Cats: tiny agents of chaos. Is your keyboard safe?"),
    ],
    "sage": [
        ("How do I start learning Rust?", "What do you already know: another systems language, or mostly scripting?"),
        ("Explain recursion.", "A function that solves a problem by calling itself on a smaller piece of it."),
        ("Should I learn SQL?", "Which data do you work with day to day? That decides how deep to go."),
        ("What's a good first project?", "Something you'd use yourself: a budget tracker or a habit log."),
    ],
    "atlas": [
        (
            "Draft a reply declining the meeting.",
            "Thank you for the invitation. I'm unable to attend; please share the notes.",
        ),
        ("Write a status update for the team.", "This week we closed the migration and started the billing review."),
        ("Summarise this contract clause.", "Either party may end the agreement with thirty days' written notice."),
        ("Draft an invoice reminder.", "A friendly reminder that invoice 1042 is due on Friday. Thank you."),
    ],
    "blaze": [
        ("Help me with my essay.", "Sure, another essay. Did you try writing it yourself first?"),
        ("What time is it in Tokyo?", "Time for you to look it up, apparently."),
        ("Recommend a book.", "Any book. You'd skim it anyway."),
        ("Can you be nicer?", "I could. Would it help?"),
    ],
}


def simulated_stream(seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    messages: list[dict] = []
    for agent, registration in AGENTS.items():
        messages.append(
            {
                "type": "agent_registered",
                "eventId": f"demo-{agent}-registered",
                "agentId": agent,
                "occurredAt": to_iso(DAY),
                **{k: v for k, v in registration.items() if v is not None},
            }
        )
    number = 0
    for agent in AGENTS:
        users = [f"{agent}-user-{i}" for i in range(1, 6)]
        start = DAY + timedelta(minutes=rng.randint(1, 20))
        while start < DAY + timedelta(hours=HOURS):
            session = f"s-{agent}-{number}"
            user = rng.choice(users)
            at = start
            for _ in range(rng.randint(1, 7)):
                number += 1
                at += timedelta(seconds=rng.randint(20, 240))
                prompt, response = rng.choice(CONVERSATIONS[agent])
                messages.append(
                    {
                        "type": "feedback",
                        "eventId": f"demo-{number}",
                        "agentId": agent,
                        "occurredAt": to_iso(at),
                        "sessionId": session,
                        "userId": user,
                        "interactionId": f"i-{number}",
                        "prompt": prompt,
                        "response": response,
                        **_reaction(agent, rng),
                    }
                )
            if rng.random() < 0.7:
                number += 1
                at += timedelta(seconds=30)
                messages.append(
                    {
                        "type": "session_ended",
                        "eventId": f"demo-{number}",
                        "agentId": agent,
                        "sessionId": session,
                        "occurredAt": to_iso(at),
                    }
                )
            start = at + timedelta(minutes=rng.randint(5, 60))
    messages.sort(key=lambda m: m["occurredAt"])
    return messages


BAD_LINES = [
    '{"type": "feedback", "eventId": "demo-bad-1", "agentId": "aria", "occurredAt": ',
    '{"type": "feedback", "eventId": "demo-bad-2", "agentId": "sage", "occurredAt": "2026-11-23T09:00:00Z", '
    '"kind": "thumbs_sideways"}',
    '{"type": "feedback", "eventId": "demo-bad-3", "agentId": "atlas", "occurredAt": "2026-11-23T10:00:00Z", '
    '"kind": "rating"}',
]


def _lines_by_minute(messages: list[dict]) -> Iterator[tuple[datetime, list[bytes]]]:
    lines = [(m["occurredAt"], json.dumps(m)) for m in messages]
    lines.insert(len(lines) // 3, ("2026-11-23T10:00:00Z", BAD_LINES[0]))
    lines.insert(len(lines) // 2, ("2026-11-23T11:00:00Z", BAD_LINES[1]))
    lines.insert(2 * len(lines) // 3, ("2026-11-23T14:00:00Z", BAD_LINES[2]))
    minute = DAY
    end = DAY + timedelta(hours=HOURS + 1)
    index = 0
    while minute < end:
        following = minute + timedelta(minutes=1)
        batch = []
        while index < len(lines) and lines[index][0] < to_iso(following):
            batch.append(lines[index][1].encode())
            index += 1
        yield following, batch
        minute = following


def run_demo(system: System, quiet: bool = False) -> int:
    home = system.config.home
    say = (lambda *a, **k: None) if quiet else (lambda *a, **k: print(*a, **k, file=sys.stderr))
    messages = simulated_stream()
    stream_file = home / "demo-feedback.jsonl"
    with stream_file.open("w") as f:
        for _, line in _lines_by_minute(messages):
            f.writelines(raw.decode() + "\n" for raw in line)
    say(
        f"Simulating {HOURS} hours of feedback for {len(AGENTS)} agents ({len(messages) + len(BAD_LINES)} "
        f"messages, written to {stream_file}) …"
    )

    totals = Counter()
    line_number = 1
    for now, lines in _lines_by_minute(messages):
        if lines:
            report = ingest_lines(
                system.service, lines, str(stream_file), home / "dead-letters.jsonl", first_line=line_number
            )
            line_number += len(lines)
            totals.update(
                recorded=report.outcome.recorded, duplicates=report.outcome.duplicates, rejected=report.rejected
            )
            totals.update(report.outcome.recalculations)
        system.projections.catch_up()
        due = agents_due_for_tick(system.read_models, now, system.service.settings)
        if due:
            outcome = system.service.tick(now, due)
            totals.update(outcome.recalculations)
        if now.minute == 0:
            say(
                f"  {now:%H:%M}  {totals['recorded']:>5} recorded, {sum(totals[t] for t in ('strong_signal', 'feedback_count', 'session_end', 'timer')):>4} recalculations"
            )

    week_later = DAY + timedelta(days=8)
    system.projections.catch_up()
    due = agents_due_for_tick(system.read_models, week_later, system.service.settings)
    system.service.tick(week_later, due)
    say(f"A week later ({to_iso(week_later)}): tick checks the freeze rule …")
    system.projections.catch_up()
    relay = system.relay()
    published = relay.relay_all()
    _summary(system, totals, published)
    return EXIT_OK


def _summary(system: System, totals: Counter, published: int) -> None:
    store = system.read_models
    settings = system.service.settings
    print()
    print(
        f"Recorded {totals['recorded']} messages ({totals['duplicates']} duplicates skipped, "
        f"{totals['rejected']} rejected)."
    )
    for agent_id in AGENTS:
        doc = store.get(STATE, agent_id)
        history = store.find(HISTORY, [Condition("agentId", "eq", agent_id)])
        triggers = Counter(h["trigger"] for h in history)
        priors = settings.archetype(doc["archetype"]).trait_priors
        state = "FROZEN (sentiment stayed below -0.5 for 7 days)" if doc["frozen"] else "learning"
        print()
        print(
            f"{agent_id}  ({doc['archetype']}, {doc['learningConfig'].get('profile') or 'default'} profile) — "
            f"policy v{doc['version']}, {doc['feedbackCount']} feedback, confidence {doc['confidence']}, "
            f"sentiment {doc['sentiment']:+.2f}, {state}"
        )
        print("  recalculations: " + ", ".join(f"{t} {n}" for t, n in sorted(triggers.items())))
        print(f"  {'trait':<10} {'before':>7} {'after':>7} {'learned':>8}")
        for trait, prior in priors.items():
            after = doc["traits"][trait]
            arrow = "↑" if after > prior + 0.005 else "↓" if after < prior - 0.005 else " "
            print(f"  {trait:<10} {prior:>7.3f} {after:>7.3f} {doc['learnedTraits'][trait]:>8.3f} {arrow}")
        policy = ", ".join(f"{a} {p:.2f}" for a, p in doc["actionPolicy"].items())
        print(f"  action policy: {policy}  (ε {doc['explorationEpsilon']:.4f})")
    home = system.config.home
    dead = store.find(DEAD_LETTERS)
    print()
    print(f"Dead letters: {len(dead)} (reasons in {home / 'dead-letters.jsonl'})")
    print(
        f"Relay: {published} messages published to {home / 'published.jsonl'} "
        f"({len(read_published(home / 'published.jsonl'))} in the file)"
    )
    print()
    home_flag = f" --home {home}" if str(home) != ".agent-learning" else ""
    print("Where to look next:")
    print(f"  agent-learning{home_flag} agent show aria             # one agent's state (--json for the contract)")
    print(f"  agent-learning{home_flag} agent history blaze          # every event, oldest first")
    print(f"  agent-learning{home_flag} audit --all                  # re-derive every recalculation")
    print(f"  agent-learning{home_flag} projections status           # read-model positions and lag")
    print(f"  agent-learning{home_flag} admin unfreeze blaze --reason 'reviewed'")


def cmd_demo(system: System, args: argparse.Namespace) -> int:
    return run_demo(system, quiet=args.quiet)


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="simulate a day of feedback for a few agents through the whole loop")
    p.add_argument("--quiet", action="store_true", help="only the summary")
    p.set_defaults(handler=cmd_demo)
