"""Every `AGENT_LEARNING_*` variable, parsed once into one `Config`: the only module that reads the environment.

A value that does not parse raises `ConfigurationError` naming the variable, the value
and an example. Everything else takes a `Config` (or one of its sections) as an argument,
so tests build one directly and `bootstrap` wires the same graph from it.

| variable | section | meaning (default) |
|---|---|---|
| AGENT_LEARNING_HOME | Config.home | the embedded store's folder (./.agent-learning) |
| AGENT_LEARNING_EVENT_STORE | Config.event_store | sqlite, mongodb://host:port/database or postgresql://user@host:port/database (sqlite) |
| AGENT_LEARNING_READ_MODELS | Config.read_models | sqlite, mongodb://host:port/database or postgresql://user@host:port/database (sqlite) |
| AGENT_LEARNING_KAFKA | Config.kafka | bootstrap servers; unset means no Kafka |
| AGENT_LEARNING_HTTP | Config.http | address of the HTTP API (127.0.0.1:8080) |
| AGENT_LEARNING_SERVE_RELAY | Config.serve_relay | no: `serve` leaves publishing to `relay run` (yes) |
| AGENT_LEARNING_SERVE_TRAINING | Config.serve_training | yes: `serve` also trains queued jobs, as `jobs work` does (no) |
| AGENT_LEARNING_BEHIND_TLS | Config.behind_tls | yes: clients reach the HTTP API over HTTPS (a TLS proxy in front), so the session cookie is Secure (no) |
| AGENT_LEARNING_ACCEPTED_YEARS | Config.accepted_years | the UTC years an `occurredAt` may fall in, FIRST-LAST (2000-2100) |
| AGENT_LEARNING_KAFKA_GROUP | KafkaSettings.group | consumer group id (agent-learning) |
| AGENT_LEARNING_KAFKA_POLL_SECONDS | KafkaSettings.poll_seconds | longest wait for a batch to fill (0.05) |
| AGENT_LEARNING_KAFKA_CLIENT_CONFIG | KafkaSettings.client | JSON object of extra librdkafka settings ({}) |
| AGENT_LEARNING_RELAY_MODE | KafkaSettings.relay_mode | exactly-once or at-least-once (exactly-once) |
| AGENT_LEARNING_KAFKA_CREATE_TOPICS | KafkaSettings.create_topics | no leaves missing topics to ops (yes) |
| AGENT_LEARNING_TOPIC_FEEDBACK, _DLQ, _UPDATES, _MODEL_UPDATES, _RELAY_POSITIONS | KafkaSettings.topics | topic names (the contract's) |
| AGENT_LEARNING_DATASETS_DIR, AGENT_LEARNING_MODELS_DIR | BatchOverrides | where datasets and adapters go (HOME/datasets, HOME/models) |
| AGENT_LEARNING_JOBS_LEASE_SECONDS, _DEADLINE_SECONDS, _MAX_RETRIES, _RETRY_BACKOFF_SECONDS, _MAX_WAIT_SECONDS | BatchOverrides | the batch loop's timings (docs/batch.md) |
| AGENT_LEARNING_BASE_MODEL, AGENT_LEARNING_TRAIN_MAX_STEPS | BatchOverrides | the base model and steps per fine-tune |
| AGENT_LEARNING_TRAINER, AGENT_LEARNING_TRAINER_COMMAND | TrainerSettings | lora or command, and the command |
| AGENT_LEARNING_JOB_ID, AGENT_LEARNING_TRAIN_SEED | TrainerSettings | what the `command` trainer hands its command |
| AGENT_LEARNING_TRAIN_LEARNING_RATE, AGENT_LEARNING_TRAIN_LORA_RANK, AGENT_LEARNING_TRAIN_INIT_ADAPTER | TrainerSettings | the job's hyperparameters and warm start, as the `command` trainer hands them on |
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from attrs import field, frozen

from adapters.kafka.topics import DEFAULT_GROUP_ID as DEFAULT_GROUP
from adapters.kafka.topics import DEFAULT_POLL_SECONDS, KafkaTopics
from domain.training_hyperparameters import DEFAULT_LEARNING_RATE, DEFAULT_LORA_RANK

DEFAULT_HOME = "./.agent-learning"
DEFAULT_HTTP = "127.0.0.1:8080"
RELAY_MODES = ("exactly-once", "at-least-once")
NO = ("no", "false", "0")


class ConfigurationError(ValueError):
    """A setting that cannot be used; the message names the variable and what to set instead."""


@frozen
class KafkaSettings:
    group: str = DEFAULT_GROUP
    poll_seconds: float = DEFAULT_POLL_SECONDS
    client: Mapping[str, Any] = field(factory=dict)  # extra librdkafka settings, dotted names
    relay_mode: str = "exactly-once"
    create_topics: bool = True
    topics: KafkaTopics = field(factory=KafkaTopics)


@frozen
class BatchOverrides:
    """The batch loop's settings as given; None leaves the default (`jobs/batch_settings.py`) in force."""

    datasets_dir: Path | None = None
    models_dir: Path | None = None
    lease_seconds: float | None = None
    deadline_seconds: float | None = None
    max_retries: int | None = None
    retry_backoff_seconds: float | None = None
    max_wait_seconds: float | None = None
    base_model: str | None = None
    max_steps: int | None = None


@frozen
class TrainerSettings:
    choice: str = ""  # lora | command | "" (lora when installed, else command when a command is set)
    command: str = ""
    # What the `command` trainer's child process inherits (PATH and the rest), and what the
    # `lora` trainer run as that command reads back.
    inherited: Mapping[str, str] = field(factory=dict, repr=False)  # never printed: it holds secrets too
    job_id: str | None = None
    seed: int = 0
    # What a job asks of a trainer run as a command (`python -m jobs.trainers.lora`), set by the
    # `command` trainer: the SFT learning rate, the LoRA rank and a warm start's parent adapter.
    learning_rate: float = DEFAULT_LEARNING_RATE
    lora_rank: int = DEFAULT_LORA_RANK
    init_adapter: Path | None = None


@frozen
class Config:
    home: Path
    event_store: str = "sqlite"
    read_models: str = "sqlite"
    kafka: str | None = None
    http: str = DEFAULT_HTTP
    serve_relay: bool = True
    serve_training: bool = False
    kafka_settings: KafkaSettings = field(factory=KafkaSettings)
    batch: BatchOverrides = field(factory=BatchOverrides)
    trainer: TrainerSettings = field(factory=TrainerSettings)
    accepted_years: tuple[int, int] | None = None  # None: LearningSettings' (2000–2100)
    behind_tls: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, home: str | None = None) -> Config:
        env = os.environ if env is None else env
        read = _Reader(env)
        return cls(
            home=Path(home or read.text("AGENT_LEARNING_HOME") or DEFAULT_HOME),
            event_store=read.text("AGENT_LEARNING_EVENT_STORE") or "sqlite",
            read_models=read.text("AGENT_LEARNING_READ_MODELS") or "sqlite",
            kafka=read.text("AGENT_LEARNING_KAFKA") or None,
            http=read.text("AGENT_LEARNING_HTTP") or DEFAULT_HTTP,
            serve_relay=read.flag("AGENT_LEARNING_SERVE_RELAY"),
            serve_training=read.flag("AGENT_LEARNING_SERVE_TRAINING", default=False),
            accepted_years=read.year_range("AGENT_LEARNING_ACCEPTED_YEARS"),
            behind_tls=read.flag("AGENT_LEARNING_BEHIND_TLS", default=False),
            kafka_settings=_kafka_settings(read),
            batch=_batch_overrides(read),
            trainer=TrainerSettings(
                choice=(read.text("AGENT_LEARNING_TRAINER") or "").strip().lower(),
                command=read.text("AGENT_LEARNING_TRAINER_COMMAND") or "",
                inherited=dict(env),
                job_id=read.text("AGENT_LEARNING_JOB_ID") or None,
                seed=read.integer("AGENT_LEARNING_TRAIN_SEED") or 0,
                learning_rate=read.number("AGENT_LEARNING_TRAIN_LEARNING_RATE", "0.0002") or DEFAULT_LEARNING_RATE,
                lora_rank=read.integer("AGENT_LEARNING_TRAIN_LORA_RANK", "8") or DEFAULT_LORA_RANK,
                init_adapter=Path(init) if (init := read.text("AGENT_LEARNING_TRAIN_INIT_ADAPTER")) else None,
            ),
        )


class _Reader:
    """Typed reads of one mapping; each error names the variable and gives an example."""

    def __init__(self, env: Mapping[str, str]):
        self.env = env

    def text(self, name: str) -> str | None:
        value = self.env.get(name)
        return value if value is None or value.strip() else None

    def flag(self, name: str, default: bool = True) -> bool:
        text = self.text(name)
        if text is None:
            return default
        return text.strip().lower() not in NO

    def seconds(self, name: str, example: str = "600") -> float | None:
        return self._float(name, example, "a number of seconds", lambda value: value >= 0, "must not be negative")

    def number(self, name: str, example: str) -> float | None:
        return self._float(
            name, example, "a number", lambda value: 0 < value < float("inf"), "must be a positive number"
        )

    def _float(self, name: str, example: str, what: str, fits, bound: str) -> float | None:
        text = self.text(name)
        if text is None:
            return None
        try:
            value = float(text)
        except ValueError:
            raise ConfigurationError(f"{name}={text!r} is not {what}; e.g. {name}={example}") from None
        if not fits(value):
            raise ConfigurationError(f"{name}={text!r} {bound}")
        return value

    def integer(self, name: str, example: str = "3") -> int | None:
        text = self.text(name)
        if text is None:
            return None
        try:
            value = int(text)
        except ValueError:
            raise ConfigurationError(f"{name}={text!r} is not a whole number; e.g. {name}={example}") from None
        if value < 0:
            raise ConfigurationError(f"{name}={text!r} must not be negative")
        return value

    def year_range(self, name: str) -> tuple[int, int] | None:
        text = self.text(name)
        if text is None:
            return None
        first, _, last = text.strip().partition("-")
        try:
            years = (int(first), int(last))
        except ValueError:
            raise ConfigurationError(f"{name}={text!r} is not a range of years; e.g. {name}=2000-2100") from None
        if not 1 <= years[0] <= years[1] <= 9998:
            raise ConfigurationError(f"{name}={text!r}: the first year must not be after the last, both in 1–9998")
        return years

    def json_object(self, name: str, example: str) -> dict[str, Any]:
        text = self.text(name)
        if text is None:
            return {}
        try:
            value = json.loads(text)
        except ValueError as error:
            raise ConfigurationError(f"{name} is not JSON: {error}") from None
        if not isinstance(value, dict):
            raise ConfigurationError(f"{name} must be a JSON object, e.g. {example}")
        return value


def _kafka_settings(read: _Reader) -> KafkaSettings:
    mode = read.text("AGENT_LEARNING_RELAY_MODE") or "exactly-once"
    if mode not in RELAY_MODES:
        raise ConfigurationError(f"AGENT_LEARNING_RELAY_MODE={mode!r}: use exactly-once or at-least-once")
    poll_text = read.text("AGENT_LEARNING_KAFKA_POLL_SECONDS")
    try:
        poll = float(poll_text) if poll_text is not None else DEFAULT_POLL_SECONDS
    except ValueError:
        raise ConfigurationError("AGENT_LEARNING_KAFKA_POLL_SECONDS must be a number of seconds, e.g. 0.05") from None
    defaults = KafkaTopics()
    return KafkaSettings(
        group=read.text("AGENT_LEARNING_KAFKA_GROUP") or DEFAULT_GROUP,
        poll_seconds=poll,
        client=read.json_object("AGENT_LEARNING_KAFKA_CLIENT_CONFIG", '{"acks": "all"}'),
        relay_mode=mode,
        create_topics=read.flag("AGENT_LEARNING_KAFKA_CREATE_TOPICS"),
        topics=KafkaTopics(
            feedback=read.text("AGENT_LEARNING_TOPIC_FEEDBACK") or defaults.feedback,
            dead_letters=read.text("AGENT_LEARNING_TOPIC_DLQ") or defaults.dead_letters,
            learning_updates=read.text("AGENT_LEARNING_TOPIC_UPDATES") or defaults.learning_updates,
            model_updates=read.text("AGENT_LEARNING_TOPIC_MODEL_UPDATES") or defaults.model_updates,
            relay_positions=read.text("AGENT_LEARNING_TOPIC_RELAY_POSITIONS") or defaults.relay_positions,
        ),
    )


def _batch_overrides(read: _Reader) -> BatchOverrides:
    datasets, models = read.text("AGENT_LEARNING_DATASETS_DIR"), read.text("AGENT_LEARNING_MODELS_DIR")
    return BatchOverrides(
        datasets_dir=Path(datasets) if datasets else None,
        models_dir=Path(models) if models else None,
        lease_seconds=read.seconds("AGENT_LEARNING_JOBS_LEASE_SECONDS"),
        deadline_seconds=read.seconds("AGENT_LEARNING_JOBS_DEADLINE_SECONDS"),
        max_retries=read.integer("AGENT_LEARNING_JOBS_MAX_RETRIES"),
        retry_backoff_seconds=read.seconds("AGENT_LEARNING_JOBS_RETRY_BACKOFF_SECONDS"),
        max_wait_seconds=read.seconds("AGENT_LEARNING_JOBS_MAX_WAIT_SECONDS"),
        base_model=read.text("AGENT_LEARNING_BASE_MODEL"),
        max_steps=read.integer("AGENT_LEARNING_TRAIN_MAX_STEPS", "20"),
    )
