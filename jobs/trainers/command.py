"""The `command` trainer: hands the dataset to an external command (a GPU cluster's submit
script, `kubectl create job …`) and reads back what it wrote.

The command is a shell command with `{dataset}` and `{output}` in it (both are replaced by
quoted paths); it must write `result.json` in the output folder:
`{"adapterDir": "...", "baseModel": "...", "metrics": {"heldoutLossBefore": …, "heldoutLossAfter": …, "steps": …}}`
(a relative `adapterDir` is taken inside the output folder). A non-zero exit, a missing or
malformed result, or running past `timeout` fails the attempt with the reason.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import threading
from collections.abc import Mapping
from pathlib import Path

from jobs.trainers.port import TrainingFailed, TrainingRequest, TrainingResult

RESULT = "result.json"
LOG = "trainer.log"
REQUIRED_METRICS = ("heldoutLossBefore", "heldoutLossAfter", "steps")


class CommandTrainer:
    name = "command"

    def __init__(self, command: str, environment: Mapping[str, str], timeout: float | None = None):
        if "{dataset}" not in command or "{output}" not in command:
            raise ValueError(
                f"trainer command {command!r} must contain {{dataset}} and {{output}}, "
                "e.g. 'python train.py --data {dataset} --out {output}'"
            )
        self.command = command
        self.environment = dict(environment)  # what the command inherits: PATH and the rest (Config's)
        self.timeout = timeout
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._cancelled = False

    def train(self, request: TrainingRequest) -> TrainingResult:
        output = Path(request.output_dir)
        output.mkdir(parents=True, exist_ok=True)
        command = self.command.replace("{dataset}", shlex.quote(str(request.dataset_dir))).replace(
            "{output}", shlex.quote(str(output))
        )
        env = {
            **self.environment,
            "AGENT_LEARNING_JOB_ID": request.job_id,
            "AGENT_LEARNING_BASE_MODEL": request.base_model,
            "AGENT_LEARNING_TRAIN_MAX_STEPS": str(request.max_steps),
            "AGENT_LEARNING_TRAIN_SEED": str(request.seed),
        }
        with (output / LOG).open("ab") as log:
            with self._lock:
                self._cancelled = False
                # Its own process group, so a timeout or a cancel stops everything it started.
                self._process = subprocess.Popen(
                    command, shell=True, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
                )
            try:
                code = self._process.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                self._kill()
                raise TrainingFailed(
                    f"trainer command ran past its timeout of {self.timeout:g} s (log: {output / LOG})"
                ) from None
            finally:
                with self._lock:
                    self._process = None
        if self._cancelled:
            raise TrainingFailed("trainer command was cancelled (the job ran past its deadline)")
        if code != 0:
            raise TrainingFailed(f"trainer command exited with status {code}: {_tail(output / LOG)}")
        return _read_result(output, request)

    def cancel(self) -> None:
        """Stops a running command (the weekly job calls it when the job's deadline passes)."""
        with self._lock:
            self._cancelled = True
            self._kill()

    def _kill(self) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()


def _tail(log: Path, limit: int = 500) -> str:
    try:
        text = log.read_text(errors="replace").strip()
    except OSError:
        return "(no log)"
    return (text[-limit:] if text else "(no output)").replace("\n", " | ")


def _read_result(output: Path, request: TrainingRequest) -> TrainingResult:
    path = output / RESULT
    if not path.is_file():
        raise TrainingFailed(
            f"trainer command exited 0 but wrote no {RESULT} in {output}; it must write "
            '{"adapterDir": …, "baseModel": …, "metrics": {…}} there'
        )
    try:
        result = json.loads(path.read_text())
    except ValueError as error:
        raise TrainingFailed(f"{path} is not valid JSON: {error}") from None
    if not isinstance(result, dict) or not isinstance(result.get("metrics"), dict):
        raise TrainingFailed(f"{path} must be an object with 'adapterDir', 'baseModel' and a 'metrics' object")
    missing = [m for m in REQUIRED_METRICS if m not in result["metrics"]]
    if missing:
        raise TrainingFailed(f"{path}: metrics lack {', '.join(missing)}")
    adapter = Path(result.get("adapterDir") or output)
    if not adapter.is_absolute():
        adapter = output / adapter
    if not adapter.is_dir():
        raise TrainingFailed(f"{path}: adapterDir {str(adapter)!r} is not a folder")
    return TrainingResult(
        adapter_dir=adapter,
        base_model=str(result.get("baseModel") or request.base_model),
        metrics=dict(result["metrics"]),
    )
