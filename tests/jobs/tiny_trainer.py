"""A tiny external trainer for the `command` trainer's tests: a real process, not a stub.

usage: python tiny_trainer.py DATASET OUTPUT [--fail-first N --counter FILE] [--hang MARKER]

It validates the dataset files as the TRL formats say, "trains" by counting rows (the
held-out loss it reports is a function of the data, so it is reproducible), writes an
adapter folder and `result.json`. `--fail-first N` fails the first N calls (counted in
FILE); `--hang MARKER`, when MARKER does not exist yet, writes its pid there and waits (up
to 120 s) to be killed.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

FORMATS = {
    "sft.jsonl": {"prompt": str, "completion": str},
    "preference.jsonl": {"prompt": str, "chosen": str, "rejected": str},
    "kto.jsonl": {"prompt": str, "completion": str, "label": bool},
}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("dataset")
    parser.add_argument("output")
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--counter")
    parser.add_argument("--hang")
    args = parser.parse_args()
    if args.fail_first:
        counter = Path(args.counter)
        calls = int(counter.read_text()) if counter.exists() else 0
        counter.write_text(str(calls + 1))
        if calls < args.fail_first:
            print(f"simulated failure {calls + 1} of {args.fail_first}", file=sys.stderr)
            return 3
    if args.hang and not Path(args.hang).exists():  # only the first call hangs
        Path(args.hang).write_text(str(os.getpid()))
        time.sleep(120)
        return 4
    rows = {}
    for name, fields in FORMATS.items():
        rows[name] = 0
        for line in (Path(args.dataset) / name).read_text().splitlines():
            row = json.loads(line)
            assert set(row) == set(fields), (name, row)
            assert all(isinstance(row[k], t) for k, t in fields.items()), (name, row)
            rows[name] += 1
    manifest = json.loads((Path(args.dataset) / "manifest.json").read_text())
    adapter = Path(args.output) / "adapter"
    adapter.mkdir(parents=True, exist_ok=True)
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "tiny", "r": 8}))
    (adapter / "adapter_model.safetensors").write_bytes(b"\0" * 16)
    total = sum(rows.values())
    result = {
        "adapterDir": "adapter",
        "baseModel": os.environ.get("AGENT_LEARNING_BASE_MODEL", "tiny"),
        "metrics": {
            "heldoutLossBefore": 2.0,
            "heldoutLossAfter": 2.0 - total / (total + 10),
            "steps": int(os.environ.get("AGENT_LEARNING_TRAIN_MAX_STEPS", "1")),
            "rows": rows,
            "datasetId": manifest["datasetId"],
            "initAdapter": os.environ.get("AGENT_LEARNING_TRAIN_INIT_ADAPTER"),
            "learningRate": float(os.environ.get("AGENT_LEARNING_TRAIN_LEARNING_RATE", "0")),
            "loraRank": int(os.environ.get("AGENT_LEARNING_TRAIN_LORA_RANK", "0")),
        },
    }
    (Path(args.output) / "result.json").write_text(json.dumps(result))
    print(f"trained on {rows}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
