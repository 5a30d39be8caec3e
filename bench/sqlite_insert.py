"""The embedded store's batch insert beside the library's per-event insert, recorder alone.

    python bench/sqlite_insert.py [--events 200000] [--batch 500] [--rounds 5]

Inserts the same stored events (600-byte states, 2,000 originators, batches of 500 as ingest
writes them) into a fresh SQLite file through the library's `SQLiteProcessRecorder` (one
`execute` per event, to read each row id) and through ours (`adapters/eventstore/sqlite.py`: one
`executemany` per batch, ids allocated for the batch), alternating, each in a fresh file; prints
events/s of each and the ratio of medians.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eventsourcing.persistence import StoredEvent  # noqa: E402
from eventsourcing.sqlite import SQLiteDatastore, SQLiteProcessRecorder  # noqa: E402

from adapters.eventstore.sqlite import SQLiteMultiTrackingProcessRecorder  # noqa: E402


def batches(events: int, batch: int, originators: int = 2_000) -> list[list[StoredEvent]]:
    state = b"x" * 600
    versions = [0] * originators
    rows = []
    for i in range(events):
        who = i % originators
        versions[who] += 1
        rows.append(StoredEvent(f"agent:a-{who}", versions[who], "agent_learning:Agent.FeedbackRecorded", state))
    return [rows[i : i + batch] for i in range(0, len(rows), batch)]


def once(recorder_class, work: list[list[StoredEvent]], folder: Path) -> float:
    datastore = SQLiteDatastore(str(folder / "events.db"), lock_timeout=30, originator_id_type="text")
    recorder = recorder_class(datastore)
    recorder.create_table()
    started = time.perf_counter()
    for rows in work:
        recorder.insert_events(rows)
    seconds = time.perf_counter() - started
    assert recorder.max_notification_id() == sum(len(rows) for rows in work)
    datastore.close()
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    work = batches(args.events, args.batch)
    library, ours = [], []
    for round_ in range(args.rounds):
        with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
            library.append(once(SQLiteProcessRecorder, work, Path(a)))
            ours.append(once(SQLiteMultiTrackingProcessRecorder, work, Path(b)))
        print(f"round {round_ + 1}: library {library[-1]:.2f} s, batch {ours[-1]:.2f} s", file=sys.stderr)
    lib_s, our_s = statistics.median(library), statistics.median(ours)
    print(f"{args.events:,} events in batches of {args.batch}, medians of {args.rounds} alternating rounds:")
    print(f"  library, one execute per event   {args.events / lib_s:>10,.0f} events/s")
    print(f"  ours, one executemany per batch  {args.events / our_s:>10,.0f} events/s")
    print(f"  ratio                            {lib_s / our_s:>10.2f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
