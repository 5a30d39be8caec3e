"""The worker's Prometheus metrics: what operators watch (lags, throughput, triggers, dead letters)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from adapters.service.learning_service import BatchOutcome

STAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.messages = Counter("agent_learning_messages", "Messages handled, by outcome", ["outcome"], registry=r)
        self.events = Counter("agent_learning_events_recorded", "Events recorded in the event store", registry=r)
        self.recalculations = Counter(
            "agent_learning_recalculations", "Policy recalculations, by trigger", ["trigger"], registry=r
        )
        self.dead_letters = Counter("agent_learning_dead_letters", "Messages rejected to the dead letters", registry=r)
        self.consumer_lag = Gauge(
            "agent_learning_consumer_lag",
            "Messages behind the end of each partition",
            ["topic", "partition"],
            registry=r,
        )
        self.relay_lag = Gauge("agent_learning_relay_lag", "Notifications the relay has not yet published", registry=r)
        self.projection_lag = Gauge(
            "agent_learning_projection_lag", "Notifications a read model is behind", ["projection"], registry=r
        )
        self.published = Counter("agent_learning_relay_published", "Messages the relay published", registry=r)
        self.relay_errors = Counter(
            "agent_learning_relay_errors", "Relay pages that failed to publish (the sink is replaced)", registry=r
        )
        self.relay_last_published = Gauge(
            "agent_learning_relay_last_published_timestamp_seconds",
            "When the relay last published a message (Unix time); 0 before the first",
            registry=r,
        )
        self.freezes = Counter("agent_learning_freezes", "Agents frozen (sentiment or an operator)", registry=r)
        self.projection_failed = Gauge(
            "agent_learning_projection_failed",
            "1 while a read model is stopped on an event it cannot apply",
            ["projection"],
            registry=r,
        )
        self.frozen_agents = Gauge("agent_learning_frozen_agents", "Agents whose updates are frozen now", registry=r)
        self.training_jobs = Gauge(
            "agent_learning_training_jobs",
            "Training jobs by status, as the read model has them",
            ["status"],
            registry=r,
        )

        # Where a message's time goes inside serve (bench/kafka_loop.py reads these beside its own stamps).
        self.consumer_batch_seconds = Histogram(
            "agent_learning_consumer_batch_seconds",
            "Seconds to parse, decide, record and commit one consumed batch (after it arrived)",
            buckets=STAGE_BUCKETS,
            registry=r,
        )
        self.relay_page_seconds = Histogram(
            "agent_learning_relay_page_seconds",
            "Seconds to read, map and publish one outbox page that had messages (its commit included)",
            buckets=STAGE_BUCKETS,
            registry=r,
        )

    def record_batch(self, outcome: BatchOutcome) -> None:
        self.messages.labels("recorded").inc(outcome.recorded)
        self.messages.labels("duplicate").inc(outcome.duplicates)
        self.messages.labels("rejected").inc(len(outcome.rejected))
        self.dead_letters.inc(len(outcome.rejected))
        self.events.inc(outcome.events)
        self.freezes.inc(outcome.freezes)
        for trigger, count in outcome.recalculations.items():
            self.recalculations.labels(trigger).inc(count)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
