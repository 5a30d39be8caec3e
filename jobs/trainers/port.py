"""The trainer port: what the weekly job asks of any fine-tuning backend.

Two adapters implement it: `lora` (a real LoRA fine-tune, `jobs/trainers/lora.py`) and
`command` (an external command, `jobs/trainers/command.py`); `jobs/trainers/choice.py`
picks one from the configuration (`AGENT_LEARNING_TRAINER`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import attrs

DEFAULT_BASE_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"


@attrs.frozen
class TrainingRequest:
    job_id: str
    dataset_dir: Path  # holds manifest.json, sft.jsonl, preference.jsonl, kto.jsonl (any may be empty)
    output_dir: Path  # the trainer writes the adapter (or result) here; created by the caller
    base_model: str  # stable name, e.g. "HuggingFaceTB/SmolLM2-135M-Instruct"
    max_steps: int = 20
    seed: int = 0


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
