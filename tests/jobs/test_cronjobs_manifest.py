"""infra/k8s/cronjobs.yaml: one CronJob per batch job, each with the fields the issue asks for,
calling a command line the CLI accepts."""

from __future__ import annotations

from pathlib import Path

import yaml

from adapters.cli.main import build_parser

MANIFEST = Path(__file__).parents[2] / "infra" / "k8s" / "cronjobs.yaml"


def cronjobs() -> dict[str, dict]:
    docs = [d for d in yaml.safe_load_all(MANIFEST.read_text()) if d and d["kind"] == "CronJob"]
    return {d["metadata"]["labels"]["job"]: d for d in docs}


def test_each_batch_job_has_a_cronjob_that_never_overlaps_and_gives_up_in_time():
    jobs = cronjobs()
    assert set(jobs) == {"daily", "weekly", "monthly", "work"}
    for name, cron in jobs.items():
        spec = cron["spec"]
        job = spec["jobTemplate"]["spec"]
        pod = job["template"]["spec"]
        assert spec["concurrencyPolicy"] == "Forbid"
        assert len(spec["schedule"].split()) == 5
        assert spec["startingDeadlineSeconds"] > 0
        assert spec["successfulJobsHistoryLimit"] >= 1 and spec["failedJobsHistoryLimit"] >= 1
        assert job["backoffLimit"] >= 0 and job["activeDeadlineSeconds"] > 0
        [container] = pod["containers"]
        assert container["resources"]["requests"] and container["resources"]["limits"]
        if name == "work":  # the training queue's worker
            assert container["args"] == ["jobs", "work"]
            assert build_parser().parse_args(container["args"]).jobs_command == "work"
            continue
        assert container["args"] == ["jobs", "run", name]
        args = build_parser().parse_args(container["args"])
        assert args.job == name


def test_the_weekly_and_queue_pods_outlive_one_training_attempt():
    for name in ("weekly", "work"):
        spec = cronjobs()[name]["spec"]["jobTemplate"]["spec"]
        env = {e["name"]: e.get("value") for e in spec["template"]["spec"]["containers"][0]["env"]}
        assert spec["activeDeadlineSeconds"] > int(env["AGENT_LEARNING_JOBS_DEADLINE_SECONDS"])
