"""The outbox relay's ceiling: how fast one relay publishes a full outbox, by sink, side by side.

    python bench/relay.py            # 100,000 feedback lines (~60,000 messages to publish), 3 rounds
    python bench/relay.py --quick    # 20,000 lines, 1 round (~1 minute)

The relay runs as one process (its transactional id fences a second), so its rate bounds what the
realtime loop can publish however many consumers record. One SQLite home is filled once with
`ingest` (`bench/ingest.py`'s realistic stream); then, in each round, the whole outbox is published
from position 0 by a fresh relay into each sink, one after the other, on a Tansu broker (memory
engine) started here:

  null          read the outbox, decode the events, map them to messages; nothing sent: the part of
                the relay that is ours
  at-least-once the Kafka sink without transactions: idempotent producer, every delivery checked
  exactly-once  the Kafka sink as `serve` runs it: one transaction per page of 1,000 notifications

Prints messages/s per sink (median of the rounds) and the ratio to `null`, and writes every number
to bench/results/relay-<UTC time>.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from confluent_kafka.admin import AdminClient  # noqa: E402

from adapters.bootstrap import Config, bootstrap  # noqa: E402
from adapters.files.jsonl_ingest import ingest_lines  # noqa: E402
from adapters.kafka.relay_sink import KafkaRelaySink, ensure_topics  # noqa: E402
from adapters.kafka.topics import KafkaTopics  # noqa: E402
from adapters.messages.outbound import OutboundMessage  # noqa: E402
from adapters.service.outbox_relay import RelaySink  # noqa: E402
from bench.ingest import feedback_lines  # noqa: E402
from infra.local_servers import KafkaBroker  # noqa: E402

SINKS = ("null", "at-least-once", "exactly-once")


class NullSink(RelaySink):
    """Keeps the position and counts the messages; sends nothing."""

    def __init__(self) -> None:
        self._position = 0
        self.messages = 0
        self.bytes = 0

    def position(self) -> int:
        return self._position

    def publish(self, messages: Sequence[OutboundMessage], position: int) -> None:
        self.messages += len(messages)
        self.bytes += sum(len(m.value) for m in messages)
        self._position = position

    def close(self) -> None:
        pass


def publish_all(system, sink: RelaySink) -> tuple[int, float]:
    relay = system.relay(sink)
    started = time.perf_counter()
    published = relay.relay_all()
    seconds = time.perf_counter() - started
    sink.close()
    return published, seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--agents", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="20,000 lines, 1 round")
    args = parser.parse_args()
    if args.quick:
        args.lines, args.rounds = 20_000, 1
    results: dict = {
        "when": datetime.now(timezone.utc).isoformat(),
        "machine": platform.platform(),
        "parameters": vars(args),
        "rounds": [],
    }
    with tempfile.TemporaryDirectory(prefix="bench-relay-") as work:
        system = bootstrap(Config(home=Path(work) / "home"))
        lines = itertools.islice(feedback_lines(args.agents), args.lines)
        started = time.perf_counter()
        ingest_lines(system.service, lines, "bench")
        print(f"ingested {args.lines:,} lines in {time.perf_counter() - started:.1f} s", flush=True)
        results["notifications"] = system.service.recorder.max_notification_id()
        broker = KafkaBroker.start(log_dir=Path(work) / "tansu")
        try:
            admin = AdminClient({"bootstrap.servers": broker.bootstrap})
            for round_ in range(1, args.rounds + 1):
                figures = {}
                for sink_name in SINKS:
                    if sink_name == "null":
                        sink: RelaySink = NullSink()
                    else:
                        names = KafkaTopics.prefixed(f"r{round_}-{sink_name}")
                        ensure_topics(admin, names, partitions=12)
                        sink = KafkaRelaySink(
                            broker.bootstrap,
                            names,
                            relay_name=f"bench-{round_}-{sink_name}",
                            exactly_once=sink_name == "exactly-once",
                        )
                    published, seconds = publish_all(system, sink)
                    figures[sink_name] = {"messages": published, "seconds": seconds, "rate": published / seconds}
                    print(
                        f"round {round_} {sink_name:13} {published:,} messages in {seconds:.2f} s: "
                        f"{published / seconds:,.0f}/s",
                        flush=True,
                    )
                results["rounds"].append(figures)
        finally:
            broker.stop()
            system.close()
    print(f"\n{results['notifications']:,} notifications; median of {args.rounds} round(s):")
    null_rate = statistics.median(r["null"]["rate"] for r in results["rounds"])
    for sink_name in SINKS:
        rate = statistics.median(r[sink_name]["rate"] for r in results["rounds"])
        results.setdefault("median_rate", {})[sink_name] = rate
        print(f"  {sink_name:13} {rate:9,.0f} messages/s   {rate / null_rate:.2f} × null")
    out = Path(__file__).parent / "results" / f"relay-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
