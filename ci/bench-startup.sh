#!/usr/bin/env bash
# Start-up time: from exec to the first `listening` event, and to the first 220 greeting a
# client can read, for fake-smtp (all three listeners, TLS on two of them) beside Postfix's
# smtp-sink and Python's aiosmtpd, in the same run. Run on demand, not by the tests:
#
#   sudo ci/bench-startup.sh            # 30 starts of each, medians and 90th percentiles
#
# Environment: STARTUP_RUNS (default 30), BENCH_FAKE_BIN (default: build target/release).
# Runs inside a loopback-only network namespace (unshare -n); installs smtp-sink (postfix)
# and aiosmtpd (pip) if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ${1:-} != --inner ]]; then
  [[ $EUID == 0 ]] || { echo "run as root (unshare -n, packages)" >&2; exit 1; }
  if [[ ! -x /usr/sbin/smtp-sink ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postfix >/dev/null
  fi
  python3 -c 'import aiosmtpd' 2>/dev/null ||
    python3 -m pip install --quiet --disable-pip-version-check 'aiosmtpd==1.4.6'
  if [[ -z ${BENCH_FAKE_BIN:-} ]]; then
    cargo build --release --quiet -p fake-server --bin fake-smtp
    BENCH_FAKE_BIN=$PWD/target/release/fake-smtp
  fi
  export BENCH_FAKE_BIN
  echo "## Start-up: exec to listening, and to the first 220"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); commit $(git rev-parse --short HEAD 2>/dev/null || echo none)"
  echo "- machine: $(nproc) CPUs ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)), kernel $(uname -sr)"
  echo "- ${STARTUP_RUNS:-30} starts of each server, alternating; times in milliseconds (median, 90th percentile)"
  echo
  exec unshare -n -- "$0" --inner
fi

ip link set lo up
exec python3 ci/bench/startup.py "${STARTUP_RUNS:-30}"
