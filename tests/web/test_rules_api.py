"""`/api/rules` for administrators, the learning configuration with its sources, and per-trait rates on the page."""

from __future__ import annotations

import re

from adapters.rules.document import render_rules
from domain.rules import document_from_settings
from domain.settings import DEFAULT_SETTINGS
from tests.conftest import feedback

REGENERATED = "\n[feedback.regenerated]\nreward = -0.4\n"


def default_toml() -> str:
    return render_rules(document_from_settings(DEFAULT_SETTINGS))


def test_only_administrators_read_or_change_the_rules(api):
    assert api.get("/api/rules").status_code == 401
    assert api.get("/api/rules", api.owner_a).status_code == 403
    body = {"toml": default_toml() + REGENERATED, "reason": "x"}
    assert api.put("/api/rules", api.owner_a, json=body).status_code == 403
    shown = api.get("/api/rules", api.admin).json()
    assert shown["version"] == 0 and shown["history"] == [] and "regenerated" not in shown["document"]["feedback"]


def test_an_administrator_applies_a_version_and_new_feedback_of_its_kind_is_accepted(api):
    message = feedback("g-1", "a-1", "2026-11-24T10:00:00Z", kind="regenerated")
    before = api.post("/api/feedback", api.admin, json=message)
    assert before.status_code == 422 and "unknown feedback kind 'regenerated' in the built-in rules" in before.text

    no_reason = api.put("/api/rules", api.admin, json={"toml": default_toml() + REGENERATED})
    assert no_reason.status_code == 422 and "needs a `reason`" in no_reason.text
    applied = api.put("/api/rules", api.admin, json={"toml": default_toml() + REGENERATED, "reason": "a bad sign"})
    assert applied.status_code == 200, applied.text
    assert applied.json()["version"] == 1 and applied.json()["recorded"] is True

    after = api.post("/api/feedback", api.admin, json=message)
    assert after.status_code == 200, after.text
    [version] = api.get("/api/rules", api.admin).json()["history"]
    assert version["by"] == "admin" and version["reason"] == "a bad sign" and version["version"] == 1


def test_a_document_with_problems_is_answered_422_naming_each_key(api):
    toml = default_toml().replace("batch_size = 5", "batch_size = 0") + "\n[feedback.spam]\nreward = -7\n"
    answer = api.put("/api/rules", api.admin, json={"toml": toml, "reason": "x"})
    assert answer.status_code == 422
    locs = {tuple(e["loc"]) for e in answer.json()["errors"]}
    assert ("body", "document", "triggers", "batch_size") in locs
    assert ("body", "document", "feedback", "spam", "reward") in locs
    broken = api.put("/api/rules", api.admin, json={"toml": "[rates", "reason": "x"})
    assert broken.status_code == 422 and "not valid TOML" in broken.json()["detail"]
    both = api.put("/api/rules", api.admin, json={"toml": "", "document": {}, "reason": "x"})
    assert both.status_code == 422
    assert api.get("/api/rules", api.admin).json()["history"] == []


def test_a_dry_run_over_http_reports_and_records_nothing(api):
    for i in range(3):
        api.post(
            "/api/feedback", api.admin, json=feedback(f"d-{i}", "a-1", f"2026-11-24T10:0{i}:00Z", kind="draft_edited")
        )
    toml = default_toml().replace(
        "[feedback.draft_edited]\nreward = -0.2\nstrong_signal = false",
        "[feedback.draft_edited]\nreward = -0.2\nstrong_signal = true",
    )
    report = api.put("/api/rules", api.admin, json={"toml": toml, "dryRun": True, "replayDays": 3650}).json()
    assert "cannot show how users would have reacted differently" in report["caveat"]
    assert report["totals"]["recalculations"] == {"current": 0, "proposed": 3}
    assert api.get("/api/rules", api.admin).json()["version"] == 0


def test_the_learning_config_says_where_each_rate_comes_from(api):
    assert api.get("/api/agents/b-1/learning-config", api.owner_a).status_code == 404
    api.put(
        "/api/agents/a-1/learning-config", api.owner_a, json={"profile": "conservative", "traitRates": {"humor": 0.1}}
    )
    view = api.get("/api/agents/a-1/learning-config", api.owner_a).json()
    assert view["archetype"] == "mentor" and view["rulesVersion"] == 0
    assert view["sources"]["traitRates"]["humor"] == "override" and view["effective"]["traitRates"]["humor"] == 0.1
    assert view["sources"]["traitRates"]["empathy"] == "profile" and view["effective"]["traitRates"]["empathy"] == 0.04
    assert view["sources"]["actionRate"] == "profile"


def test_the_owner_edits_per_trait_rates_on_the_page_and_sees_their_sources(api):
    api.client.post("/login", data={"token": api.owner_a, "next": "/agents/a-1"}, follow_redirects=False)
    page = api.client.get("/agents/a-1").text
    assert 'name="traitRates.humor"' in page and "set elsewhere" not in page
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    saved = api.client.post(
        "/agents/a-1/learning-config",
        data={"csrf": csrf, "profile": "", "traitRates.humor": "0.1", "traitRates.empathy": ""},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    view = api.get("/api/agents/a-1/learning-config", api.owner_a).json()
    assert view["learningConfig"]["traitRates"] == {"humor": 0.1}
    page = api.client.get("/agents/a-1").text
    row = re.search(r'<tr data-trait="humor">.*?</tr>', page, re.S).group(0)
    assert 'value="0.1"' in row and ">override<" in row
    assert ">default<" in re.search(r'<tr data-trait="empathy">.*?</tr>', page, re.S).group(0)

    rejected = api.client.post("/agents/a-1/learning-config", data={"csrf": csrf, "traitRates.humor": "0.5"})
    assert rejected.status_code == 422 and "traitRates.humor=0.5 is outside [0.02, 0.12]" in rejected.text
    cleared = api.client.post(
        "/agents/a-1/learning-config", data={"csrf": csrf, "traitRates.humor": ""}, follow_redirects=False
    )
    assert cleared.status_code == 303
    assert api.get("/api/agents/a-1/learning-config", api.owner_a).json()["learningConfig"]["traitRates"] == {}
