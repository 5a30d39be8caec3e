"""The embedded relay sink: `published.jsonl`, one message a line with its headers.

Each line carries the notification id it came from, so the file itself holds
the relay's position: after a crash, a torn last line is cut off and the relay
resumes after the last whole line. Progress through events that publish nothing
is kept in `published.position` (replaced atomically); the position is the
larger of the two, so no crash can make a message appear twice.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Sequence
from pathlib import Path

from adapters.messages.outbound import JSON, OutboundMessage
from adapters.service.outbox_relay import RelaySink


def _line(message: OutboundMessage) -> dict:
    line = {"topic": message.topic, "key": message.key, "headers": message.headers, "position": message.position}
    if message.headers.get("content-type") == JSON:
        line["value"] = json.loads(message.value)
    else:
        line["valueBase64"] = base64.b64encode(message.value).decode("ascii")
    return line


class FileSink(RelaySink):
    def __init__(self, path: Path):
        self.path = Path(path)
        self.position_path = self.path.with_suffix(".position")
        self._position = self._recover()

    def _recover(self) -> int:
        if not self.path.exists():
            return 0
        with self.path.open("rb+") as f:
            data = f.read()
            whole = data[: data.rfind(b"\n") + 1]
            if len(whole) != len(data):  # a torn line from a crash mid-write
                f.truncate(len(whole))
        position = 0
        for raw in whole.splitlines():
            if raw.strip():
                position = max(position, json.loads(raw).get("position", 0))
        if self.position_path.exists():
            position = max(position, int(self.position_path.read_text().strip() or 0))
        return position

    def position(self) -> int:
        return self._position

    def publish(self, messages: Sequence[OutboundMessage], position: int) -> None:
        if messages:
            with self.path.open("a", encoding="utf-8") as f:
                f.write("".join(json.dumps(_line(m), separators=(",", ":")) + "\n" for m in messages))
                f.flush()
                os.fsync(f.fileno())
        if not messages or messages[-1].position != position:
            temporary = self.position_path.with_suffix(".position.tmp")
            temporary.write_text(str(position))
            os.replace(temporary, self.position_path)
        self._position = position


def read_published(path: Path) -> list[dict]:
    """The messages in a published.jsonl."""
    if not Path(path).exists():
        return []
    return [json.loads(raw) for raw in Path(path).read_text().splitlines() if raw.strip()]
