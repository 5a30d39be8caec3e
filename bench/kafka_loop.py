"""Kafka loop benchmark: feedback produced to `agent-feedback` → AgentLearningUpdated consumed from
`agent-learning-updates`, for `agent-learning serve` and, beside it, the naive design.

    python bench/kafka_loop.py            # 20,000 messages over 500 agents, 200 probes, 2 rounds (~10 min)
    python bench/kafka_loop.py --quick    # a small smoke run (~2 min)

It starts its own Tansu broker and SecantusDB, and measures for each design, in one run on the
same broker and workload (bench/ingest.py's feedback stream):
  throughput  a burst of N messages produced to a warm, idle loop; messages/s from the first
              produce to the consumption (read_committed) of the update of the last message of
              every agent (a thumbs_down stamped after everything else, so it is recognisable);
  latency     a steady background of ordinary feedback, and probes (a thumbs_down to a probe
              agent) at a steady rate: time from producing a probe to consuming its update;
  resources   peak RSS (VmHWM) and CPU seconds of the design's process; CPU of its document
              store (naive) and of the broker.
"ours" is `agent-learning serve` as a child process (embedded SQLite, or with `--store postgresql`
a PostgreSQL cluster from Debian's package, Kafka configured);
"naive" is bench/kafka_naive_consumer.py (a MongoDB document per agent, direct produce) on a fresh
SecantusDB per phase; "naive-nostore" is the same loop with its documents in a dict, i.e. with a
store that costs nothing: SecantusDB is a Python server, far slower than mongod, so the two naive
columns bracket what the naive design would do on a real MongoDB.
Rounds alternate the order of the designs; ratios are ours / naive of the same run.
Figures and the reading of them: bench/kafka_loop.md.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # infra/ and adapters/ from a checkout

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient  # noqa: E402
from ingest import feedback_lines  # noqa: E402 - bench/ is this script's own folder on sys.path

from adapters.kafka.relay_sink import ensure_topics  # noqa: E402
from adapters.kafka.topics import KafkaTopics  # noqa: E402
from domain.timestamps import parse_iso  # noqa: E402
from infra.local_servers import TANSU_CONSUMER_SETTINGS, KafkaBroker, MongoServer, free_port  # noqa: E402

RESULTS = Path(__file__).parent / "results"
NAIVE_CONSUMER = Path(__file__).parent / "kafka_naive_consumer.py"
PROBE_AGENTS = 20
DESIGNS = ("ours", "naive", "naive-nostore")
CLOCK_TICK = os.sysconf("SC_CLK_TCK")


def _progress(message: str) -> None:
    print(f"… {message}", file=sys.stderr, flush=True)


def _stamp(moment: datetime) -> str:
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


# ------------------------------------------------------------------ processes


class Child:
    """A design's process: its own session (Ctrl-C reaches the bench only), output to a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path):
        self.name = name
        self.log_path = log_path
        self.http: str | None = None  # ours: where serve answers /metrics
        with open(log_path, "ab") as log:
            self.popen = subprocess.Popen(
                argv, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def check_running(self) -> None:
        if self.popen.poll() is not None:
            raise RuntimeError(
                f"{self.name} exited with code {self.popen.returncode}; see {self.log_path}:\n"
                + "\n".join(self.log_path.read_text(errors="replace").splitlines()[-20:])
            )

    def stop(self, grace: float = 30.0) -> int | None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        return self.popen.returncode


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICK  # utime + stime


# ------------------------------------------------------------------ Kafka ends


class UpdateReader(threading.Thread):
    """Consumes an updates topic (read_committed, every partition assigned: no group join) and
    notes when each (agentId, occurredAt) was first seen; repeats of an event-id count as duplicates."""

    def __init__(self, bootstrap: str, topic: str, fetch_wait_ms: int):
        super().__init__(name=f"reader-{topic}", daemon=True)
        self.bootstrap, self.topic, self.fetch_wait_ms = bootstrap, topic, fetch_wait_ms
        self.seen: dict[tuple[str, datetime], float] = {}
        # (wall time seen, the update's Kafka CreateTime: when the relay called produce), both epoch seconds
        self.stamps: dict[tuple[str, datetime], tuple[float, float]] = {}
        self.event_ids: set[str] = set()
        self.received = 0
        self.changed = threading.Condition()
        self.stopping = threading.Event()
        self.ready = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._run()
        except BaseException as error:  # noqa: BLE001 - surfaced by wait_for
            self.error = error
            with self.changed:
                self.changed.notify_all()

    def _run(self) -> None:
        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": "bench-reader",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
                "fetch.wait.max.ms": self.fetch_wait_ms,
            }
        )
        try:
            partitions = consumer.list_topics(self.topic, timeout=10).topics[self.topic].partitions
            consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in partitions])
            self.ready.set()
            while not self.stopping.is_set():
                first = consumer.poll(0.05)
                if first is None:
                    continue
                now = time.monotonic()
                self._note([first, *consumer.consume(500, 0)], now)
        finally:
            consumer.close()

    def _note(self, messages: list, now: float) -> None:
        wall = time.time()
        with self.changed:
            for message in messages:
                if message.error() is not None:
                    continue
                self.received += 1
                event_id = dict(message.headers() or {}).get("event-id", b"").decode()
                if event_id:  # the consumers' dedup key; a message without one is always new
                    if event_id in self.event_ids:
                        continue
                    self.event_ids.add(event_id)
                body = json.loads(message.value())
                key = (body["agentId"], parse_iso(body["occurredAt"]))
                if key not in self.seen:
                    self.seen[key] = now
                    self.stamps[key] = (wall, message.timestamp()[1] / 1000)
            self.changed.notify_all()

    def wait_for(self, keys: set[tuple[str, datetime]], timeout: float, child: Child | None = None) -> float | None:
        """The time the last of `keys` was seen, or None after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                if self.error is not None:
                    raise RuntimeError(f"update reader failed: {self.error}") from self.error
                if keys <= self.seen.keys():
                    return max(self.seen[k] for k in keys)
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.changed.wait(min(left, 1.0))
                if child is not None:
                    child.check_running()

    def stop(self) -> None:
        self.stopping.set()
        self.join(10)


class FeedbackProducer:
    """Produces feedback lines keyed by agent, as Java clients place them (murmur2)."""

    def __init__(self, bootstrap: str, topic: str):
        self.topic = topic
        self.producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                "client.id": "bench-feedback",
                "linger.ms": 2,
                "partitioner": "murmur2_random",
                "queue.buffering.max.messages": 200_000,
            }
        )

    def send(self, key: bytes, value: bytes) -> None:
        while True:
            try:
                self.producer.produce(self.topic, key=key, value=value)
                return
            except BufferError:
                self.producer.poll(0.05)

    def poll(self) -> None:
        self.producer.poll(0)

    def flush(self) -> None:
        if self.producer.flush(60) > 0:
            raise RuntimeError("the broker did not take the benchmark's feedback within 60 s")


def keyed(line: bytes) -> tuple[bytes, bytes]:
    return json.loads(line)["agentId"].encode(), line


def probe(event_id: str, agent_id: str, at: datetime) -> bytes:
    """A strong signal: always recalculates (the agent is never frozen here), so it has its own update."""
    return json.dumps(
        {
            "type": "feedback",
            "eventId": event_id,
            "agentId": agent_id,
            "occurredAt": _stamp(at),
            "kind": "thumbs_down",
            "traits": {"empathy": 0.5},
            "action": "answer",
        }
    ).encode()


class Background(threading.Thread):
    """Ordinary feedback at a steady rate (sent in 10 ms slices), until stopped."""

    def __init__(self, producer: FeedbackProducer, lines: Iterator[bytes], rate: float):
        super().__init__(name="background", daemon=True)
        self.producer, self.lines, self.rate = producer, lines, rate
        self.stopping = threading.Event()
        self.sent = 0
        self.seconds = 0.0

    def run(self) -> None:
        started = time.monotonic()
        while not self.stopping.wait(0.01):
            self.seconds = time.monotonic() - started
            due = int(self.seconds * self.rate)
            for line in itertools.islice(self.lines, max(0, due - self.sent)):
                self.producer.send(*keyed(line))
                self.sent += 1
            self.producer.poll()

    def stop(self) -> None:
        self.stopping.set()
        self.join(10)


# ------------------------------------------------------------------ the designs


class Bench:
    def __init__(self, args: argparse.Namespace, broker: KafkaBroker, work: Path):
        self.args, self.broker, self.work = args, broker, work
        self.mongo: MongoServer | None = None  # naive's store, fresh for each of its phases
        self.client_config = {**TANSU_CONSUMER_SETTINGS, "fetch.wait.max.ms": args.fetch_wait_ms}
        self.postgres = None  # with --store postgresql: ours' events and read models, a database per phase
        if getattr(args, "store", "sqlite") == "postgresql":
            from infra.local_servers import PostgresServer

            self.postgres = PostgresServer.start(work / "postgresql")

    def topics(self, prefix: str) -> KafkaTopics:
        topics = KafkaTopics.prefixed(prefix)
        ensure_topics(AdminClient({"bootstrap.servers": self.broker.bootstrap}), topics)
        return topics

    def start(self, design: str, prefix: str, topics: KafkaTopics) -> Child:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_LEARNING_")}
        log = self.work / f"{prefix}.log"
        if design == "ours":
            env.update(
                {
                    "AGENT_LEARNING_HOME": str(self.work / prefix),
                    "AGENT_LEARNING_KAFKA": self.broker.bootstrap,
                    "AGENT_LEARNING_KAFKA_GROUP": f"{prefix}.agent-learning",
                    "AGENT_LEARNING_KAFKA_CLIENT_CONFIG": json.dumps(self.client_config),
                    "AGENT_LEARNING_TOPIC_FEEDBACK": topics.feedback,
                    "AGENT_LEARNING_TOPIC_DLQ": topics.dead_letters,
                    "AGENT_LEARNING_TOPIC_UPDATES": topics.learning_updates,
                    "AGENT_LEARNING_TOPIC_MODEL_UPDATES": topics.model_updates,
                    "AGENT_LEARNING_TOPIC_RELAY_POSITIONS": topics.relay_positions,
                }
            )
            if self.postgres is not None:
                url = self.postgres.create_database(prefix.replace("-", "_").replace(".", "_"))
                env.update({"AGENT_LEARNING_EVENT_STORE": url, "AGENT_LEARNING_READ_MODELS": url})
            http = f"127.0.0.1:{free_port()}"
            argv = [str(Path(sys.executable).parent / "agent-learning"), "serve", "--http", http]
        else:
            argv = [
                sys.executable,
                str(NAIVE_CONSUMER),
                "--bootstrap",
                self.broker.bootstrap,
                "--group",
                f"{prefix}.naive",
                "--feedback-topic",
                topics.feedback,
                "--updates-topic",
                topics.learning_updates,
                "--dlq-topic",
                topics.dead_letters,
                "--client-config",
                json.dumps(self.client_config),
            ]
            if self.mongo is not None:
                argv += ["--store", "mongodb", "--mongodb", self.mongo.url, "--database", "naive"]
            else:
                argv += ["--store", "memory"]
        child = Child(design, argv, env, log)
        child.http = http if design == "ours" else None
        return child

    @contextlib.contextmanager
    def running(self, design: str, prefix: str) -> Iterator[tuple[Child, FeedbackProducer, UpdateReader, dict]]:
        """The design's process with a producer to its feedback topic and a reader of its updates;
        on the way out `usage` gets the process's peak RSS and what the updates topic held."""
        topics = self.topics(prefix)
        reader = UpdateReader(self.broker.bootstrap, topics.learning_updates, self.args.fetch_wait_ms)
        reader.start()
        reader.ready.wait(15)
        producer = FeedbackProducer(self.broker.bootstrap, topics.feedback)
        usage: dict[str, Any] = {}
        child = None
        try:
            if design == "naive":
                self.mongo = MongoServer.start(data_dir=self.work / f"{prefix}.secantusdb")
            child = self.start(design, prefix, topics)
            yield child, producer, reader, usage
            child.check_running()
            if child.http is not None:
                usage["serve_stages"] = serve_stages(child.http)
            usage["peak_rss_mib"] = peak_rss_mib(child.pid)
            if self.mongo is not None:
                usage["store_peak_rss_mib"] = peak_rss_mib(self.mongo.process.pid)
        finally:
            code = child.stop() if child is not None else None
            if self.mongo is not None:
                self.mongo.stop()
                self.mongo = None
            reader.stop()
            producer.flush()
            usage["exit_code"] = code
            usage["updates_received"] = reader.received
            usage["updates_unique"] = len(reader.event_ids)

    def cpu(self, child: Child) -> dict[str, float]:
        """CPU seconds so far of the design's process, its document store (ours: SQLite, inside the
        process; naive: SecantusDB) and the broker."""
        store = cpu_seconds(self.mongo.process.pid) if self.mongo is not None else 0.0
        return {
            "cpu_seconds": cpu_seconds(child.pid),
            "store_cpu_seconds": store,
            "broker_cpu_seconds": cpu_seconds(self.broker.process.pid),
        }

    def warm_up(
        self, producer: FeedbackProducer, reader: UpdateReader, child: Child, agent_ids: list[str], tag: str
    ) -> None:
        """One probe per agent, and wait for every update: the group has joined, the pipeline runs."""
        keys = set()
        at = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(seconds=1)
        for i, agent_id in enumerate(agent_ids):
            producer.send(agent_id.encode(), probe(f"{tag}-{i}", agent_id, at))
            keys.add((agent_id, at))
        producer.flush()
        if reader.wait_for(keys, 180, child) is None:
            raise RuntimeError(f"{child.name}: no update for the warm-up messages within 180 s; see {child.log_path}")

    # -------------------------------------------------------------- throughput

    def throughput(self, design: str, prefix: str) -> dict:
        args = self.args
        lines = list(itertools.islice(feedback_lines(args.agents, seed=7), args.messages))
        last = max(parse_iso(json.loads(line)["occurredAt"]) for line in lines)
        end = last + timedelta(seconds=1)  # every agent's final message: its update is the last one
        agents = [f"agent-{i:05d}" for i in range(args.agents)]
        burst = [keyed(line) for line in lines]
        burst += [(a.encode(), probe(f"final-{i}", a, end)) for i, a in enumerate(agents)]
        expected = {(a, end) for a in agents}
        with self.running(design, prefix) as (child, producer, reader, usage):
            self.warm_up(producer, reader, child, ["warm-up"], "warm-up")
            cpu_before = self.cpu(child)
            started = time.monotonic()
            for key, value in burst:
                producer.send(key, value)
            producer.flush()
            produced = time.monotonic()
            finished = reader.wait_for(expected, args.timeout, child)
            if finished is None:
                missing = len(expected - reader.seen.keys())
                raise RuntimeError(
                    f"{design}: {missing} of {len(expected)} final updates missing after "
                    f"{args.timeout} s; see {child.log_path}"
                )
            cpu = {name: seconds - cpu_before[name] for name, seconds in self.cpu(child).items()}
            result = {
                **cpu,
                "design": design,
                "messages": len(burst),
                "seconds": finished - started,
                "produce_seconds": produced - started,
                "messages_per_s": len(burst) / (finished - started),
            }
        result.update(usage)
        result["updates_per_message"] = usage["updates_unique"] / len(burst)
        return result

    # ----------------------------------------------------------------- latency

    def latency(self, design: str, prefix: str) -> dict:
        args = self.args
        probe_agents = [f"probe-{i:03d}" for i in range(PROBE_AGENTS)]
        with self.running(design, prefix) as (child, producer, reader, usage):
            self.warm_up(producer, reader, child, probe_agents, "warm-up")
            background = Background(producer, feedback_lines(args.agents, seed=11), args.background_rate)
            background.start()
            try:
                time.sleep(args.settle)
                sent: dict[tuple[str, datetime], float] = {}
                sent_wall: dict[tuple[str, datetime], float] = {}
                started = time.monotonic()
                last_at: dict[str, datetime] = {}
                for i in range(args.probes):
                    pause = started + i / args.probe_rate - time.monotonic()
                    if pause > 0:
                        time.sleep(pause)
                    agent_id = probe_agents[i % PROBE_AGENTS]
                    now = datetime.now(timezone.utc)
                    at = now.replace(microsecond=now.microsecond // 1000 * 1000)  # the wire has milliseconds
                    if agent_id in last_at:  # (agent, occurredAt) names the probe's update: keep it unique
                        at = max(at, last_at[agent_id] + timedelta(milliseconds=1))
                    last_at[agent_id] = at
                    sent[(agent_id, at)] = time.monotonic()
                    sent_wall[(agent_id, at)] = time.time()
                    producer.send(agent_id.encode(), probe(f"probe-{i}", agent_id, at))
                    producer.poll()
                probing = time.monotonic() - started
                # a design that cannot keep up with the background would make this wait without end
                reader.wait_for(set(sent), args.latency_wait, child)
            finally:
                background.stop()
            latencies = [reader.seen[k] - t if k in reader.seen else None for k, t in sent.items()]
            result = {
                "design": design,
                "probes": len(sent),
                "received": sum(k in reader.seen for k in sent),
                "background_rate": args.background_rate,
                "background_sent": background.sent,
                "background_achieved_rate": background.sent / max(background.seconds, 1e-9),
                "probe_seconds": probing,
                "latencies_s": latencies,
            }
        result.update(usage)
        result.update(latency_summary(latencies))
        result["stages"] = stage_summary(sent_wall, reader.stamps)
        return result

    # ----------------------------------------------------------------- context

    def kafka_floor(self) -> dict:
        """Produce a probe and consume it back, nothing in between: the broker's share of a latency."""
        topics = self.topics("floor")
        reader = UpdateReader(self.broker.bootstrap, topics.feedback, self.args.fetch_wait_ms)
        reader.start()
        reader.ready.wait(15)
        producer = FeedbackProducer(self.broker.bootstrap, topics.feedback)
        sent = {}
        try:
            time.sleep(1)
            for i in range(self.args.probes):
                at = datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=i)
                sent[("floor", at)] = time.monotonic()
                producer.send(b"floor", probe(f"floor-{i}", "floor", at))
                producer.poll()
                time.sleep(1 / self.args.probe_rate / 4)
            producer.flush()
            reader.wait_for(set(sent), 30)
        finally:
            reader.stop()
        return latency_summary([reader.seen[k] - t if k in reader.seen else None for k, t in sent.items()])

    def mongo_round_trips(self, count: int = 3000) -> dict:
        """The naive design's store work alone, from one client: find_one + replace_one of an agent
        document (as the naive consumer writes them), over the run's number of agents."""
        from kafka_naive_document import new_document
        from pymongo import MongoClient

        from domain.settings import DEFAULT_SETTINGS

        server = MongoServer.start(data_dir=self.work / "round-trips.secantusdb")
        client: MongoClient = MongoClient(server.url, tz_aware=True)
        try:
            collection = client["round_trips"]["agents"]
            at = datetime(2026, 1, 5, tzinfo=timezone.utc)
            started = time.monotonic()
            for i in range(count):
                agent_id = f"agent-{i % self.args.agents:05d}"
                doc = collection.find_one({"_id": agent_id}) or new_document(agent_id, at, DEFAULT_SETTINGS)
                doc["feedbackCount"] += 1
                collection.replace_one({"_id": agent_id}, doc, upsert=True)
            seconds = time.monotonic() - started
        finally:
            client.close()
            server.stop()
        return {"pairs": count, "pairs_per_s": count / seconds}


def serve_stages(http: str) -> dict:
    """From serve's /metrics: the mean and the p99 bucket bound of a consumed batch's processing and of
    a relay page's publishing, over the whole phase (warm-up included)."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://{http}/metrics", timeout=10) as response:
        text = response.read().decode()
    stages = {}
    for family in text_string_to_metric_families(text):
        if family.name not in ("agent_learning_consumer_batch_seconds", "agent_learning_relay_page_seconds"):
            continue
        values = {s.name: s.value for s in family.samples if not s.name.endswith("_bucket")}
        buckets = sorted((float(s.labels["le"]), s.value) for s in family.samples if s.name.endswith("_bucket"))
        count = values.get(f"{family.name}_count", 0.0)
        p99 = next((bound for bound, seen in buckets if count and seen >= 0.99 * count), None)
        stages[family.name.removeprefix("agent_learning_").removesuffix("_seconds")] = {
            "count": count,
            "mean_ms": 1000 * values.get(f"{family.name}_sum", 0.0) / count if count else None,
            "p99_at_most_ms": 1000 * p99 if p99 is not None else None,
        }
    return stages


def stage_summary(sent: dict, stamps: dict) -> dict:
    """Where a probe's latency goes, from wall-clock stamps on one machine: `to_relay`, from producing the
    probe to the relay producing its update (the update's Kafka CreateTime: consumer fetch, parse,
    record and commit, the relay's wake and outbox read); `relay_to_reader`, from there to the reader
    seeing it (the relay's transaction commit, the broker, the reader's fetch). Median and p99 in ms."""
    to_relay = sorted(stamps[k][1] - t for k, t in sent.items() if k in stamps)
    onward = sorted(stamps[k][0] - stamps[k][1] for k in sent if k in stamps)

    def quantiles(values: list[float]) -> dict:
        if not values:
            return {"p50_ms": None, "p99_ms": None}
        return {
            "p50_ms": 1000 * statistics.median(values),
            "p99_ms": 1000 * values[min(len(values) - 1, int(0.99 * len(values)))],
        }

    return {"to_relay": quantiles(to_relay), "relay_to_reader": quantiles(onward)}


def latency_summary(latencies: list[float | None]) -> dict:
    """Quantiles in ms; a probe whose update did not come in time (None) counts as infinitely late,
    and a quantile that lands on one is None ("not within the wait")."""
    ordered = sorted(x if x is not None else float("inf") for x in latencies)

    def ms(value: float) -> float | None:
        return None if value == float("inf") else value * 1000

    def quantile(q: float) -> float | None:
        return ms(ordered[min(len(ordered) - 1, int(q * len(ordered)))])

    quarter = max(1, len(latencies) // 4)

    def median(part: list[float | None]) -> float | None:
        return ms(statistics.median(x if x is not None else float("inf") for x in part))

    return {
        "p50_ms": quantile(0.50),
        "p90_ms": quantile(0.90),
        "p99_ms": quantile(0.99),
        "max_ms": ms(ordered[-1]),
        "missing": sum(x is None for x in latencies),
        # a design that falls behind the background shows as a rising latency
        "first_quarter_median_ms": median(latencies[:quarter]),
        "last_quarter_median_ms": median(latencies[-quarter:]),
    }


# ------------------------------------------------------------------ driver


def run(args: argparse.Namespace, work: Path) -> dict:
    results: dict[str, Any] = {
        "machine": {
            "nproc": len(os.sched_getaffinity(0)),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "parameters": dict(vars(args)),
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "throughput": [],
        "latency": [],
    }
    broker = KafkaBroker.start(log_dir=work / "tansu")
    try:
        bench = Bench(args, broker, work)
        results["context"] = {"kafka_floor": bench.kafka_floor(), "mongo": bench.mongo_round_trips()}
        _progress(
            f"context: Kafka produce→consume p50 {results['context']['kafka_floor']['p50_ms']:.1f} ms, "
            f"SecantusDB find+replace {results['context']['mongo']['pairs_per_s']:,.0f}/s"
        )
        for round_ in range(1, args.repeat + 1):
            order = DESIGNS if round_ % 2 else DESIGNS[::-1]  # drift of the machine hits every design
            for design in order:
                result = bench.throughput(design, f"{design}-tp{round_}")
                result["round"] = round_
                results["throughput"].append(result)
                _progress(
                    f"round {round_} {design} throughput: {result['messages_per_s']:,.0f} msg/s "
                    f"({result['seconds']:.1f} s), peak RSS {result['peak_rss_mib']:.0f} MiB"
                )
            for design in order:
                result = bench.latency(design, f"{design}-lat{round_}")
                result["round"] = round_
                results["latency"].append(result)
                _progress(
                    f"round {round_} {design} latency: p50 {_ms(result['p50_ms'])}, "
                    f"p99 {_ms(result['p99_ms'])} ({result['received']}/{result['probes']} probes); "
                    + ", ".join(
                        f"{stage} p50 {_ms(q['p50_ms'])} p99 {_ms(q['p99_ms'])}"
                        for stage, q in result["stages"].items()
                    )
                    + "".join(
                        f"; serve {stage} mean {_ms(q['mean_ms'])} p99 ≤ {_ms(q['p99_at_most_ms'])} ({q['count']:.0f})"
                        for stage, q in result.get("serve_stages", {}).items()
                    )
                )
        results["broker_peak_rss_mib"] = peak_rss_mib(broker.process.pid)
    finally:
        broker.stop()
        if "bench" in locals() and bench.postgres is not None:
            bench.postgres.stop()
    results["summary"] = summarise(results)
    return results


def summarise(results: dict) -> dict:
    summary: dict[str, Any] = {}
    for design in DESIGNS:
        tp = [r for r in results["throughput"] if r["design"] == design]
        lat = [r for r in results["latency"] if r["design"] == design]
        per_message = {
            name: statistics.median(r[name] / r["messages"] * 1000 for r in tp)
            for name in ("cpu_seconds", "store_cpu_seconds", "broker_cpu_seconds")
        }
        summary[design] = {
            "messages_per_s": statistics.median(r["messages_per_s"] for r in tp),
            "cpu_ms_per_message": per_message["cpu_seconds"],
            "store_cpu_ms_per_message": per_message["store_cpu_seconds"],
            "broker_cpu_ms_per_message": per_message["broker_cpu_seconds"],
            "updates_per_message": statistics.median(r["updates_per_message"] for r in tp),
            "duplicate_updates": sum(r["updates_received"] - r["updates_unique"] for r in tp + lat),
            "peak_rss_mib": max(r["peak_rss_mib"] for r in tp + lat),
            "store_peak_rss_mib": max((r.get("store_peak_rss_mib", 0.0) for r in tp + lat), default=0.0),
            "background_achieved_rate": min(r["background_achieved_rate"] for r in lat),
            **latency_summary([x for r in lat for x in r["latencies_s"]]),
        }
    summary["ratios"] = {other: ratios(summary["ours"], summary[other]) for other in DESIGNS[1:]}
    return summary


def ratios(ours: dict, other: dict) -> dict:
    def ratio(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None or b == 0 else a / b

    def total_cpu(d: dict) -> float:
        return d["cpu_ms_per_message"] + d["store_cpu_ms_per_message"]

    return {
        "throughput": ratio(ours["messages_per_s"], other["messages_per_s"]),
        "p50": ratio(ours["p50_ms"], other["p50_ms"]),
        "p99": ratio(ours["p99_ms"], other["p99_ms"]),
        "cpu_per_message_with_store": ratio(total_cpu(ours), total_cpu(other)),
        "peak_rss": ratio(ours["peak_rss_mib"], other["peak_rss_mib"]),
    }


def _ms(value: float | None) -> str:
    return "not in time" if value is None else f"{value:,.0f} ms"


def _x(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def table(results: dict) -> str:
    s = results["summary"]
    d = [s[name] for name in DESIGNS]
    r = [s["ratios"][name] for name in DESIGNS[1:]]
    wait = results["parameters"]["latency_wait"]

    def row(label: str, values: list[str], ratio_values: list[str] = ("", "")) -> tuple[str, ...]:
        return (label, *values, *ratio_values)

    def ms(value: float | None) -> str:
        return f"> {wait:.0f} s" if value is None else f"{value:,.0f}"

    rows = [
        ("", "ours (serve)", "naive", "naive-nostore", "ours/naive", "ours/nostore"),
        row(
            "throughput, msg/s (median of rounds)",
            [f"{x['messages_per_s']:,.0f}" for x in d],
            [_x(x["throughput"]) for x in r],
        ),
        row("latency p50, ms", [ms(x["p50_ms"]) for x in d], [_x(x["p50"]) for x in r]),
        row("latency p99, ms", [ms(x["p99_ms"]) for x in d], [_x(x["p99"]) for x in r]),
        row(
            "latency median, 1st / last quarter, ms",
            [f"{ms(x['first_quarter_median_ms'])} / {ms(x['last_quarter_median_ms'])}" for x in d],
        ),
        row(f"probes without an update within {wait:.0f} s", [f"{x['missing']}" for x in d]),
        row("background achieved, msg/s (lowest)", [f"{x['background_achieved_rate']:,.0f}" for x in d]),
        row("CPU ms/message: process", [f"{x['cpu_ms_per_message']:.2f}" for x in d]),
        row(
            "CPU ms/message: process + store",
            [f"{x['cpu_ms_per_message'] + x['store_cpu_ms_per_message']:.2f}" for x in d],
            [_x(x["cpu_per_message_with_store"]) for x in r],
        ),
        row("CPU ms/message: broker", [f"{x['broker_cpu_ms_per_message']:.2f}" for x in d]),
        row("peak RSS of the process, MiB", [f"{x['peak_rss_mib']:,.0f}" for x in d], [_x(x["peak_rss"]) for x in r]),
        row("peak RSS of the store server, MiB", ["(in process)", f"{d[1]['store_peak_rss_mib']:,.0f}", "–"]),
        row("updates per message", [f"{x['updates_per_message']:.3f}" for x in d]),
        row("duplicate updates seen (same event-id)", [f"{x['duplicate_updates']}" for x in d]),
    ]
    widths = [max(len(row_[i]) for row_ in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join([f"{row_[0]:<{widths[0]}}", *(f"{c:>{w}}" for c, w in zip(row_[1:], widths[1:]))]) for row_ in rows
    ]
    context = results["context"]
    floor = context["kafka_floor"]
    lines.append(
        f"context: Tansu produce→consume alone p50 {floor['p50_ms']:.1f} ms, p99 {floor['p99_ms']:.1f} ms; "
        f"SecantusDB find_one+replace_one of an agent document {context['mongo']['pairs_per_s']:,.0f} "
        f"pairs/s (one client); Tansu peak RSS {results['broker_peak_rss_mib']:,.0f} MiB"
    )
    return "\n".join(lines)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=20_000, help="feedback messages in the throughput burst")
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--probes", type=int, default=200, help="strong signals timed for the latency")
    parser.add_argument("--probe-rate", type=float, default=5.0, help="probes per second")
    parser.add_argument(
        "--background-rate", type=float, default=500.0, help="ordinary feedback per second while probing"
    )
    parser.add_argument("--settle", type=float, default=5.0, help="seconds of background before the first probe")
    parser.add_argument("--repeat", type=int, default=2, help="rounds; the designs' order alternates")
    parser.add_argument(
        "--fetch-wait-ms",
        type=int,
        default=10,
        help="fetch.wait.max.ms of every consumer: "
        "Tansu answers a waiting fetch only when it times out, not when data arrives",
    )
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for a burst's updates")
    parser.add_argument(
        "--latency-wait",
        type=float,
        default=60.0,
        help="seconds to wait for the probes' updates after the last probe; later ones count as not in time",
    )
    parser.add_argument(
        "--store",
        choices=["sqlite", "postgresql"],
        default="sqlite",
        help="ours' events and read models: the embedded SQLite (default) or a PostgreSQL cluster it starts",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, one round: a smoke run")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, stores)")
    args = parser.parse_args(argv)
    if args.quick:
        args.messages, args.agents, args.probes, args.probe_rate = 2_000, 100, 40, 10.0
        args.background_rate, args.settle, args.repeat, args.latency_wait = 200.0, 2.0, 1, 30.0
    # SIGTERM unwinds like Ctrl-C, so every child and server is stopped by the `finally`s.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _interrupt)
    work = Path(tempfile.mkdtemp(prefix="agent-learning-kafka-bench-"))
    try:
        results = run(args, work)
    except KeyboardInterrupt:
        print("interrupted: servers and child processes stopped", file=sys.stderr)
        return 130
    finally:
        if args.keep:
            print(f"work folder kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(table(results))
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"kafka-loop-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
