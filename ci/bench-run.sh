#!/usr/bin/env bash
# What `fake-smtp run` adds to a client's own time: start-up to `listening`, the TLS set-up
# (an in-memory CA), waiting for the session to end, judging it, the report. The client is
# curl sending one message (a few milliseconds on its own); each figure is the median of
# BENCH_RUNS runs (default 30).
#   A: curl alone, against a `fake-smtp serve` already running;
#   B: `fake-smtp run -- curl ...` (the same curl, under run).
# The difference B - A is what `run` costs a CI job per scenario. Run on demand, not by the
# tests; needs curl.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${BENCH_RUNS:-30}"
cargo build --release --quiet -p fake-server --bin fake-smtp
bin="$PWD/target/release/fake-smtp"
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
printf 'From: a@example.com\r\nTo: b@example.org\r\nSubject: bench\r\nDate: Mon, 30 Nov 2026 10:00:00 +0000\r\nMessage-ID: <b@example.com>\r\n\r\nhello\r\n' >"$work/message"
cat >"$work/client.sh" <<'SH'
#!/bin/sh
exec curl --silent --show-error "smtp://$SMTP_HOST:$SMTP_PORT/client.example.com" \
  --mail-from a@example.com --mail-rcpt b@example.org --upload-file "$MESSAGE"
SH
chmod +x "$work/client.sh"
export MESSAGE="$work/message"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now_ms() { date +%s%N | awk '{printf "%.3f\n", $1/1e6}'; }

"$bin" serve --smtp 127.0.0.1:0 --submission off --smtps off --json --quiet \
  --data-dir "$work/ca" >"$work/events" 2>/dev/null &
server=$!
for _ in $(seq 100); do grep -q listening "$work/events" 2>/dev/null && break; sleep 0.05; done
port=$(sed -n 's/.*"address":"127.0.0.1:\([0-9]*\)".*/\1/p' "$work/events" | head -1)

alone=$(for _ in $(seq "$runs"); do
  start=$(now_ms); SMTP_HOST=127.0.0.1 SMTP_PORT=$port "$work/client.sh"; end=$(now_ms)
  echo "$end - $start" | bc
done | median)
under_run=$(for _ in $(seq "$runs"); do
  start=$(now_ms); "$bin" run --quiet -- "$work/client.sh" >/dev/null; end=$(now_ms)
  echo "$end - $start" | bc
done | median)
echo "medians of $runs runs on $(nproc) CPUs, $(date -u +%Y-%m-%d):"
echo "  A: curl alone against a running server:  ${alone} ms"
echo "  B: fake-smtp run -- curl:                ${under_run} ms"
echo "  run adds:                                $(echo "$under_run - $alone" | bc) ms"
