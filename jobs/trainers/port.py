"""The trainer port: what the weekly job asks of any fine-tuning backend.

Two adapters implement it: `lora` (a real LoRA fine-tune, `jobs/trainers/lora.py`) and
`command` (an external command, `jobs/trainers/command.py`); `jobs/trainers/choice.py`
picks one from the configuration (`AGENT_LEARNING_TRAINER`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import attrs

from domain.training_hyperparameters import DEFAULT_LEARNING_RATE, DEFAULT_LORA_RANK

DEFAULT_BASE_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"


@attrs.frozen
class Progress:
    """One training report: the training loss at a step, or (at the end of a stage) the held-out loss."""

    stage: str  # sft | dpo | kto
    step: int
    max_steps: int
    train_loss: float | None = None
    heldout_loss: float | None = None


def _ignore(_: Progress) -> None:
    pass


@attrs.frozen
class TrainingRequest:
    job_id: str
    dataset_dir: Path  # holds manifest.json, sft.jsonl, preference.jsonl, kto.jsonl (any may be empty)
    output_dir: Path  # the trainer writes the adapter (or result) here; created by the caller
    base_model: str  # stable name, e.g. "HuggingFaceTB/SmolLM2-135M-Instruct"
    max_steps: int = 20  # per stage
    seed: int = 0
    learning_rate: float = DEFAULT_LEARNING_RATE
    lora_rank: int = DEFAULT_LORA_RANK
    init_adapter_dir: Path | None = None  # a warm start: train on from this adapter instead of a fresh one
    # Called from the training thread; the run records each report as `TrainingJob.Progressed`.
    on_progress: Callable[[Progress], None] = attrs.field(default=_ignore, eq=False)


@attrs.frozen
class TrainingResult:
    adapter_dir: Path  # folder with the saved adapter (adapter_config.json, adapter_model.safetensors)
    base_model: str
    metrics: dict  # at least {"heldoutLossBefore": float, "heldoutLossAfter": float, "steps": int}


class TrainingFailed(Exception):
    """A training attempt failed; the message says why (it is recorded on the job)."""


class Trainer(Protocol):
    name: str

    def train(self, request: TrainingRequest) -> TrainingResult:
        """Train, or raise `TrainingFailed(reason)`."""
        ...
