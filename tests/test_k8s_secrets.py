"""The Kubernetes manifests take the store URLs from the `agent-learning` Secret, whose keys the
example Secret lists, and the example's URLs are ones the service accepts."""

from __future__ import annotations

from pathlib import Path

import yaml

from adapters.bootstrap import event_store_env, postgres_settings
from adapters.config import Config

K8S = Path(__file__).parents[1] / "infra" / "k8s"
STORES = ("AGENT_LEARNING_EVENT_STORE", "AGENT_LEARNING_READ_MODELS")


def containers():
    for manifest in ("worker.yaml", "cronjobs.yaml"):
        for doc in yaml.safe_load_all((K8S / manifest).read_text()):
            if not doc or doc["kind"] not in ("Deployment", "CronJob"):
                continue
            spec = doc["spec"]
            pod = (
                spec["jobTemplate"]["spec"]["template"]["spec"]
                if doc["kind"] == "CronJob"
                else spec["template"]["spec"]
            )
            yield from pod["containers"]


def test_every_container_reads_its_store_urls_from_the_secret_the_example_describes():
    [secret] = [d for d in yaml.safe_load_all((K8S / "secret.example.yaml").read_text()) if d]
    seen = 0
    for container in containers():
        env = {e["name"]: e for e in container.get("env", [])}
        for name in STORES:
            if name in env:
                ref = env[name]["valueFrom"]["secretKeyRef"]
                assert ref["name"] == secret["metadata"]["name"]
                assert ref["key"] in secret["stringData"], (container["name"], ref)
                seen += 1
    assert seen >= 8
    for url in secret["stringData"].values():
        assert postgres_settings(url)["POSTGRES_DBNAME"] == "agent_learning"
        assert event_store_env(Config(home=Path("/tmp/unused"), event_store=url))["PERSISTENCE_MODULE"].endswith(
            "postgresql"
        )
