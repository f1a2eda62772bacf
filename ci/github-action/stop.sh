#!/usr/bin/env bash
# Stops the server start.sh started (the action's post step, or its `stop: true` mode): it
# finishes its sessions, writes its reports (report.json, junit.xml, report.html in the state
# folder), and this script prints where they are and what the server logged. Fails (exit 1)
# when the server did: with INPUT_FAIL_ON set, a client that failed the checks.
set -euo pipefail

state="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/fake-smtp-action"
[[ -e $state/pid ]] || { echo "fake-smtp: nothing to stop"; exit 0; }
if [[ -e $state/server.pid ]]; then
  kill -TERM "$(cat "$state/server.pid")" 2>/dev/null || true
fi
# The server lets open sessions finish for up to --shutdown-grace (10 s), then writes the
# reports.
for _ in $(seq 1 600); do
  [[ -e $state/exit ]] && break
  sleep 0.05
done
rm -f "$state/pid" "$state/server.pid"
status=$(cat "$state/exit" 2>/dev/null || echo "unknown")
echo "fake-smtp: stopped (exit status $status); reports: $state/report.json, $state/junit.xml, $state/report.html"
if [[ -s $state/server.log ]]; then
  echo "fake-smtp: its log:"
  cat "$state/server.log"
fi
[[ $status == 0 ]]
