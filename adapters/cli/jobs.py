"""`agent-learning jobs run daily|weekly|monthly` (what the CronJobs call) and `jobs list`."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter

from adapters.bootstrap import System
from adapters.cli.common import EXIT_FAILED, EXIT_OK, err, parse_time, plural, safe, table
from domain.batch_run import LeaseLost
from jobs.run import COMPLETED, DRY_RUN, MonthlyJobMissing, run_job
from jobs.trainers.port import TrainingFailed
from projections.read_model_store import Condition
from projections.training_jobs import TRAINING_JOBS

SHOWN_DETAILS = 20


def _progress(line: str) -> None:
    print(f"… {line}", file=sys.stderr, flush=True)


def cmd_jobs_run(system: System, args: argparse.Namespace) -> int:
    try:
        report = run_job(system, args.job, now=args.now, dry_run=args.dry_run, progress=_progress)
    except (MonthlyJobMissing, LeaseLost, TrainingFailed, ValueError) as error:
        err(f"jobs run {args.job}: {error}")
        return EXIT_FAILED
    if args.json:
        print(
            json.dumps(
                {
                    "job": report.job,
                    "period": report.period,
                    "outcome": report.outcome,
                    "runId": report.run_id,
                    "summary": report.summary,
                    "message": report.message,
                },
                indent=2,
                default=str,
            )
        )
        return EXIT_OK
    print(
        f"{report.job} run for {report.period}: {report.outcome}" + (f" ({report.message})" if report.message else "")
    )
    if report.outcome in (COMPLETED, DRY_RUN):
        _print_summary(report.summary)
    return EXIT_OK


def _words(key: str) -> str:
    """`notEligible` → `not eligible`, `newDatasetIds` → `new dataset ids`."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", key).lower()


def _print_summary(summary: dict) -> None:
    """The summary as an aligned table of counts, each list's lines under it; `--json` has every field."""
    shown = {k: v for k, v in summary.items() if k not in ("dryRun", "details")}
    width = max((len(_words(k)) for k in shown), default=0)
    for key, value in shown.items():
        label = _words(key).ljust(width)
        if isinstance(value, list):
            print(f"  {label}  {len(value):>6,}")
            for line in value[:SHOWN_DETAILS]:
                print(f"  {'':<{width}}    {safe(line)}")
            if len(value) > SHOWN_DETAILS:
                print(f"  {'':<{width}}    … and {len(value) - SHOWN_DETAILS:,} more (--json shows all)")
        elif isinstance(value, dict):
            # Nested tables (e.g. the monthly job's priors before/after) read badly on one line;
            # the details below say the same in words.
            print(f"  {label}  {plural(len(value), 'entry', 'entries'):>6} (--json shows them)")
        elif isinstance(value, bool):
            print(f"  {label}  {'yes' if value else 'no':>6}")
        elif isinstance(value, int):
            print(f"  {label}  {value:>6,}")
        else:
            print(f"  {label}  {safe(value)}")
    details = summary.get("details") or []
    if details:
        print("what happened:")
        for line in details[:SHOWN_DETAILS]:
            print(f"  {safe(line)}")
        if len(details) > SHOWN_DETAILS:
            print(f"  … and {len(details) - SHOWN_DETAILS:,} more (--json shows all)")


def cmd_jobs_list(system: System, args: argparse.Namespace) -> int:
    system.projections.catch_up()
    where = []
    if args.agent:
        where.append(Condition("agentId", "eq", args.agent))
    if args.status:
        where.append(Condition("status", "eq", args.status))
    docs = sorted(system.read_models.find(TRAINING_JOBS, where), key=lambda d: (d["createdAt"], d["jobId"]))
    if args.json:
        print(json.dumps(docs, indent=2))
        return EXIT_OK
    if not docs:
        print("no training jobs yet: the weekly job queues them for eligible agents (agent-learning jobs run weekly)")
        return EXIT_OK
    rows = []
    for doc in docs:
        scope = f"agent:{doc['agentId']}" if "agentId" in doc else f"archetype:{doc.get('archetype')}"
        rows.append(
            [
                doc["jobId"],
                scope,
                doc["datasetId"],
                doc["status"],
                doc["retries"],
                doc["createdAt"],
                doc.get("finishedAt"),
                doc.get("modelOutputId"),
            ]
        )
    columns = ["job", "scope", "dataset", "status", "retries", "created", "finished", "model"]
    print(table(columns, rows, numeric=frozenset({"retries"})))
    for doc in docs:
        if doc.get("error") and doc["status"] != "completed":
            print(f"{safe(doc['jobId'])}: last error: {safe(doc['error'])}")
    statuses = ", ".join(f"{n} {s}" for s, n in sorted(Counter(d["status"] for d in docs).items()))
    print(f"{plural(len(docs), 'training job')}: {statuses}")
    return EXIT_OK


def add_commands(sub: argparse._SubParsersAction) -> None:
    jobs = sub.add_parser("jobs", help="the batch loop: datasets, training jobs, archetype refresh").add_subparsers(
        dest="jobs_command", required=True
    )

    p = jobs.add_parser("run", help="run one batch job for the current period (idempotent; one run at a time)")
    p.add_argument(
        "job",
        choices=["daily", "weekly", "monthly"],
        help="daily: training datasets; weekly: eligibility and training jobs; monthly: archetype priors",
    )
    p.add_argument(
        "--now",
        type=parse_time,
        help="the run's start time, ISO-8601 with a zone (default: the clock); "
        "it picks the period and the 30-day window",
    )
    p.add_argument("--dry-run", action="store_true", help="show what would be done; record and write nothing")
    p.add_argument("--json", action="store_true", help="the report as one JSON object")
    p.set_defaults(handler=cmd_jobs_run)

    p = jobs.add_parser("list", help="training jobs and their status (the training_jobs read model)")
    p.add_argument("--agent", metavar="ID", help="only this agent's jobs")
    p.add_argument("--status", choices=["pending", "running", "completed", "failed"], help="only jobs in this status")
    p.add_argument("--json", action="store_true", help="a JSON array of training_jobs documents")
    p.set_defaults(handler=cmd_jobs_list)
