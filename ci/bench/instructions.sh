#!/usr/bin/env bash
# Instructions fake-smtp executes per message under ci/bench.sh row C's load (20 persistent
# sessions of `smtp-source`, 1 KiB messages), counted by valgrind's callgrind: a figure that
# does not move with the machine's load, unlike the timings of ci/bench.sh (on this VM they
# drift by 10-20% within minutes). Use it to compare two builds of the same work; it says
# nothing of cache misses or system calls, so confirm a change side by side with ci/bench.sh.
#
#   sudo ci/bench/instructions.sh [BINARY] [-- SERVE-ARGS...]
#   sudo ci/bench/instructions.sh target/release/fake-smtp -- --http off
#
# The server runs twice, for 6,000 and for 10,000 messages; the difference divided by 4,000
# is the cost of a message alone (start-up, and each session's checks at its end, which row
# C spreads over 5,000 messages, cancel out: past 200 messages a session's transcript keeps
# the same number of entries). Idle spinning is off (`--idle-spin-us 0`): under valgrind it
# would count the spin. Prints the per-message total and the twenty costliest functions of
# the project and of mail-parser (inclusive). Needs root (`unshare -n`), valgrind and smtp-source (ci/bench.sh installs
# Postfix's tools); takes about half a minute.
set -euo pipefail

die() { echo "instructions.sh: $*" >&2; exit 1; }

if [[ ${1:-} != --inner ]]; then
  [[ $EUID == 0 ]] || die "run as root (uses unshare -n)"
  command -v valgrind > /dev/null || die "valgrind not found: apt-get install valgrind"
  command -v callgrind_annotate > /dev/null || die "callgrind_annotate not found: apt-get install valgrind"
  [[ -x /usr/sbin/smtp-source ]] || die "/usr/sbin/smtp-source not found: run ci/bench.sh once (it installs Postfix's tools)"
  bin=target/release/fake-smtp
  if [[ $# -gt 0 && $1 != -- ]]; then bin=$1; shift; fi
  [[ ${1:-} == -- ]] && shift
  [[ -x $bin ]] || die "$bin is not an executable (cargo build --release -p fake-server)"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  unshare -n -- bash "$0" --inner "$work" "$(realpath "$bin")" "$@"
  exit
fi

shift
work=$1 bin=$2
shift 2
ip link set lo up
port=2600

run() {
  local messages=$1
  shift
  valgrind --tool=callgrind --callgrind-out-file="$work/$messages.out" "$bin" serve \
    --smtp 127.0.0.1:$port --submission off --smtps off --quiet --idle-spin-us 0 "$@" \
    > "$work/$messages.log" 2>&1 &
  local server=$!
  for _ in $(seq 150); do
    sleep 0.2
    (echo > /dev/tcp/127.0.0.1/$port) 2> /dev/null && break
  done
  /usr/sbin/smtp-source -s 20 -d -m "$messages" -l 1024 -M localhost 127.0.0.1:$port
  sleep 1
  kill -INT $server
  wait $server || true
}

totals() { awk '/^(summary|totals):/ {print $2; exit}' "$1"; }

# Each function's inclusive count (the largest of its lines: callgrind_annotate lists a
# function once per source file its inlined code came from).
inclusive() {
  callgrind_annotate --inclusive=yes --threshold=100 "$1" 2> /dev/null \
    | awk 'match($0, /^ *[0-9,]+ \(/) {
        n = substr($0, RSTART, RLENGTH - 2); gsub(/[ ,]/, "", n)
        name = substr($0, RSTART + RLENGTH); sub(/^[^)]*\) +/, "", name)
        sub(/ \[.*\]$/, "", name); sub(/ \([0-9,]+x\)$/, "", name); sub(/^[^:]*:/, "", name)
        if (n + 0 > best[name]) best[name] = n + 0
      } END { for (k in best) print best[k] "\t" k }'
}

run 6000 "$@"
run 10000 "$@"
a=$(totals "$work/6000.out")
b=$(totals "$work/10000.out")
echo "fake-smtp serve $*: $(((b - a) / 4000)) instructions a message (callgrind, row C's load)"
echo "costliest functions of the project and mail-parser, inclusive, instructions a message:"
join -t $'\t' -1 2 -2 2 <(inclusive "$work/6000.out" | sort -t $'\t' -k2) \
  <(inclusive "$work/10000.out" | sort -t $'\t' -k2) \
  | awk -F '\t' '{printf "%9.0f  %s\n", ($3 - $2) / 4000, substr($1, 1, 110)}' \
  | grep -E 'smtp_protocol|smtp_conformance|fake_server|mail_parser' | sort -rn | head -20
