"""Rules are events: versions applied, read by every service on the store, recorded with each recalculation,
and used again by the audit; the dry-run replay reads the history and writes nothing."""

from __future__ import annotations

import copy
import json
import sqlite3
import threading
from datetime import UTC, datetime, timedelta

import pytest

from adapters.bootstrap import Config, bootstrap
from adapters.messages.inbound import BadMessage, parse_message
from adapters.service import rules_changes
from adapters.service.audit import audit_agent
from adapters.service.learning_service import Rejection
from adapters.service.rules_replay import replay_window
from domain.agent import Agent
from domain.commands import RecordFeedback, RegisterAgent
from domain.rules import InvalidRules, document_from_settings
from domain.settings import DEFAULT_SETTINGS

AT = datetime(2026, 11, 24, 10, tzinfo=UTC)


def regenerated_rules() -> dict:
    document = copy.deepcopy(document_from_settings(DEFAULT_SETTINGS))
    document["feedback"]["regenerated"] = {"reward": -0.4, "strong_signal": False, "rating": False}
    document["feedback"]["draft_edited"]["strong_signal"] = True
    return document


def apply(system, document, by="ops", reason="test", at=AT):
    return rules_changes.apply_and_hand_over(
        system.service, system.projections, system.read_models, document, "# text\n", by, reason, at
    )


def feedback(n: int, kind: str, agent: str = "a", at: datetime = AT) -> RecordFeedback:
    return RecordFeedback(f"{agent}-{kind}-{n}", agent, at + timedelta(seconds=n), kind, traits={"humor": 1.0})


def test_applying_records_a_version_with_hash_who_why_and_when_and_reapplying_records_nothing(system):
    applied = apply(system, regenerated_rules(), by="ops-anna", reason="regenerate is a bad sign")
    assert applied.recorded and applied.version == 1
    assert ("feedback.draft_edited.strong_signal", False, True) in applied.changes
    [record] = system.service.rules.records()
    assert record["by"] == "ops-anna" and record["reason"] == "regenerate is a bad sign"
    assert record["occurredAt"] == AT and record["contentHash"].startswith("sha256:")

    again = apply(system, regenerated_rules())
    assert not again.recorded and again.version == 1
    assert len(system.service.rules.records()) == 1


def test_the_builtin_rules_applied_as_a_document_record_nothing(system):
    applied = apply(system, document_from_settings(DEFAULT_SETTINGS))
    assert not applied.recorded and applied.version == 0


def test_a_service_already_running_takes_the_new_version_at_its_next_batch(home):
    running = bootstrap(Config(home=home))
    operator = bootstrap(Config(home=home))
    try:
        running.service.process([RegisterAgent("r", "a", AT)])
        with pytest.raises(BadMessage, match="unknown feedback kind 'regenerated' in the built-in rules"):
            parse_message(
                '{"type":"feedback","eventId":"x","agentId":"a","occurredAt":"2026-11-24T10:00:00Z","kind":"regenerated"}',
                running.service.settings,
            )
        apply(operator, regenerated_rules())
        assert running.service.settings.rules_version == 0  # until its next batch
        outcome = running.service.process([feedback(1, "regenerated")])
        assert outcome.recorded == 1 and running.service.settings.rules_version == 1
        outcome = running.service.process([feedback(2, "draft_edited")])
        assert outcome.recalculations["strong_signal"] == 1
        [recalculated] = [e for e in running.service.history("a") if isinstance(e, Agent.PolicyRecalculated)]
        assert recalculated.rules_version == 1
        rewards = [e.reward for e in running.service.history("a") if isinstance(e, Agent.FeedbackRecorded)]
        assert rewards == [-0.4, -0.2]
    finally:
        running.close()
        operator.close()


def test_a_kind_the_new_rules_remove_is_dead_lettered_with_a_reason_naming_the_version(system):
    apply(system, regenerated_rules())
    document = regenerated_rules()
    del document["feedback"]["message_copied"]
    apply(system, document)
    outcome = system.service.process([feedback(1, "message_copied"), feedback(2, "thumbs_up")])
    assert outcome.recorded == 1
    [rejection] = outcome.rejected
    assert isinstance(rejection, Rejection)
    assert "unknown feedback kind 'message_copied' in rules version 2" in rejection.reason


def test_the_audit_re_derives_each_recalculation_with_the_rules_in_force_then(system):
    service = system.service
    service.process([feedback(i, "thumbs_up") for i in range(5)])  # a batch under the built-in rules
    slower = regenerated_rules()
    slower["rates"]["trait_rate"] = 0.03
    apply(system, slower)
    service.process([feedback(i, "thumbs_up") for i in range(5, 10)])
    versions = [e.rules_version for e in service.history("a") if isinstance(e, Agent.PolicyRecalculated)]
    assert versions == [0, 1]
    report = audit_agent(service, "a")
    assert report.ok and report.recalculations == 2, report.mismatch


def test_the_audit_fails_when_a_recalculation_names_a_version_that_was_never_applied(system):
    service = system.service
    service.process([feedback(i, "thumbs_up") for i in range(5)])
    db = sqlite3.connect(system.config.home / "events.db")
    rows = db.execute("SELECT originator_version, state FROM stored_events WHERE originator_id = 'agent:a'").fetchall()
    for version, state in rows:
        data = json.loads(state)
        if "rules_version" in data:
            data["rules_version"] = 7
            db.execute(
                "UPDATE stored_events SET state = ? WHERE originator_id = 'agent:a' AND originator_version = ?",
                (json.dumps(data).encode(), version),
            )
    db.commit()
    db.close()
    fresh = bootstrap(Config(home=system.config.home))
    try:
        report = audit_agent(fresh.service, "a")
    finally:
        fresh.close()
    assert not report.ok and "no rules version 7 has been applied" in report.mismatch


def test_a_version_that_removes_a_trait_is_refused_and_nothing_is_recorded(system):
    document = regenerated_rules()
    del document["traits"]["sarcasm"]
    for archetype in document["archetypes"].values():
        del archetype["traits"]["sarcasm"]
    with pytest.raises(InvalidRules, match="removes sarcasm"):
        apply(system, document)
    assert system.service.rules.records() == []


def test_two_operators_applying_at_once_make_two_versions_each_checked_on_the_other(home):
    first, second = bootstrap(Config(home=home)), bootstrap(Config(home=home))
    try:
        one = regenerated_rules()
        two = regenerated_rules()
        two["triggers"]["batch_size"] = 7
        barrier = threading.Barrier(2)
        results = []

        def run(system, document):
            barrier.wait()
            results.append(apply(system, document).version)

        threads = [threading.Thread(target=run, args=a) for a in ((first, one), (second, two))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == [1, 2]
        assert [r["version"] for r in first.service.rules.records()] == [1, 2]
    finally:
        first.close()
        second.close()


def test_changed_priors_are_handed_to_the_archetypes_agents_and_to_new_ones(system):
    system.service.process([RegisterAgent("r", "m", AT, archetype="mentor")])
    document = regenerated_rules()
    document["archetypes"]["mentor"]["traits"]["humor"] = 0.45
    applied = apply(system, document)
    assert applied.priors_handed_over == {"mentor": 1}
    assert system.service.get_agent("m").priors["humor"] == 0.45
    system.service.process([RegisterAgent("r2", "m2", AT, archetype="mentor")])
    assert system.service.get_agent("m2").priors["humor"] == 0.45


def test_the_dry_run_counts_what_the_new_rules_change_and_writes_nothing(system):
    service = system.service
    service.process([feedback(i, "draft_edited") for i in range(6)] + [feedback(9, "message_copied")])
    before = system.service.events.recorder.max_notification_id()
    proposed_document = regenerated_rules()
    del proposed_document["feedback"]["message_copied"]
    proposed = rules_changes.check(service, proposed_document)

    report = replay_window(service, proposed, ["a"], AT + timedelta(days=1), days=7)
    [agent] = report.agents
    assert agent.recorded_recalculations == 1
    assert agent.current.recalculations == 1  # the rules in force reproduce the recorded history
    assert agent.proposed.recalculations == 6  # every draft_edited is now a strong signal
    assert (agent.current.rejected, agent.proposed.rejected) == (0, 1)
    assert agent.differing_movements == 6 and agent.differs
    assert report.totals()["agentsThatDiffer"] == 1
    assert system.service.events.recorder.max_notification_id() == before

    outside = replay_window(service, proposed, ["a"], AT + timedelta(days=30), days=7)
    assert outside.agents == []  # nothing logged in that window
