#!/usr/bin/env bash
# Streams the real Omnara client (PyPI `omnara`, default 1.7.0) through
# tether-relay, unchanged: `omnara terminal` runs a fake `claude` in its PTY,
# a Tether viewer joins, sees the agent's output, types, and sees the answer;
# both links outlive several of the relay's ping intervals.
# Not part of `cargo test` (it needs Python and PyPI). Usage:
#   relay-dev/tests/omnara/interop.sh [path/to/tether-relay]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
relay_bin="${1:-$here/../../../target/debug/tether-relay}"
version="${OMNARA_VERSION:-1.7.0}"
work="$(mktemp -d)"
venv="${OMNARA_VENV:-$work/venv}"
trap 'kill "$relay_pid" 2>/dev/null || true; rm -rf "$work"' EXIT

if [ ! -x "$venv/bin/omnara" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "omnara==$version"
fi

mkdir -p "$work/bin" "$work/home" "$work/omnara-home"
cat > "$work/bin/claude" <<'AGENT'
#!/bin/sh
echo "fake claude ready"
read line
echo "got: $line"
sleep 5
echo "still here after pings"
sleep 1
AGENT
chmod +x "$work/bin/claude"

# Pings every second: a peer that breaks on them, or fails to answer, is gone
# before the fake agent's 5 s pause ends.
TETHER_HOME="$work/home" "$relay_bin" --listen 127.0.0.1:0 --ping-secs 1 > "$work/relay.out" 2> "$work/relay.err" &
relay_pid=$!
for _ in $(seq 100); do grep -q 'listening on' "$work/relay.out" 2>/dev/null && break; sleep 0.1; done
addr="$(sed -n 's/^tether-relay listening on http:\/\///p' "$work/relay.out")"
key="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["api_key"])' "$work/home/config.json")"

OMNARA_BIN="$venv/bin/omnara" AGENT_PATH="$work/bin" OMNARA_HOME="$work/omnara-home" \
  RELAY_ADDR="$addr" RELAY_KEY="$key" "$venv/bin/python" "$here/drive.py"
