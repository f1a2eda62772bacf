#!/usr/bin/env bash
# Starts `fake-smtp serve` in the background for the rest of a CI job: the main step of the
# GitHub Action in this folder (main.js), usable by hand or from any CI as well.
#
# Environment (the action's inputs arrive as INPUT_*):
#   INPUT_BINARY     the fake-smtp binary; default: fake-smtp on PATH, else built once from
#                    this repository with cargo install (into the state folder)
#   INPUT_SCENARIOS  scenarios to play, separated by spaces or new lines ([LISTENER=]FILE|NAME)
#   INPUT_ARGS       more `fake-smtp serve` arguments (split on spaces)
#   INPUT_FAIL_ON    must|should|may: stop.sh then fails when the clients failed the checks
#   RUNNER_TEMP      where the state folder goes (default: $TMPDIR or /tmp)
#   GITHUB_OUTPUT, GITHUB_ENV  files the step's outputs and the job's variables go to (if set)
#
# The three listeners (plain, submission with STARTTLS, implicit TLS) get free ports on
# 127.0.0.1; the job's later steps see SMTP_HOST, SMTP_PORT, SMTP_SUBMISSION_PORT,
# SMTPS_PORT and SMTP_CA_FILE (the names `fake-smtp run` gives a client).
set -euo pipefail

state="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/fake-smtp-action"
mkdir -p "$state"
rm -f "$state/pid" "$state/server.pid" "$state/exit" "$state/events.jsonl"

here=$(cd "$(dirname "$0")" && pwd)
bin=${INPUT_BINARY:-}
if [[ -z $bin ]]; then
  if command -v fake-smtp >/dev/null; then
    bin=$(command -v fake-smtp)
  else
    echo "fake-smtp: building it from $here/../.. (cargo install)"
    cargo install --locked --quiet --root "$state/install" --path "$here/../../fake-server"
    bin="$state/install/bin/fake-smtp"
  fi
fi
[[ -x $bin ]] || { echo "fake-smtp: no binary at $bin" >&2; exit 1; }

args=(serve --smtp 127.0.0.1:0 --submission 127.0.0.1:0 --smtps 127.0.0.1:0 --json
  --ca-out "$state/ca.pem" --store "$state/mail"
  --report "$state/report.json" --junit "$state/junit.xml" --html "$state/report.html")
for scenario in ${INPUT_SCENARIOS:-}; do args+=(--scenario "$scenario"); done
if [[ -n ${INPUT_FAIL_ON:-} ]]; then args+=(--fail-on "$INPUT_FAIL_ON"); fi
# shellcheck disable=SC2206 # extra arguments are words on purpose
extra=(${INPUT_ARGS:-})

# In its own session, so that it outlives this step; a small shell waits for it and keeps
# its exit status for stop.sh, which signals the server itself (server.pid).
setsid bash -c '"$@" & echo $! > "$0/server.pid"; wait $!; echo $? > "$0/exit"' \
  "$state" "$bin" "${args[@]}" "${extra[@]}" \
  >"$state/events.jsonl" 2>"$state/server.log" </dev/null &
echo $! >"$state/pid"

port_of() { # listener name -> port, from its `listening` event
  sed -n 's/.*"event":"listening".*"listener":"'"$1"'","address":"[^"]*:\([0-9]*\)".*/\1/p' "$state/events.jsonl" | head -n 1
}
for _ in $(seq 1 600); do
  if [[ -e $state/exit ]]; then
    echo "fake-smtp: the server stopped at once:" >&2
    cat "$state/server.log" >&2
    exit 1
  fi
  smtp=$(port_of smtp) submission=$(port_of submission) smtps=$(port_of smtps)
  [[ -n $smtp && -n $submission && -n $smtps && -s $state/ca.pem ]] && break
  sleep 0.05
done
[[ -n ${smtps:-} ]] || { echo "fake-smtp: not listening after 30 s" >&2; cat "$state/server.log" >&2; exit 1; }

{
  echo "smtp-port=$smtp"
  echo "submission-port=$submission"
  echo "smtps-port=$smtps"
  echo "ca-file=$state/ca.pem"
  echo "events-file=$state/events.jsonl"
  echo "mail-dir=$state/mail"
  echo "report=$state/report.json"
  echo "junit=$state/junit.xml"
  echo "html=$state/report.html"
} >>"${GITHUB_OUTPUT:-/dev/null}"
{
  echo "SMTP_HOST=127.0.0.1"
  echo "SMTP_PORT=$smtp"
  echo "SMTP_SUBMISSION_PORT=$submission"
  echo "SMTPS_PORT=$smtps"
  echo "SMTP_CA_FILE=$state/ca.pem"
} >>"${GITHUB_ENV:-/dev/null}"
echo "fake-smtp: listening on 127.0.0.1: $smtp (plain), $submission (submission, STARTTLS), $smtps (implicit TLS); CA $state/ca.pem"
