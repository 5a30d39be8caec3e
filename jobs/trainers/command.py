"""The `command` trainer: hands the dataset to an external command (a GPU cluster's submit
script, `kubectl create job …`) and reads back what it wrote.

The command is a shell command with `{dataset}` and `{output}` in it (both are replaced by
quoted paths); it must write `result.json` in the output folder:
`{"adapterDir": "...", "baseModel": "...", "metrics": {"heldoutLossBefore": …, "heldoutLossAfter": …, "steps": …}}`
(a relative `adapterDir` is taken inside the output folder). A non-zero exit, a missing or
malformed result, or running past `timeout` fails the attempt with the reason.

The job's settings reach the command as variables: `AGENT_LEARNING_JOB_ID`,
`AGENT_LEARNING_BASE_MODEL`, `AGENT_LEARNING_TRAIN_MAX_STEPS` (per stage),
`AGENT_LEARNING_TRAIN_SEED`, `AGENT_LEARNING_TRAIN_LEARNING_RATE`, `AGENT_LEARNING_TRAIN_LORA_RANK`
and, for a warm start, `AGENT_LEARNING_TRAIN_INIT_ADAPTER` (the parent adapter's folder). While
it runs, the command may append reports to `progress.jsonl` in the output folder, one JSON
object per line (`{"stage": "sft", "step": 3, "max_steps": 20, "train_loss": 1.9}`, or
`heldout_loss` at the end of a stage); each becomes one of the job's progress events.
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

from jobs.trainers.port import Progress, TrainingFailed, TrainingRequest, TrainingResult

RESULT = "result.json"
LOG = "trainer.log"
PROGRESS = "progress.jsonl"
PROGRESS_POLL_SECONDS = 0.5
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
            "AGENT_LEARNING_TRAIN_LEARNING_RATE": repr(request.learning_rate),
            "AGENT_LEARNING_TRAIN_LORA_RANK": str(request.lora_rank),
        }
        if request.init_adapter_dir is not None:
            env["AGENT_LEARNING_TRAIN_INIT_ADAPTER"] = str(request.init_adapter_dir)
        reports = _ProgressFile(output / PROGRESS, request)
        with (output / LOG).open("ab") as log:
            with self._lock:
                self._cancelled = False
                # Its own process group, so a timeout or a cancel stops everything it started.
                self._process = subprocess.Popen(
                    command, shell=True, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
                )
            try:
                code = self._wait(self._process, reports)
            except subprocess.TimeoutExpired:
                self._kill()
                raise TrainingFailed(
                    f"trainer command ran past its timeout of {self.timeout:g} s (log: {output / LOG})"
                ) from None
            finally:
                with self._lock:
                    self._process = None
        if self._cancelled:
            raise TrainingFailed("trainer command was stopped (the job was cancelled, or ran past its deadline)")
        if code != 0:
            raise TrainingFailed(f"trainer command exited with status {code}: {_tail(output / LOG)}")
        return _read_result(output, request)

    def _wait(self, process: subprocess.Popen, reports: _ProgressFile) -> int:
        """The exit status, passing on progress reports while the command runs."""
        waited = 0.0
        while True:
            try:
                code = process.wait(timeout=PROGRESS_POLL_SECONDS)
            except subprocess.TimeoutExpired:
                reports.pass_on()
                waited += PROGRESS_POLL_SECONDS
                if self.timeout is not None and waited >= self.timeout:
                    raise
                continue
            reports.pass_on()
            return code

    def cancel(self) -> None:
        """Stops a running command (when the job is cancelled, or its deadline passes)."""
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


class _ProgressFile:
    """Reads the reports a command appends to `progress.jsonl`; a line that does not parse is skipped."""

    def __init__(self, path: Path, request: TrainingRequest):
        self.path, self.request, self.offset = path, request, 0

    def pass_on(self) -> None:
        try:
            with self.path.open("rb") as file:
                file.seek(self.offset)
                chunk = file.read()
        except OSError:
            return
        complete = chunk.rfind(b"\n") + 1  # a line still being written waits for the next read
        self.offset += complete
        for line in chunk[:complete].splitlines():
            report = _report(line)
            if report is not None:
                self.request.on_progress(report)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _report(line: bytes) -> Progress | None:
    try:
        row = json.loads(line)
    except ValueError:
        return None
    if not isinstance(row, dict) or not isinstance(row.get("stage"), str) or not isinstance(row.get("step"), int):
        return None
    max_steps = row.get("max_steps")
    return Progress(
        stage=row["stage"][:20],
        step=row["step"],
        max_steps=max_steps if isinstance(max_steps, int) else 0,
        train_loss=_number(row.get("train_loss")),
        heldout_loss=_number(row.get("heldout_loss")),
    )


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
