"""`agent-learning jobs run daily|weekly|monthly` (what the CronJobs call) and `jobs list`."""

from __future__ import annotations

import argparse
import json
import sys

from adapters.bootstrap import System
from adapters.cli.common import EXIT_FAILED, EXIT_OK, err, parse_time
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


def _print_summary(summary: dict) -> None:
    for key, value in summary.items():
        if isinstance(value, list):
            print(f"  {key}: {len(value)}")
            for line in value[:SHOWN_DETAILS]:
                print(f"    {line}")
            if len(value) > SHOWN_DETAILS:
                print(f"    … and {len(value) - SHOWN_DETAILS} more (--json shows all)")
        elif isinstance(value, dict) and any(isinstance(v, (dict, list)) for v in value.values()):
            # Nested tables (e.g. the monthly job's priors before/after) read badly on one line;
            # the `details` lines say the same in words.
            print(f"  {key}: {len(value)} entries (--json shows them)")
        elif isinstance(value, dict):
            print(f"  {key}: {json.dumps(value, default=str)}")
        else:
            print(f"  {key}: {value}")


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
    print(
        f"{'job':<28} {'scope':<24} {'dataset':<20} {'status':<10} {'retries':>7}  {'created':<21} "
        f"{'finished':<21} model"
    )
    for doc in docs:
        scope = f"agent:{doc['agentId']}" if "agentId" in doc else f"archetype:{doc.get('archetype')}"
        print(
            f"{doc['jobId']:<28} {scope:<24} {doc['datasetId']:<20} {doc['status']:<10} {doc['retries']:>7}  "
            f"{doc['createdAt']:<21} {doc.get('finishedAt') or '-':<21} {doc.get('modelOutputId') or '-'}"
        )
        if doc.get("error") and doc["status"] != "completed":
            print(f"{'':<28} last error: {doc['error']}")
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
    p.add_argument("--status", choices=["pending", "running", "completed", "failed"])
    p.add_argument("--json", action="store_true", help="a JSON array of training_jobs documents")
    p.set_defaults(handler=cmd_jobs_list)
