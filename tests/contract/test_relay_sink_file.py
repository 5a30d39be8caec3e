"""The relay sink contract on the embedded sink, `published.jsonl`."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from adapters.files.file_sink import FileSink, read_published
from tests.contract.relay_sink_contract import Published, RelaySinkContract


class TestFileSink(RelaySinkContract):
    @pytest.fixture(autouse=True)
    def _path(self, tmp_path: Path) -> None:
        self.path = tmp_path / "sink" / "published.jsonl"
        self.path.parent.mkdir()

    def make_sink(self) -> FileSink:
        return FileSink(self.path)

    def published(self) -> list[Published]:
        return [
            Published(
                line["topic"],
                line["key"],
                line["headers"],
                json.dumps(line["value"], separators=(",", ":")).encode()
                if "value" in line
                else base64.b64decode(line["valueBase64"]),
            )
            for line in read_published(self.path)
        ]
