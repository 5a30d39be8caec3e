"""Ingesting a JSONL file as the realtime loop would: batches, dead letters with line numbers, progress."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO

from attrs import define, field

from adapters.messages.inbound import BadMessage, parse_message
from adapters.service.learning_service import BatchOutcome, LearningService, Received, Rejection

BATCH_SIZE = 1000


@define
class IngestReport:
    lines: int = 0
    outcome: BatchOutcome = field(factory=BatchOutcome)
    seconds: float = 0.0

    @property
    def rejected(self) -> int:
        return len(self.outcome.rejected)


def _batches(lines: Iterable[bytes], source: str, service: LearningService, first_line: int) -> Iterator[list]:
    batch: list = []
    settings = service.settings
    for number, raw in enumerate(lines, start=first_line):
        raw = raw.rstrip(b"\r\n")
        if not raw.strip():
            continue
        if not batch:  # each batch is parsed under the rules version in force when it starts
            settings = service.refresh_rules()
        try:
            batch.append(Received(parse_message(raw, settings), source, f"line {number}", raw))
        except BadMessage as error:
            batch.append(Rejection(source, f"line {number}", raw, str(error), agent_id=error.agent_id, code=error.code))
        if len(batch) >= BATCH_SIZE:
            yield batch
            batch = []
    if batch:
        yield batch


def ingest_lines(
    service: LearningService,
    lines: Iterable[bytes],
    source: str,
    dead_letter_file: Path | None = None,
    progress: Callable[[IngestReport], None] | None = None,
    first_line: int = 1,
) -> IngestReport:
    """`first_line` numbers the lines when they are a part of a longer file."""
    report = IngestReport()
    started = time.monotonic()
    dead_letters: IO[str] | None = None
    try:
        for batch in _batches(lines, source, service, first_line):
            outcome = service.process(batch, refresh_rules=False)  # read when the batch was parsed
            report.outcome.add(outcome)
            report.lines += len(batch)
            if outcome.rejected and dead_letter_file is not None:
                if dead_letters is None:
                    dead_letter_file.parent.mkdir(parents=True, exist_ok=True)
                    dead_letters = dead_letter_file.open("a", encoding="utf-8")
                for rejection in outcome.rejected:
                    dead_letters.write(
                        json.dumps(
                            {
                                "source": rejection.source,
                                "line": int(rejection.position.split()[-1])
                                if rejection.position.startswith("line ")
                                else rejection.position,
                                "code": rejection.code,
                                "reason": rejection.reason,
                                "raw": rejection.raw.decode("utf-8", "replace"),
                            }
                        )
                        + "\n"
                    )
                dead_letters.flush()
            report.seconds = time.monotonic() - started
            if progress:
                progress(report)
    finally:
        if dead_letters is not None:
            dead_letters.close()
    report.seconds = time.monotonic() - started
    return report
