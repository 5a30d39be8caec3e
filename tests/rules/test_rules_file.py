"""The rules file: TOML as people write it, the committed default document and JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema_rs
import pytest

from adapters.rules.document import RulesFileError, canonical, parse_rules, read_rules_file, render_rules
from adapters.rules.schema import rules_schema
from domain.rules import document_from_settings
from domain.settings import DEFAULT_SETTINGS

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_schema_is_the_one_the_code_makes():
    committed = json.loads((ROOT / "docs/rules.schema.json").read_text())
    assert committed == rules_schema(), "regenerate it: agent-learning rules schema > docs/rules.schema.json"


def test_the_committed_default_document_is_the_builtin_rules():
    document, _ = read_rules_file(str(ROOT / "infra/rules/default.toml"))
    assert canonical(document, DEFAULT_SETTINGS) == document_from_settings(DEFAULT_SETTINGS)


def test_the_schema_accepts_the_default_document_and_names_a_breached_cap():
    validator = jsonschema_rs.validator_for(rules_schema())
    document = parse_rules(render_rules(document_from_settings(DEFAULT_SETTINGS)))
    assert validator.is_valid(document)
    document["rates"]["trait_rate"] = 0.5
    document["feedback"]["regenerated"] = {"reward": -0.4, "colour": "red"}
    messages = [e.message for e in validator.iter_errors(document)]
    assert any("0.5 is greater than the maximum of 0.12" in m for m in messages)
    assert any("colour" in m for m in messages)


def test_layout_comments_and_integer_spelling_do_not_change_the_canonical_document():
    text = render_rules(document_from_settings(DEFAULT_SETTINGS))
    edited = text.replace("reward = 1.0", "reward = 1  # full marks").replace("[rates]", "# rates\n[rates]")
    assert canonical(parse_rules(edited), DEFAULT_SETTINGS) == canonical(parse_rules(text), DEFAULT_SETTINGS)


def test_a_file_that_is_not_toml_names_the_line(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text("schema = 1\n[rates\ntrait_rate = 0.07\n")
    with pytest.raises(RulesFileError, match=r"rules.toml is not valid TOML: .*line 2"):
        read_rules_file(str(path))


def test_a_file_that_is_not_utf8_or_too_big_is_refused(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes("reason = 'caf\xe9'\n".encode("latin-1"))
    with pytest.raises(RulesFileError, match="not UTF-8 text"):
        read_rules_file(str(path))
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * 1_000_001)
    with pytest.raises(RulesFileError, match="at most 1,000,000"):
        read_rules_file(str(big))
    with pytest.raises(RulesFileError, match="cannot read the rules file"):
        read_rules_file(str(tmp_path / "missing.toml"))
