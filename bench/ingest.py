"""Ingest benchmark: the `agent-learning ingest` path on the embedded default, beside the bare library.

    python bench/ingest.py            # the issue's sizes (takes several minutes)
    python bench/ingest.py --quick    # small sizes, a smoke run

Figures (see docs/performance.md):
  (a) end to end: JSONL lines → parse → LearningService.process in batches → projections caught up;
  (b) the bare library: the same number of events, aggregates and batch size, one trivial @event;
  (c) loading an agent with a long history from a fresh service, with snapshots and without;
  (d) rebuilding every read model from a large log;
  (e) peak memory (max RSS) of the process that ran (a).
Every measurement runs in its own child process, so one cannot warm or bloat another;
(a) and (b) alternate, and the ratio is taken between medians of the same run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

RESULTS = Path(__file__).parent / "results"
START = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)

KINDS = {  # kind → weight: mostly mild positive signals, some strong and negative ones
    "thumbs_up": 25,
    "rating": 20,
    "conversation_continued": 15,
    "message_copied": 12,
    "thumbs_down": 6,
    "draft_edited": 5,
    "draft_approved": 4,
    "conversation_abandoned": 4,
    "draft_rejected": 2,
    "abuse_flag": 0.5,
}
TRAITS = ("empathy", "humor", "sarcasm", "formality", "verbosity", "curiosity")
ACTIONS = ("answer", "ask_clarifying_question", "suggest_draft", "escalate")
ARCHETYPES = ("default", "mentor", "companion", "professional")
PROFILES = ("conservative", "balanced", "fast")
WORDS = (
    "the",
    "agent",
    "answer",
    "could",
    "you",
    "please",
    "draft",
    "reply",
    "thanks",
    "order",
    "refund",
    "meeting",
    "tomorrow",
    "summary",
    "explain",
    "why",
    "short",
    "longer",
    "tone",
    "friendly",
)


# ------------------------------------------------------------------ the input


def feedback_lines(agents: int, seed: int = 7) -> Iterator[bytes]:
    """An endless, realistic stream of `agent-feedback` messages as JSONL lines, `occurredAt` increasing.

    Agents are picked with a mild skew; each has at most one open session of a few
    feedbacks, usually closed by a `session_ended`. About 60% of agents announce
    themselves with `agent_registered` (the rest are registered by their first
    feedback). Some lines are redeliveries (same `eventId`) and a few are bad input.
    """
    rng = random.Random(seed)
    kinds, kind_weights = list(KINDS), list(KINDS.values())
    agent_weights = [1 / (1 + i / 50) for i in range(agents)]
    ids = [f"agent-{i:05d}" for i in range(agents)]
    started: set[int] = set()
    session_left: dict[int, int] = {}
    session_id: dict[int, str] = {}
    at = START
    serial = 0
    recent: list[bytes] = []

    def text() -> str:
        return " ".join(rng.choices(WORDS, k=rng.randint(8, 30)))

    while True:
        at += timedelta(milliseconds=rng.randint(1, 1500))
        occurred = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
        serial += 1
        roll = rng.random()
        if recent and roll < 0.005:  # a redelivery: the consumer saw it before
            yield rng.choice(recent)
            continue
        if roll < 0.006:  # bad input: a kind the reward table does not know
            yield json.dumps(
                {
                    "type": "feedback",
                    "eventId": f"e-{serial}",
                    "agentId": rng.choice(ids),
                    "occurredAt": occurred,
                    "kind": "thumbs_sideways",
                }
            ).encode()
            continue
        a = rng.choices(range(agents), agent_weights)[0]
        common = {"eventId": f"e-{serial}", "agentId": ids[a], "occurredAt": occurred}
        if a not in started:
            started.add(a)
            if rng.random() < 0.6:
                message = {
                    "type": "agent_registered",
                    **common,
                    "archetype": rng.choice(ARCHETYPES),
                    "ownerId": f"owner-{a % 97}",
                }
                if rng.random() < 0.2:
                    message["learningConfig"] = {"profile": rng.choice(PROFILES)}
                yield json.dumps(message).encode()
                continue
        if roll < 0.03:
            message = {"type": "activity", **common, "activity": "conversation"}
        elif roll < 0.032:
            message = {"type": "learning_configured", **common, "learningConfig": {"profile": rng.choice(PROFILES)}}
        elif a in session_left and session_left[a] == 0:
            message = {"type": "session_ended", **common, "sessionId": session_id.pop(a)}
            del session_left[a]
        else:
            if a not in session_left:
                session_left[a] = rng.randint(2, 12)
                session_id[a] = f"s-{serial}"
            session_left[a] -= 1
            if session_left[a] == 0 and rng.random() < 0.1:  # abandoned: no session_ended ever comes
                del session_left[a]
                sid = session_id.pop(a)
            else:
                sid = session_id[a]
            kind = rng.choices(kinds, kind_weights)[0]
            message = {
                "type": "feedback",
                **common,
                "kind": kind,
                "value": rng.choices((1, 2, 3, 4, 5), (1, 1, 2, 4, 3))[0] if kind == "rating" else None,
                "sessionId": sid,
                "interactionId": f"i-{serial}",
            }
            if rng.random() < 0.9:
                message["userId"] = f"u-{a}-{rng.randint(0, 19)}"
            if rng.random() < 0.7:
                message["traits"] = {t: round(rng.uniform(-1, 1), 2) for t in rng.sample(TRAITS, rng.randint(1, 3))}
            if rng.random() < 0.6:
                message["action"] = rng.choice(ACTIONS)
            if rng.random() < 0.2:
                message["prompt"], message["response"] = text(), text()
        line = json.dumps(message).encode()
        recent = (recent + [line])[-50:]
        yield line


def write_lines(path: Path, count: int, agents: int) -> None:
    with path.open("wb") as out:
        for line in itertools.islice(feedback_lines(agents), count):
            out.write(line + b"\n")


# ----------------------------------------------------------- measurements
# Each runs in a child process (see `_child`) and returns a JSON-able dict.


class Counter(Aggregate):
    """(b)'s aggregate: the least an event-sourced write can be."""

    def __init__(self) -> None:
        self.count = 0

    @event("Counted")
    def count_one(self) -> None:
        self.count += 1


def _system(home: str, store: str | None = None):
    from adapters.bootstrap import Config, bootstrap

    if store:  # events and read models on MongoDB or PostgreSQL
        return bootstrap(Config(home=Path(home), event_store=store, read_models=store))
    return bootstrap(Config(home=Path(home)))


def measure_ingest(file: str, home: str, store: str | None = None) -> dict:
    """(a) and (e): what `agent-learning ingest FILE` does (a second process projects while this
    one records), timed in two phases: recording, then the rest of the catch-up."""
    from adapters.files.jsonl_ingest import ingest_lines
    from adapters.worker.projections_alongside import projections_alongside

    rss_before = _max_rss_mib()
    system = _system(home, store)
    started = time.perf_counter()
    with open(file, "rb") as lines, projections_alongside(system.config):
        report = ingest_lines(system.service, lines, file)
    ingested = time.perf_counter()
    system.projections.catch_up()
    done = time.perf_counter()
    stored = system.service.recorder.max_notification_id() or 0
    system.close()
    return {
        "lines": report.lines,
        "recorded": report.outcome.recorded,
        "duplicates": report.outcome.duplicates,
        "rejected": report.rejected,
        "stored_events": stored,
        "recalculations": sum(report.outcome.recalculations.values()),
        "ingest_seconds": ingested - started,
        "catch_up_seconds": done - ingested,
        "seconds": done - started,
        "max_rss_mib_at_start": rss_before,
        "max_rss_mib": _max_rss_mib(),
    }


def measure_bare_library(events: int, agents: int, batch_size: int, home: str) -> dict:
    """(b): the same agents in the same order and batches, each message one trivial event."""
    Path(home).mkdir(parents=True, exist_ok=True)
    app = Application(
        env={
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(Path(home) / "bare.db"),
            "SQLITE_LOCK_TIMEOUT": "30",
            "AGGREGATE_CACHE_MAXSIZE": "20000",
            "AGGREGATE_CACHE_FASTFORWARD": "n",
            "DEEPCOPY_FROM_AGGREGATE_CACHE": "n",  # the cache settings of LearningService
        }
    )
    # The agent of each line, as the ingest sees them (a bad line counts as its own agent's event).
    order = [json.loads(line)["agentId"] for line in itertools.islice(feedback_lines(agents), events)]
    known: dict[str, UUID] = {}
    started = time.perf_counter()
    for start in range(0, len(order), batch_size):
        touched: dict[str, Counter] = {}
        for agent in order[start : start + batch_size]:
            counter = touched.get(agent)
            if counter is None:
                counter = app.repository.get(known[agent]) if agent in known else Counter()
                known[agent] = counter.id
                touched[agent] = counter
            counter.count_one()
        app.save(*touched.values())
    seconds = time.perf_counter() - started
    stored = app.recorder.max_notification_id() or 0
    app.close()
    return {"events": len(order), "stored_events": stored, "aggregates": len(known), "seconds": seconds}


def measure_agent_load(history: int, home: str, repeat: int) -> dict:
    """(c): one agent with `history` events; load it from fresh services, with snapshots and without."""
    from adapters.bootstrap import Config, event_store_env
    from adapters.files.jsonl_ingest import ingest_lines
    from adapters.service.learning_service import LearningService

    system = _system(home)
    agent_id = "agent-00000"
    lines = feedback_lines(agents=1)
    started = time.perf_counter()
    while system.service.agent_exists(agent_id) is False or system.service.get_agent(agent_id).version < history:
        ingest_lines(system.service, itertools.islice(lines, 2000), "bench")
    build_seconds = time.perf_counter() - started
    version = system.service.get_agent(agent_id).version
    system.close()

    env = event_store_env(Config(home=Path(home)))
    timings: dict[str, list[float]] = {"snapshots": [], "no_snapshots": []}
    for _ in range(repeat):
        for mode, snapshotting in (("snapshots", "y"), ("no_snapshots", "n")):
            service = LearningService(env={**env, "IS_SNAPSHOTTING_ENABLED": snapshotting})
            started = time.perf_counter()
            loaded = service.get_agent(agent_id)
            timings[mode].append(time.perf_counter() - started)
            assert loaded.version == version
            service.close()
    return {
        "agent_events": version,
        "build_seconds": build_seconds,
        "timings": timings,
        "snapshots_seconds": statistics.median(timings["snapshots"]),
        "no_snapshots_seconds": statistics.median(timings["no_snapshots"]),
    }


def measure_rebuild(log_events: int, agents: int, home: str) -> dict:
    """(d): fill the log to `log_events` stored events through the ingest, catch up, then rebuild everything."""
    from adapters.files.jsonl_ingest import ingest_lines

    system = _system(home)
    lines = feedback_lines(agents)
    started = time.perf_counter()
    messages = 0
    while (system.service.recorder.max_notification_id() or 0) < log_events:
        messages += ingest_lines(system.service, itertools.islice(lines, 20_000), "bench").lines
    build_seconds = time.perf_counter() - started
    started = time.perf_counter()
    system.projections.catch_up()
    catch_up_seconds = time.perf_counter() - started
    stored = system.service.recorder.max_notification_id()
    started = time.perf_counter()
    system.projections.rebuild()
    rebuild_seconds = time.perf_counter() - started
    system.close()
    return {
        "messages": messages,
        "stored_events": stored,
        "build_seconds": build_seconds,
        "catch_up_seconds": catch_up_seconds,
        "rebuild_seconds": rebuild_seconds,
    }


def _max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


MEASUREMENTS = {
    "ingest": measure_ingest,
    "bare": measure_bare_library,
    "load": measure_agent_load,
    "rebuild": measure_rebuild,
}


def _child(name: str, **kwargs) -> dict:
    """Runs one measurement in a fresh interpreter (cold caches, its own peak memory)."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps({"name": name, "kwargs": kwargs})],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return json.loads(done.stdout.splitlines()[-1])


# ------------------------------------------------------------------- driver


def run(args: argparse.Namespace) -> dict:
    from adapters.files.jsonl_ingest import BATCH_SIZE

    results: dict = {
        "machine": {"nproc": _nproc(), "python": platform.python_version(), "platform": platform.platform()},
        "parameters": vars(args) | {"batch_size": BATCH_SIZE},
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    with tempfile.TemporaryDirectory(prefix="agent-learning-bench-") as tmp:
        file = Path(tmp) / "feedback.jsonl"
        write_lines(file, args.events, args.agents)
        ingests, bares = [], []
        for round_ in range(args.repeat):  # alternate, so drift in the machine's speed hits both
            home = Path(tmp) / f"round-{round_}"
            ingests.append(_child("ingest", file=str(file), home=str(home / "ingest")))
            bares.append(
                _child("bare", events=args.events, agents=args.agents, batch_size=BATCH_SIZE, home=str(home / "bare"))
            )
            _progress(f"round {round_ + 1}: ingest {ingests[-1]['seconds']:.1f}s, bare {bares[-1]['seconds']:.1f}s")
        results["ingest"] = ingests
        results["bare"] = bares
        if not args.skip_load:
            results["load"] = _child("load", history=args.history, home=str(Path(tmp) / "load"), repeat=5)
            _progress("agent load done")
        if not args.skip_rebuild:
            results["rebuild"] = _child(
                "rebuild", log_events=args.rebuild_events, agents=args.agents, home=str(Path(tmp) / "rebuild")
            )
            _progress("rebuild done")
        if args.mongodb_events:
            results["mongodb"] = measure_on_mongodb(Path(tmp), args.mongodb_events, args.agents)
            _progress("MongoDB run done")
        if args.postgresql_events:
            results["postgresql"] = measure_on_postgresql(Path(tmp), args.postgresql_events, args.agents, args.repeat)
            _progress("PostgreSQL runs done")
    results["summary"] = summarise(results)
    return results


def measure_on_mongodb(tmp: Path, events: int, agents: int) -> dict:
    """(a) on MongoDB (events and read models) beside (a) on SQLite, same smaller input, one run each.
    The server is SecantusDB, a Python reimplementation of the protocol: real MongoDB will differ."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from infra.local_servers import MongoServer

    file = tmp / "feedback-mongodb.jsonl"
    write_lines(file, events, max(1, agents // 10))
    server = MongoServer.start(tmp / "secantusdb")
    try:
        base, _, options = server.url.partition("?")
        store = f"{base.rstrip('/')}/bench" + (f"?{options}" if options else "")
        mongodb = _child("ingest", file=str(file), home=str(tmp / "mongodb"), store=store)
    finally:
        server.stop()
    sqlite = _child("ingest", file=str(file), home=str(tmp / "mongodb-sqlite"))
    return {"mongodb": mongodb, "sqlite": sqlite}


def measure_on_postgresql(tmp: Path, events: int, agents: int, repeat: int) -> dict:
    """(a) on PostgreSQL (events and read models, Debian's server on this machine, a throwaway cluster)
    beside (a) on SQLite, same input, alternating `repeat` rounds; the ratio is between medians."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from infra.local_servers import PostgresServer

    file = tmp / "feedback-postgresql.jsonl"
    write_lines(file, events, agents)
    server = PostgresServer.start(tmp / "postgresql")
    postgresql, sqlite = [], []
    try:
        for round_ in range(repeat):
            store = server.create_database(f"bench_{round_}")
            postgresql.append(_child("ingest", file=str(file), home=str(tmp / f"pg-{round_}"), store=store))
            sqlite.append(_child("ingest", file=str(file), home=str(tmp / f"pg-sqlite-{round_}")))
            _progress(
                f"round {round_ + 1}: PostgreSQL {postgresql[-1]['seconds']:.1f}s, SQLite {sqlite[-1]['seconds']:.1f}s"
            )
    finally:
        server.stop()
    pg_s = statistics.median(r["seconds"] for r in postgresql)
    sqlite_s = statistics.median(r["seconds"] for r in sqlite)
    return {
        "postgresql": postgresql,
        "sqlite": sqlite,
        "postgresql_events_per_s": events / pg_s,
        "sqlite_events_per_s": events / sqlite_s,
        "ratio": sqlite_s / pg_s,
    }


def summarise(results: dict) -> dict:
    ingest_s = statistics.median(r["seconds"] for r in results["ingest"])
    bare_s = statistics.median(r["seconds"] for r in results["bare"])
    lines = results["ingest"][0]["lines"]
    summary = {
        "ingest_events_per_s": lines / ingest_s,
        "ingest_only_events_per_s": lines / statistics.median(r["ingest_seconds"] for r in results["ingest"]),
        "bare_events_per_s": results["bare"][0]["events"] / bare_s,
        "peak_rss_mib": max(r["max_rss_mib"] for r in results["ingest"]),
    }
    summary["ratio"] = summary["ingest_events_per_s"] / summary["bare_events_per_s"]
    summary["floor_events_per_s_met"] = summary["ingest_events_per_s"] >= 5000
    summary["floor_ratio_met"] = summary["ratio"] >= 0.4
    if "load" in results:
        load = results["load"]
        summary["load_ratio"] = load["no_snapshots_seconds"] / load["snapshots_seconds"]
    if "rebuild" in results:
        rebuild = results["rebuild"]
        summary["rebuild_events_per_s"] = rebuild["stored_events"] / rebuild["rebuild_seconds"]
    return summary


def table(results: dict) -> str:
    s = results["summary"]
    first = results["ingest"][0]
    rows = [
        (
            "(a) ingest end to end",
            f"{s['ingest_events_per_s']:,.0f} events/s",
            f"{first['lines']:,} lines → {first['stored_events']:,} stored events, median of "
            f"{len(results['ingest'])}; ingest alone {s['ingest_only_events_per_s']:,.0f}/s",
        ),
        (
            "(b) bare eventsourcing",
            f"{s['bare_events_per_s']:,.0f} events/s",
            f"{results['bare'][0]['events']:,} events, {results['bare'][0]['aggregates']:,} aggregates",
        ),
        ("(a)/(b)", f"{s['ratio']:.2f}", "floor 0.40: " + ("met" if s["floor_ratio_met"] else "MISSED")),
        ("(a) floor 5,000/s", "met" if s["floor_events_per_s_met"] else "MISSED", ""),
    ]
    if "load" in results:
        load = results["load"]
        rows.append(
            (
                "(c) load agent, snapshots",
                f"{load['snapshots_seconds'] * 1000:,.1f} ms",
                f"{load['agent_events']:,} events, median of {len(load['timings']['snapshots'])}",
            )
        )
        rows.append(
            (
                "(c) load agent, no snapshots",
                f"{load['no_snapshots_seconds'] * 1000:,.1f} ms",
                f"{s['load_ratio']:,.0f}× slower",
            )
        )
    if "rebuild" in results:
        rebuild = results["rebuild"]
        rows.append(
            (
                "(d) rebuild all read models",
                f"{rebuild['rebuild_seconds']:,.1f} s",
                f"{rebuild['stored_events']:,} events, {s['rebuild_events_per_s']:,.0f} events/s",
            )
        )
    if "postgresql" in results:
        pg = results["postgresql"]
        rows.append(
            (
                "(a) on PostgreSQL",
                f"{pg['postgresql_events_per_s']:,.0f} events/s",
                f"beside SQLite {pg['sqlite_events_per_s']:,.0f}/s on the same {pg['postgresql'][0]['lines']:,} "
                f"lines: {pg['ratio']:.2f}× SQLite (medians of {len(pg['postgresql'])})",
            )
        )
    rows.append(
        (
            "(e) peak memory of (a)",
            f"{s['peak_rss_mib']:,.0f} MiB",
            f"max RSS; {first['max_rss_mib_at_start']:,.0f} MiB after imports",
        )
    )
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    return "\n".join(f"{name:<{width}}  {value:>{value_width}}  {note}" for name, value, note in rows)


def _nproc() -> int:
    import os

    return len(os.sched_getaffinity(0))


def _progress(message: str) -> None:
    print(f"… {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000, help="messages to ingest (a) and bare events (b)")
    parser.add_argument("--agents", type=int, default=2_000)
    parser.add_argument("--history", type=int, default=100_000, help="events of the agent loaded in (c)")
    parser.add_argument("--rebuild-events", type=int, default=1_000_000, help="stored events rebuilt in (d)")
    parser.add_argument("--repeat", type=int, default=3, help="alternating rounds of (a) and (b)")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run of every figure")
    parser.add_argument("--skip-load", action="store_true", help="leave out (c)")
    parser.add_argument(
        "--mongodb-events",
        type=int,
        default=0,
        metavar="N",
        help="also (a) with N messages on MongoDB (SecantusDB) beside SQLite; 0 leaves it out",
    )
    parser.add_argument(
        "--postgresql-events",
        type=int,
        default=0,
        metavar="N",
        help="also (a) with N messages on PostgreSQL (events and read models) beside SQLite; 0 leaves it out",
    )
    parser.add_argument("--skip-rebuild", action="store_true", help="leave out (d)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        spec = json.loads(args.child)
        print(json.dumps(MEASUREMENTS[spec["name"]](**spec["kwargs"])))
        return 0
    if args.quick:
        args.events, args.agents, args.history, args.rebuild_events, args.repeat = 5_000, 100, 2_000, 20_000, 1
    results = run(args)
    print(table(results))
    if "mongodb" in results:
        mongo, lite = results["mongodb"]["mongodb"], results["mongodb"]["sqlite"]
        print(
            f"(f) ingest end to end on MongoDB  {mongo['lines'] / mongo['seconds']:,.0f} events/s  "
            f"{mongo['lines']:,} lines; SQLite on the same input {lite['lines'] / lite['seconds']:,.0f}/s "
            f"(ratio {lite['seconds'] / mongo['seconds']:.2f}); SecantusDB is a reimplementation: "
            "real MongoDB figures will differ"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"ingest-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
