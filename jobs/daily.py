"""The daily job: a training dataset per agent (and per archetype) from the last 30 days.

Reads the feedback up to `now` from the log, builds each scope's examples from the window
(`now - 30 days`, `now`], and writes and records every dataset not already there. The
same feedback gives the same dataset id, so a rerun writes and records nothing new.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from adapters.bootstrap import System
from domain.timestamps import to_iso
from jobs.batch_settings import BatchSettings
from jobs.datasets import dataset_dir, ensure_dataset, plan_all
from jobs.feedback_log import read_log

Progress = Callable[[str], None]


def run_daily(
    system: System,
    now: datetime,
    dry_run: bool,
    progress: Progress,
    settings: BatchSettings,
    heartbeat: Callable[[], None] = lambda: None,
) -> dict:
    view = read_log(system.service, now, progress)
    planned = plan_all(view, now, settings.rules)
    progress(
        f"{len(view.feedback):,} feedback read; {len(planned)} scopes have training examples "
        f"in the {settings.rules.window.days} days up to {to_iso(now)}"
    )
    new, unchanged, lines = [], [], []
    for index, dataset in enumerate(planned, 1):
        heartbeat()
        counts = dataset.examples.counts
        where = dataset_dir(settings.datasets_dir, dataset.dataset_id)
        if dry_run:
            exists = (where / "manifest.json").is_file()
            (unchanged if exists else new).append(dataset.dataset_id)
            verb = "exists" if exists else "would write"
        else:
            _, is_new = ensure_dataset(system.service, dataset, settings.datasets_dir, now)
            (new if is_new else unchanged).append(dataset.dataset_id)
            verb = "new" if is_new else "unchanged"
        lines.append(
            f"{dataset.scope.key}: {dataset.dataset_id} {verb} "
            f"(sft {counts['sft']}, preference {counts['preference']}, kto {counts['kto']})"
        )
        if index % 50 == 0:
            progress(f"{index}/{len(planned)} datasets")
    return {
        "datasets": len(planned),
        "new": len(new),
        "unchanged": len(unchanged),
        "newDatasetIds": new,
        "feedbackRead": len(view.feedback),
        "logHead": view.head,
        "datasetsDir": str(settings.datasets_dir),
        "dryRun": dry_run,
        "details": lines,
    }
