"""A real neighbour on another stack: kafkajs and the official Node `mongodb` driver against a running
`serve` on MongoDB + Kafka. It produces feedback, reads agent-learning-updates and the DLQ, and reads
every read model by its documented name, before and after a rebuild's switch (issue 18, part 5)."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from adapters.cli.main import main
from tests.kafka.serve_process import ServeSetup
from tests.support.contract_schemas import assert_read_models_valid, problems

pytestmark = [pytest.mark.kafka, pytest.mark.mongodb]
HERE = Path(__file__).resolve().parent
READ_MODELS = [
    "agent_learning_state",
    "agent_policy_history",
    "agent_feedback_aggregations",
    "agent_relationship_strength",
    "dead_letters",
]


def run_neighbour(env: dict[str, str]) -> dict:
    node = shutil.which("node")
    assert node, "node is missing: install Node.js 18 or later (Debian's nodejs)"
    assert (HERE / "node_modules" / "kafkajs").is_dir(), (
        "the neighbour's npm packages are missing: npm ci --prefix tests/neighbour (.ci/run does it)"
    )
    done = subprocess.run([node, str(HERE / "neighbour.mjs")], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"the neighbour failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_node_neighbour_produces_reads_the_topics_and_every_read_model_by_name(
    kafka_bootstrap: str, mongodb_url: str, tmp_path, monkeypatch
):
    database = f"neighbour_{uuid.uuid4().hex[:10]}"
    url = (
        mongodb_url.replace("/?", f"/{database}?", 1)
        if "/?" in mongodb_url
        else f"{mongodb_url.rstrip('/')}/{database}"
    )
    setup = ServeSetup(kafka_bootstrap, tmp_path / "home", event_store=url, read_models=url)
    serve = setup.start().wait_until_answering()
    try:
        serve.wait_until(lambda: serve.get("/readyz")[0] == 200, "ready", timeout=60)
        env = {
            "PATH": "/usr/bin:/bin",
            "KAFKA": kafka_bootstrap,
            "TOPIC_FEEDBACK": setup.topics.feedback,
            "TOPIC_UPDATES": setup.topics.learning_updates,
            "TOPIC_DLQ": setup.topics.dead_letters,
            "AGENT_ID": "node-1",
            "MONGO_URL": mongodb_url,
            "MONGO_DB": database,
            "READ_MODELS": ",".join(READ_MODELS),
        }
        seen = run_neighbour(env)

        [update] = [u for u in seen["updates"] if u["value"]["type"] == "AgentLearningUpdated"]
        assert not problems("out/AgentLearningUpdated.json", update["value"])
        assert not problems("out/AgentLearningUpdated.headers.json", update["headers"])
        assert update["key"] == "node-1" and update["value"]["trigger"] == "feedback_count"
        assert update["value"]["learnedTraits"]["empathy"] == pytest.approx(0.77)  # mentor 0.7, one rate up
        codes = sorted(d["headers"]["rejection-code"] for d in seen["deadLetters"])
        assert codes == ["invalid_json", "unknown_kind"]
        for letter in seen["deadLetters"]:
            assert not problems("out/MessageRejected.headers.json", letter["headers"])
        assert '{"type": "feedback", "eventId": ' in [d["value"] for d in seen["deadLetters"]]

        models = seen["readModels"]
        assert all(models[name] for name in READ_MODELS), {n: len(d) for n, d in models.items()}
        assert [d["agentId"] for d in models["agent_learning_state"]] == ["node-1"] and seen["stateById"] == "node-1"
        assert assert_read_models_valid(models) == sum(map(len, models.values()))

        # A rebuild: the neighbour's names show the live documents after the switch as before.
        before = models["agent_learning_state"]
        monkeypatch.setenv("AGENT_LEARNING_EVENT_STORE", url)
        monkeypatch.setenv("AGENT_LEARNING_READ_MODELS", url)
        assert main(["--home", str(setup.home), "projections", "rebuild"]) == 0
        after = run_neighbour({**env, "READ_ONLY": "1"})["readModels"]
        assert after["agent_learning_state"] == before
        assert all(after[name] for name in READ_MODELS)
    finally:
        assert serve.terminate() == 0, serve.log_tail()
