"""A small example trainer for the `command` trainer: fits a character unigram model on a dataset's SFT rows.

Not a language model: a stand-in that needs nothing but Python, so the batch loop runs end to end
on a machine without the [train] extra (torch). It follows the `command` trainer's protocol
(jobs/trainers/command.py): read the dataset folder, write an adapter folder and `result.json`
with `adapterDir`, `baseModel` and the held-out losses before and after, in the output folder.

    AGENT_LEARNING_TRAINER=command \\
    AGENT_LEARNING_TRAINER_COMMAND='python docs/examples/unigram_trainer.py {dataset} {output}' \\
    agent-learning jobs run weekly

The loss is the held-out completions' cross-entropy in nats per character: before, under a
uniform distribution over the characters seen (or, for a warm start, under the parent adapter's
counts); after, under add-one-smoothed character counts of the training completions (added to the
parent's). Every fifth row (by position) is held out. The training rows are taken in
`AGENT_LEARNING_TRAIN_MAX_STEPS` steps (default 1), each reported to `progress.jsonl` with the
training loss so far, as the `command` trainer's protocol allows; a warm start reads its parent
from `AGENT_LEARNING_TRAIN_INIT_ADAPTER`.
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


def smoothed(counts: Counter, alphabet: set):
    total = sum(counts.values()) + len(alphabet)
    return lambda c: (counts[c] + 1) / total


def parent_counts(init: str | None) -> Counter:
    if not init:
        return Counter()
    saved = json.loads((Path(init) / "unigram.json").read_text())
    return Counter(saved["counts"])


def main(dataset: str, output: str) -> int:
    data = rows(Path(dataset))
    train = [completion_text(r) for i, r in enumerate(data) if i % 5 != 4]
    held_out = [completion_text(r) for i, r in enumerate(data) if i % 5 == 4] or train[-1:]
    if not train:
        print(f"no SFT rows in {dataset}/sft.jsonl: nothing to train on", file=sys.stderr)
        return 1
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    parent = parent_counts(os.environ.get("AGENT_LEARNING_TRAIN_INIT_ADAPTER"))
    steps = max(1, int(os.environ.get("AGENT_LEARNING_TRAIN_MAX_STEPS", "1")))
    text = "".join(held_out)
    alphabet = set(parent) | set("".join(train)) | set(text)
    before = cross_entropy(text, smoothed(parent, alphabet) if parent else (lambda c: 1 / len(alphabet)))
    counts = Counter(parent)
    per_step = math.ceil(len(train) / steps)
    done = 0
    with (out / "progress.jsonl").open("a", encoding="utf-8") as progress:
        for step in range(1, steps + 1):
            chunk = train[(step - 1) * per_step : step * per_step]
            counts.update("".join(chunk))
            done += len(chunk)
            seen = "".join(train[:done]) or text
            loss = cross_entropy(seen, smoothed(counts, alphabet))
            progress.write(json.dumps({"stage": "sft", "step": step, "max_steps": steps, "train_loss": loss}) + "\n")
            progress.flush()
        after = cross_entropy(text, smoothed(counts, alphabet))
        progress.write(json.dumps({"stage": "sft", "step": steps, "max_steps": steps, "heldout_loss": after}) + "\n")

    adapter = out / "adapter"
    adapter.mkdir(parents=True, exist_ok=True)
    (adapter / "unigram.json").write_text(json.dumps({"counts": dict(counts), "alphabet": sorted(alphabet)}))
    result = {
        "adapterDir": "adapter",
        "baseModel": os.environ.get("AGENT_LEARNING_BASE_MODEL", "unigram"),
        "metrics": {
            "heldoutLossBefore": round(before, 6),
            "heldoutLossAfter": round(after, 6),
            "steps": steps,
            "warmStart": bool(parent),
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
