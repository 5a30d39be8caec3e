"""Reading a rules document from TOML text and writing one back.

The document the service records is the canonical one (`canonical`): what the settings it
describes say, every value in its type, so two files that differ only in layout, comments
or `1` against `1.0` are the same version. The text as written is kept beside it.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from domain.rules import document_from_settings, settings_from_document
from domain.settings import LearningSettings

MAX_BYTES = 1_000_000  # a rules document is a page or two; a file this big is the wrong file

HEADER = """\
# Learning rules of agent-learning (docs/rules.md describes every key).
# Check a change with `agent-learning rules validate FILE`, see it with `rules diff FILE`,
# try it on the logged history with `rules apply FILE --dry-run --replay 7`.
"""


class RulesFileError(ValueError):
    """A rules file that cannot be read as TOML at all; the message names the file and the place."""


def parse_rules(text: str, where: str = "the rules document") -> dict[str, Any]:
    if len(text) > MAX_BYTES:
        raise RulesFileError(f"{where} is {len(text):,} characters; a rules document is at most {MAX_BYTES:,}")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise RulesFileError(f"{where} is not valid TOML: {error}; fix the line it names") from None


def read_rules_file(path: str) -> tuple[dict[str, Any], str]:
    """The parsed document and its text; `-` reads standard input."""
    try:
        raw = Path("/dev/stdin").read_bytes() if path == "-" else Path(path).read_bytes()
    except OSError as error:
        raise RulesFileError(f"cannot read the rules file {path!r}: {error.strerror or error}") from None
    if len(raw) > MAX_BYTES:
        raise RulesFileError(f"{path} is {len(raw):,} bytes; a rules document is at most {MAX_BYTES:,}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RulesFileError(f"{path} is not UTF-8 text (byte {error.start}): save it as UTF-8") from None
    return parse_rules(text, path), text


def canonical(document: Any, builtin: LearningSettings) -> dict[str, Any]:
    """The document as the settings it describes say it (raises InvalidRules first if it is not valid)."""
    return document_from_settings(settings_from_document(document, builtin, 1))


def render_rules(document: dict[str, Any]) -> str:
    return HEADER + "\n" + tomli_w.dumps(document)
