"""How `serve` and `relay run` meet Kafka: the consumer worker and the relay sink, from configuration.

Environment, beyond AGENT_LEARNING_KAFKA (bootstrap servers):
  AGENT_LEARNING_KAFKA_GROUP            consumer group id (default agent-learning)
  AGENT_LEARNING_KAFKA_POLL_SECONDS     longest wait for a batch to fill (default 0.05; lower = less latency)
  AGENT_LEARNING_KAFKA_CLIENT_CONFIG    JSON object of extra librdkafka settings for every client
                                        (security, timeouts), e.g. {"session.timeout.ms": 10000}
  AGENT_LEARNING_RELAY_MODE             exactly-once (default) or at-least-once
  AGENT_LEARNING_KAFKA_CREATE_TOPICS    yes (default) creates missing topics at start; no leaves them to ops
  AGENT_LEARNING_TOPIC_*                topic names (see adapters/kafka_config.py)
"""

from __future__ import annotations

import json
import os
from typing import Any, Mapping

from confluent_kafka.admin import AdminClient

from adapters.bootstrap import Config, ConfigurationError, System
from adapters.kafka_config import KafkaTopics, client_config
from adapters.kafka_feedback_consumer import DEFAULT_POLL_SECONDS, ConsumerSettings, FeedbackConsumer
from adapters.kafka_sink import KafkaRelaySink, ensure_topics
from adapters.serve import ConsumerWorker
from adapters.service_metrics import ServiceMetrics

PRODUCER_ONLY = ("session.timeout.ms", "heartbeat.interval.ms", "group.id", "isolation.level",
                 "auto.offset.reset", "enable.auto.commit")


def extra_client_config(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    env = os.environ if env is None else env
    text = env.get("AGENT_LEARNING_KAFKA_CLIENT_CONFIG")
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError as error:
        raise ConfigurationError(f"AGENT_LEARNING_KAFKA_CLIENT_CONFIG is not JSON: {error}") from None
    if not isinstance(value, dict):
        raise ConfigurationError('AGENT_LEARNING_KAFKA_CLIENT_CONFIG must be a JSON object, e.g. {"acks": "all"}')
    return value


def _ensure_topics(config: Config, topics: KafkaTopics, extra: dict[str, Any]) -> None:
    if os.environ.get("AGENT_LEARNING_KAFKA_CREATE_TOPICS", "yes").lower() in ("no", "false", "0"):
        return
    admin_config = {k: v for k, v in extra.items() if k not in PRODUCER_ONLY}
    ensure_topics(AdminClient(client_config(config.kafka, **admin_config)), topics)


def kafka_relay_sink(config: Config) -> KafkaRelaySink:
    topics = KafkaTopics.from_env()
    extra = extra_client_config()
    _ensure_topics(config, topics, extra)
    mode = os.environ.get("AGENT_LEARNING_RELAY_MODE", "exactly-once")
    if mode not in ("exactly-once", "at-least-once"):
        raise ConfigurationError(f"AGENT_LEARNING_RELAY_MODE={mode!r}: use exactly-once or at-least-once")
    producer_config = {k: v for k, v in extra.items() if k not in PRODUCER_ONLY}
    return KafkaRelaySink(config.kafka, topics, exactly_once=mode == "exactly-once",
                          producer_config=producer_config, consumer_config=producer_config)


def kafka_consumer_worker(config: Config, system: System, metrics: ServiceMetrics) -> ConsumerWorker:
    topics = KafkaTopics.from_env()
    extra = extra_client_config()
    _ensure_topics(config, topics, extra)
    try:
        poll = float(os.environ.get("AGENT_LEARNING_KAFKA_POLL_SECONDS", DEFAULT_POLL_SECONDS))
    except ValueError:
        raise ConfigurationError("AGENT_LEARNING_KAFKA_POLL_SECONDS must be a number of seconds, e.g. 0.05") from None
    settings = ConsumerSettings(group_id=os.environ.get("AGENT_LEARNING_KAFKA_GROUP", "agent-learning"),
                                client=extra, poll_timeout=poll)
    consumer = FeedbackConsumer(system.service, config.kafka, topics, settings, on_batch=metrics.record_batch)
    return ConsumerWorker(consumer, system, metrics)
