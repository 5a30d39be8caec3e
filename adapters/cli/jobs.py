"""`agent-learning jobs run daily|weekly|monthly` (what the CronJobs call), the training queue
(`jobs create`, `jobs work`, `jobs cancel`, `jobs show`) and `jobs list`."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter

from adapters.bootstrap import System
from adapters.cli.common import EXIT_FAILED, EXIT_OK, actor, err, parse_time, plural, safe, table
from adapters.service.clock import utc_now
from adapters.service.learning_service import UnknownAgent
from domain.batch_run import LeaseLost
from domain.training_examples import Scope
from domain.training_job import STATUSES
from jobs.batch_settings import BatchSettings
from jobs.run import COMPLETED, DRY_RUN, MonthlyJobMissing, run_job
from jobs.trainers.port import TrainingFailed
from jobs.training_queue import Requester, TrainingQueueError, cancel_job, create_job, job_document, job_events
from jobs.training_worker import run_worker
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


def _operator(args: argparse.Namespace) -> Requester:
    """The CLI acts as an administrator (it runs where the stores are), named by --by or the user."""
    if not hasattr(args, "by"):
        args.by = None
    return Requester(name=actor(args), admin=True, may_see=lambda owner: True)


def cmd_jobs_create(system: System, args: argparse.Namespace) -> int:
    given = {"steps": args.steps, "learningRate": args.learning_rate, "loraRank": args.lora_rank}
    try:
        job = create_job(
            system,
            BatchSettings.from_config(system.config.home, system.config.batch),
            scope=Scope(args.agent, args.archetype),
            requester=_operator(args),
            now=args.now or utc_now(),
            priority=args.priority,
            reason=args.reason,
            force=args.force,
            hyperparameters_given={k: v for k, v in given.items() if v is not None},
            progress=_progress,
        )
    except UnknownAgent as error:
        err(f"jobs create: {error}")
        return EXIT_FAILED
    except TrainingQueueError as error:
        err(f"jobs create: {error}")
        return EXIT_FAILED
    doc = system.read_models.get(TRAINING_JOBS, job.job_id)
    if args.json:
        print(json.dumps(doc, indent=2))
        return EXIT_OK
    forced = " (forced past the eligibility rules)" if job.forced else ""
    print(
        f"queued {job.job_id} for {Scope(job.agent_id, job.archetype).key} on dataset {job.dataset_id}, "
        f"priority {job.priority}{forced}; hyperparameters {json.dumps(job.hyperparameters)}"
    )
    print(f"a worker trains it: agent-learning jobs work (follow it with: agent-learning jobs show {job.job_id})")
    return EXIT_OK


def cmd_jobs_cancel(system: System, args: argparse.Namespace) -> int:
    try:
        status = cancel_job(system, args.job_id, requester=_operator(args), reason=args.reason, now=utc_now())
    except TrainingQueueError as error:
        err(f"jobs cancel: {error}")
        return EXIT_FAILED
    if status == "cancelled":
        print(f"{args.job_id} is cancelled")
    else:
        print(f"{args.job_id} is running: its worker stops the trainer after the current step and records the cancel")
    return EXIT_OK


def cmd_jobs_show(system: System, args: argparse.Namespace) -> int:
    requester = _operator(args)
    try:
        doc = job_document(system, args.job_id, requester)
        events = job_events(system, args.job_id, requester)
    except TrainingQueueError as error:
        err(f"jobs show: {error}")
        return EXIT_FAILED
    if args.json:
        print(json.dumps({"job": doc, "events": events}, indent=2))
        return EXIT_OK
    scope = f"agent:{doc['agentId']}" if "agentId" in doc else f"archetype:{doc.get('archetype')}"
    print(
        f"{safe(doc['jobId'])}  {scope}  {doc['status']}"
        + ("  (cancel requested)" if doc.get("cancelRequested") and doc["status"] == "running" else "")
    )
    for key in (
        "datasetId",
        "priority",
        "period",
        "requestedBy",
        "reason",
        "forced",
        "hyperparameters",
        "parentModelId",
        "modelOutputId",
        "error",
    ):
        if key in doc:
            value = json.dumps(doc[key]) if isinstance(doc[key], dict) else doc[key]
            print(f"  {_words(key):<16} {safe(value)}")
    print("events:")
    for entry in events:
        print(f"  {entry['occurredAt']}  {_event_line(entry)}")
    return EXIT_OK


def _event_line(entry: dict) -> str:
    kind, data = entry["type"], entry["data"]
    if kind == "Queued":
        by = data.get("requestedBy") or "the weekly run"
        return safe(
            f"queued by {by} (priority {data.get('priority', 0)}{', forced' if data.get('forced') else ''})"
            + (f": {data['reason']}" if data.get("reason") else "")
        )
    if kind == "Started":
        parent = f", warm start from {data['parentModelId']}" if data.get("parentModelId") else ""
        return safe(
            f"attempt {data['attempt']} started by {data['runId']}{parent}"
            + (f" ({data['startNote']})" if data.get("startNote") else "")
        )
    if kind == "Progressed":
        parts = [f"{data['stage']} step {data['step']}/{data['maxSteps']}"]
        if data.get("trainLoss") is not None:
            parts.append(f"training loss {data['trainLoss']:.4f}")
        if data.get("heldoutLoss") is not None:
            parts.append(f"held-out loss {data['heldoutLoss']:.4f}")
        return ", ".join(parts)
    if kind == "Failed":
        return safe(f"attempt {data['attempt']} failed{' for good' if data.get('final') else ''}: {data['reason']}")
    if kind == "Retried":
        return f"retry {data['retries']} at {data['nextAttemptAt']}"
    if kind == "Succeeded":
        metrics = data.get("metrics") or {}
        return safe(
            f"completed: model {data['modelOutputId']} (held-out loss {metrics.get('heldoutLossBefore')} → {metrics.get('heldoutLossAfter')})"
        )
    if kind == "CancelRequested":
        return safe(f"cancel requested by {data['by']}: {data['reason']}")
    if kind == "Cancelled":
        return safe(f"cancelled (by {data['by']}: {data['reason']})")
    return safe(kind)


def cmd_jobs_work(system: System, args: argparse.Namespace) -> int:
    try:
        summary = run_worker(system, progress=_progress, max_jobs=args.max_jobs, now=args.now)
    except (LeaseLost, TrainingFailed, ValueError) as error:
        err(f"jobs work: {error}")
        return EXIT_FAILED
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
        return EXIT_OK
    print(f"worker done: {plural(summary['attempted'], 'job')} attempted")
    _print_summary(summary)
    return EXIT_OK


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
        print(
            "no training jobs yet: the weekly job queues them for eligible agents (agent-learning jobs run weekly), "
            "or ask for one (agent-learning jobs create --agent ID)"
        )
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
                doc.get("priority", 0),
                doc["retries"],
                doc["createdAt"],
                doc.get("finishedAt"),
                doc.get("modelOutputId"),
            ]
        )
    columns = ["job", "scope", "dataset", "status", "priority", "retries", "created", "finished", "model"]
    print(table(columns, rows, numeric=frozenset({"priority", "retries"})))
    for doc in docs:
        if doc.get("error") and doc["status"] not in ("completed", "cancelled"):
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
    p.add_argument("--status", choices=list(STATUSES), help="only jobs in this status")
    p.add_argument("--json", action="store_true", help="a JSON array of training_jobs documents")
    p.set_defaults(handler=cmd_jobs_list)

    p = jobs.add_parser(
        "create",
        help="queue a training job now (same eligibility rules as the weekly run unless --force)",
        description="Builds (or reuses) the scope's dataset from the last 30 days and queues a job; "
        "a worker (`jobs work`, the weekly CronJob, or serve with AGENT_LEARNING_SERVE_TRAINING=yes) trains it.",
    )
    scope = p.add_mutually_exclusive_group(required=True)
    scope.add_argument("--agent", metavar="ID", help="train this agent")
    scope.add_argument("--archetype", metavar="A", help="train this archetype (all its agents' data)")
    p.add_argument("--priority", type=int, default=0, help="higher runs first, -1000 … 1000 (default 0)")
    p.add_argument("--reason", help="why (recorded on the job; required with --force)")
    p.add_argument("--force", action="store_true", help="queue it even if it is not eligible (recorded)")
    p.add_argument(
        "--steps", type=int, help="optimizer steps per stage, 1 … 2000 (default AGENT_LEARNING_TRAIN_MAX_STEPS, 20)"
    )
    p.add_argument("--learning-rate", type=float, help="SFT learning rate, 1e-6 … 1e-2 (default 2e-4)")
    p.add_argument("--lora-rank", type=int, help="LoRA rank r, 1 … 64 (default 8; a warm start keeps its parent's)")
    p.add_argument("--by", help="who asks (default: the current user)")
    p.add_argument("--now", type=parse_time, help="the request's time, ISO-8601 with a zone (default: the clock)")
    p.add_argument("--json", action="store_true", help="the queued job's training_jobs document")
    p.set_defaults(handler=cmd_jobs_create)

    p = jobs.add_parser("work", help="train the queued jobs now, highest priority first, then the oldest")
    p.add_argument("--max-jobs", type=int, metavar="N", help="stop after N attempts (default: until none is due)")
    p.add_argument("--now", type=parse_time, help="the run's start time, ISO-8601 with a zone (default: the clock)")
    p.add_argument("--json", action="store_true", help="the summary as one JSON object")
    p.set_defaults(handler=cmd_jobs_work)

    p = jobs.add_parser("cancel", help="cancel a pending job, or stop a running one after its current step")
    p.add_argument("job_id", metavar="JOB", help="the job id (see `jobs list`)")
    p.add_argument("--reason", required=True, help="why (recorded on the job)")
    p.add_argument("--by", help="who (default: the current user)")
    p.set_defaults(handler=cmd_jobs_cancel)

    p = jobs.add_parser("show", help="one job: its fields and its events (queued, started, progress, retries, end)")
    p.add_argument("job_id", metavar="JOB", help="the job id (see `jobs list`)")
    p.add_argument("--json", action="store_true", help='{"job": the training_jobs document, "events": [...]}')
    p.set_defaults(handler=cmd_jobs_show)
