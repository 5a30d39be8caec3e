#!/usr/bin/env bash
# Stops the servers that infra/start-local-servers.sh started (by their recorded
# pids): SIGTERM, then SIGKILL after a grace period. Data stays in the state dir;
# pass --wipe to delete it too.
set -euo pipefail

state="${AGENT_LEARNING_SERVERS_DIR:-${TMPDIR:-/tmp}/agent-learning-servers}"

stop() {
  local name="$1" grace_tenths="$2" pid_file="$state/$1.pid"
  [[ -f "$pid_file" ]] || return 0
  local pid
  pid="$(cat "$pid_file")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 "$grace_tenths"); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; fi
    echo "stopped $name (pid $pid)"
  fi
  rm -f "$pid_file"
}

# Tansu waits for its clients to hang up before it exits on SIGTERM: give it 1 s.
stop tansu 10
stop localbucket 30
stop secantusd 100

if [[ "${1:-}" == "--wipe" ]]; then
  rm -rf "$state"
  echo "removed $state"
fi
