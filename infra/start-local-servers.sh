#!/usr/bin/env bash
# Starts SecantusDB (MongoDB protocol) and Tansu (Kafka protocol) in the background
# for local development and prints the variables to export. Stop them with
# infra/stop-local-servers.sh. See docs/test-servers.md for what they can and cannot do.
#
# usage: infra/start-local-servers.sh [MONGO_PORT [KAFKA_PORT]]
#   defaults: 27027 and 19092
#   DURABLE=1       keep Kafka's log in a LocalBucket S3 folder (restarts keep it)
#   S3_PORT=19000   LocalBucket's port when DURABLE=1
#   AGENT_LEARNING_SERVERS_DIR   data, logs and pids (default: $TMPDIR/agent-learning-servers)
#   PYTHON          the interpreter with the packages (default: .venv/bin/python, else python3)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mongo_port="${1:-27027}"
kafka_port="${2:-19092}"
s3_port="${S3_PORT:-19000}"
state="${AGENT_LEARNING_SERVERS_DIR:-${TMPDIR:-/tmp}/agent-learning-servers}"
python="${PYTHON:-}"
if [[ -z "$python" ]]; then
  if [[ -x "$repo/.venv/bin/python" ]]; then python="$repo/.venv/bin/python"; else python=python3; fi
fi
mkdir -p "$state"

servers() { (cd "$repo" && "$python" -c "from infra.local_servers import *; $1"); }

# start NAME LOG READY_CHECK COMMAND...: run in the background, record the pid, wait for READY_CHECK.
start() {
  local name="$1" log="$2" ready="$3"; shift 3
  if [[ -f "$state/$name.pid" ]] && kill -0 "$(cat "$state/$name.pid")" 2>/dev/null; then
    echo "$name is already running (pid $(cat "$state/$name.pid")); run infra/stop-local-servers.sh first" >&2
    exit 1
  fi
  nohup "$@" >"$log" 2>&1 </dev/null &
  echo $! >"$state/$name.pid"
  for _ in $(seq 1 150); do
    if servers "import sys; sys.exit(0 if $ready else 1)"; then return 0; fi
    if ! kill -0 "$(cat "$state/$name.pid")" 2>/dev/null; then break; fi
    sleep 0.2
  done
  echo "$name did not become ready; last lines of $log:" >&2
  tail -n 20 "$log" >&2
  exit 1
}

secantusd="$(servers 'print(secantusd_command())')"
tansu="$(servers 'print(tansu_binary())')"

start secantusd "$state/secantusd.log" "mongo_is_ready($mongo_port)" \
  "$secantusd" --host 127.0.0.1 --port "$mongo_port" --storage-path "$state/secantus-data"

storage="memory://tansu/"
if [[ "${DURABLE:-0}" == 1 ]]; then
  mkdir -p "$state/buckets/tansu"
  start localbucket "$state/localbucket.log" "s3_is_ready($s3_port)" \
    "$(servers 'print(localbucket_command())')" --host 127.0.0.1 --port "$s3_port" "$state/buckets"
  storage="s3://tansu/"
  export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
  export AWS_ENDPOINT="http://127.0.0.1:$s3_port" AWS_ALLOW_HTTP=true
fi
start tansu "$state/tansu.log" "kafka_is_ready($kafka_port)" \
  "$tansu" broker --listener-url "tcp://127.0.0.1:$kafka_port" \
  --advertised-listener-url "tcp://127.0.0.1:$kafka_port" --storage-engine "$storage"

mongo_url="mongodb://127.0.0.1:$mongo_port/?replicaSet=secantus"
cat <<EOF
# SecantusDB data in $state/secantus-data, Kafka storage $storage, logs in $state
export AGENT_LEARNING_EVENT_STORE='$mongo_url'
export AGENT_LEARNING_READ_MODELS='$mongo_url'
export AGENT_LEARNING_KAFKA='127.0.0.1:$kafka_port'
EOF
