"""Datasets on disk: which scopes get one, writing the folder atomically, recording the event.

A dataset folder `<datasets>/<datasetId>/` holds `sft.jsonl`, `preference.jsonl`,
`kto.jsonl` and `manifest.json`. It is written under a temporary name and renamed into
place, so a folder with the final name is always whole; the `TrainingDataset` event is
recorded after the folder exists, so an event never points at nothing. Both steps are
skipped when already done, which makes every run idempotent.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections import defaultdict
from datetime import datetime
from pathlib import Path

from attrs import frozen
from eventsourcing.application import AggregateNotFoundError

from adapters.service.learning_service import LearningService
from adapters.service.unit_of_work import load_fresh
from domain.eligibility import EligibilityRules
from domain.timestamps import to_iso
from domain.training_dataset import TrainingDataset, training_dataset_aggregate_id
from domain.training_examples import (
    Examples,
    FeedbackItem,
    Flags,
    Scope,
    abuse_flags,
    build_examples,
    dataset_id,
)
from jobs.feedback_log import LogView

MANIFEST = "manifest.json"


@frozen
class PlannedDataset:
    scope: Scope
    examples: Examples
    dataset_id: str

    def manifest(self, created_at: datetime) -> dict:
        used = self.examples.used
        return {
            "datasetId": self.dataset_id,
            "scope": self.scope.to_dict(),
            "counts": self.examples.counts,
            "timeRange": {
                "from": to_iso(min(i.occurred_at for i in used)),
                "to": to_iso(max(i.occurred_at for i in used)),
            },
            "sourcePositions": {"from": min(i.position for i in used), "to": max(i.position for i in used)},
            "createdAt": to_iso(created_at),
        }


def scoped_feedback(view: LogView, now: datetime, rules: EligibilityRules) -> dict[Scope, list[FeedbackItem]]:
    """The window's feedback per agent, and per archetype where two agents or more contribute
    (an archetype with one agent would only repeat that agent's dataset)."""
    per_agent: dict[str, list[FeedbackItem]] = defaultdict(list)
    for item in view.feedback:
        if rules.in_window(item.occurred_at, now):
            per_agent[item.agent_id].append(item)
    scopes: dict[Scope, list[FeedbackItem]] = {Scope(agent_id=a): items for a, items in sorted(per_agent.items())}
    per_archetype: dict[str, list[str]] = defaultdict(list)
    for agent_id in sorted(per_agent):
        per_archetype[view.archetypes.get(agent_id, "default")].append(agent_id)
    for archetype, agents in sorted(per_archetype.items()):
        if len(agents) >= 2:
            scopes[Scope(archetype=archetype)] = [i for a in agents for i in per_agent[a]]
    return scopes


def plan(scope: Scope, items: list[FeedbackItem], flags: Flags) -> PlannedDataset | None:
    examples = build_examples(items, flags)
    if examples.empty:
        return None
    return PlannedDataset(scope, examples, dataset_id(scope, examples))


def plan_all(view: LogView, now: datetime, rules: EligibilityRules) -> list[PlannedDataset]:
    flags = abuse_flags(view.feedback)
    planned = (plan(scope, items, flags) for scope, items in scoped_feedback(view, now, rules).items())
    return [p for p in planned if p is not None]


def dataset_dir(datasets_dir: Path, dataset: str) -> Path:
    return Path(datasets_dir) / dataset


def write_dataset(planned: PlannedDataset, datasets_dir: Path, now: datetime) -> tuple[Path, bool]:
    """Writes the folder unless it is there; returns (folder, whether this call wrote it)."""
    final = dataset_dir(datasets_dir, planned.dataset_id)
    if (final / MANIFEST).is_file():
        return final, False
    Path(datasets_dir).mkdir(parents=True, exist_ok=True)
    temporary = Path(datasets_dir) / f".tmp-{planned.dataset_id}-{uuid.uuid4().hex[:8]}"
    temporary.mkdir()
    try:
        for name, text in planned.examples.files().items():
            _write_synced(temporary / name, text)
        _write_synced(temporary / MANIFEST, json.dumps(planned.manifest(now), indent=2, sort_keys=True) + "\n")
        if final.exists():  # a half-made folder from before the atomic rename existed, or a racing run
            if (final / MANIFEST).is_file():
                return final, False
            shutil.rmtree(final)
        os.replace(temporary, final)
        return final, True
    finally:
        if temporary.exists():
            shutil.rmtree(temporary, ignore_errors=True)


def _write_synced(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def read_manifest(folder: Path) -> dict:
    return json.loads((Path(folder) / MANIFEST).read_text())


def record_dataset(service: LearningService, planned: PlannedDataset, folder: Path, now: datetime) -> bool:
    """Records the `TrainingDataset` event once; returns whether this call recorded it."""
    aggregate_id = training_dataset_aggregate_id(planned.dataset_id)
    try:
        load_fresh(service, aggregate_id)
        return False
    except AggregateNotFoundError:
        pass
    manifest = read_manifest(folder)
    dataset = TrainingDataset(
        dataset_id=planned.dataset_id,
        agent_id=planned.scope.agent_id,
        archetype=planned.scope.archetype,
        counts=manifest["counts"],
        time_range=manifest["timeRange"],
        source_positions=manifest["sourcePositions"],
        location=str(folder),
        occurred_at=now,
    )
    return service.work.create(dataset)  # False: another run recorded it a moment ago


def ensure_dataset(
    service: LearningService, planned: PlannedDataset, datasets_dir: Path, now: datetime
) -> tuple[Path, bool]:
    """The dataset's folder and event, each made if missing; returns (folder, whether it is new)."""
    folder, _ = write_dataset(planned, datasets_dir, now)
    return folder, record_dataset(service, planned, folder, now)
