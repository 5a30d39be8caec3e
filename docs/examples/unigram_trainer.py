"""A small example trainer for the `command` trainer: fits a character unigram model on a dataset's SFT rows.

Not a language model: a stand-in that needs nothing but Python, so the batch loop runs end to end
on a machine without the [train] extra (torch). It follows the `command` trainer's protocol
(jobs/trainers/command.py): read the dataset folder, write an adapter folder and `result.json`
with `adapterDir`, `baseModel` and the held-out losses before and after, in the output folder.

    AGENT_LEARNING_TRAINER=command \\
    AGENT_LEARNING_TRAINER_COMMAND='python docs/examples/unigram_trainer.py {dataset} {output}' \\
    agent-learning jobs run weekly

The loss is the held-out completions' cross-entropy in nats per character: before, under a
uniform distribution over the characters seen; after, under add-one-smoothed character counts
of the training completions. Every fifth row (by position) is held out.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections import Counter
from pathlib import Path


def rows(dataset: Path) -> list[dict]:
    path = dataset / "sft.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def completion_text(row: dict) -> str:
    completion = row.get("completion")
    if isinstance(completion, list):  # the conversational format: a list of messages
        return " ".join(str(m.get("content", "")) for m in completion if isinstance(m, dict))
    return str(completion or "")


def cross_entropy(text: str, probability) -> float:
    return -sum(math.log(probability(c)) for c in text) / max(1, len(text))


def main(dataset: str, output: str) -> int:
    data = rows(Path(dataset))
    train = [completion_text(r) for i, r in enumerate(data) if i % 5 != 4]
    held_out = [completion_text(r) for i, r in enumerate(data) if i % 5 == 4] or train[-1:]
    if not train:
        print(f"no SFT rows in {dataset}/sft.jsonl: nothing to train on", file=sys.stderr)
        return 1
    counts = Counter("".join(train))
    alphabet = set(counts) | set("".join(held_out))
    total = sum(counts.values()) + len(alphabet)
    text = "".join(held_out)
    before = cross_entropy(text, lambda c: 1 / len(alphabet))
    after = cross_entropy(text, lambda c: (counts[c] + 1) / total)

    out = Path(output)
    adapter = out / "adapter"
    adapter.mkdir(parents=True, exist_ok=True)
    (adapter / "unigram.json").write_text(json.dumps({"counts": dict(counts), "alphabet": sorted(alphabet)}))
    result = {
        "adapterDir": "adapter",
        "baseModel": os.environ.get("AGENT_LEARNING_BASE_MODEL", "unigram"),
        "metrics": {
            "heldoutLossBefore": round(before, 6),
            "heldoutLossAfter": round(after, 6),
            "steps": 1,
            "trainRows": len(train),
            "heldoutRows": len(held_out),
        },
    }
    (out / "result.json").write_text(json.dumps(result, indent=2))
    print(f"trained on {len(train)} rows; held-out loss {before:.3f} -> {after:.3f} nats/char")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print("usage: unigram_trainer.py DATASET_DIR OUTPUT_DIR", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
