#!/usr/bin/env bash
# Throughput and memory benchmark: `fake-smtp serve` against Postfix's `smtp-sink`,
# both driven by Postfix's `smtp-source` with the same load, inside a loopback-only
# network namespace. Run on demand; it reports numbers and asserts no thresholds.
#
# Usage: ci/bench.sh [--sink-only] [--no-build] [--help]
#   --sink-only   measure smtp-sink only (no cargo build, fake-smtp columns say "skipped")
#   --no-build    use the existing target/release/fake-smtp instead of running cargo build
#
# Environment:
#   BENCH_MESSAGES   messages per timed run, all rows (default: 40000 for the rows with a
#                    connection per message, 200000 for the persistent-session row)
#   BENCH_ROWS       which loads to run: ids separated by commas (A,CJ,S), or a word of one-letter
#                    ids (ABC). Default: A,B,C,AJ,BJ,CJ,AL,BL,CL,I,T,S (every row; S is long)
#                    A, B, C       throughput, fake-smtp with BENCH_FAKE_ARGS (--quiet)
#                    AJ, BJ, CJ    the same loads, fake-smtp with --quiet --json, stdout to a file
#                    AL, BL, CL    the same loads, fake-smtp with its log on, stderr to a file
#                    S             soak: 20 persistent sessions x BENCH_SOAK_MESSAGES each,
#                                  fake-smtp's RSS at 10%, 50% and 100% of the messages
#                    I             10,000 idle connections (BENCH_IDLE_CONNECTIONS): RSS per
#                                  connection, both servers
#                    T             2,000 stalled TLS handshakes (BENCH_STALLED_TLS) on the
#                                  implicit-TLS listener while smtp-source and a TLS client send
#   BENCH_SOAK_MESSAGES  messages per session in row S (default 1000000: 20M messages in all,
#                    about 10 minutes with checks on at 30,000 msg/s)
#   BENCH_IDLE_CONNECTIONS  connections held open in row I (default 10000)
#   BENCH_STALLED_TLS       stalled handshakes in row T (default 2000)
#   BENCH_FAKE_EXTRA extra arguments for fake-smtp in every row (e.g. "--checks off")
#   BENCH_ROUNDS     rounds per row (default 5). A round measures both servers, one after the
#                    other, in alternating order; the table gives medians, and the ratio's
#                    range over the rounds, because this kind of VM drifts by 20% or more
#                    within minutes.
#   BENCH_WARMUP     untimed messages sent to each fresh server first, same load shape (500)
#   BENCH_PIN=1      pin the server to CPU 0 and smtp-source to CPU 1 (taskset); off by default
#   BENCH_FAKE_ARGS  extra arguments for `fake-smtp serve` (default: --quiet, because
#                    smtp-sink writes no line per message either; transcripts are recorded
#                    in full regardless). Set it empty to measure with the human log on.
#   BENCH_FAKE_BIN   use this fake-smtp binary instead of building target/release/fake-smtp
#   BENCH_WEB=0      run fake-smtp without its web sink; by default it serves it on the SMTP
#                    port + 1 with a WebSocket subscriber connected (ci/bench/ws_subscriber.py),
#                    as a user with the UI open has it
#   BENCH_KEEP=1     keep the work directory (server logs, smtp-source stderr) after success
#
# Needs root: it may install the `postfix` package and it uses `unshare -n`.
set -euo pipefail

SELF=$(readlink -f "${BASH_SOURCE[0]}")
CI_DIR=$(dirname "$SELF")
REPO_ROOT=$(dirname "$CI_DIR")
SMTP_SOURCE=/usr/sbin/smtp-source
SMTP_SINK=/usr/sbin/smtp-sink

# Throughput loads: id|description|smtp-source options|default message count|fake-smtp output
# arguments ("-": BENCH_FAKE_ARGS). Output goes to the server's log file (stdout and stderr).
ROWS=(
  "A|1 KiB, 20 sessions, new connection per message|-s 20|40000|-"
  "B|1 KiB, 200 sessions, new connection per message|-s 200|40000|-"
  "C|1 KiB, 20 persistent sessions (-d)|-s 20 -d|200000|-"
  "AJ|A with --json to a file|-s 20|40000|--quiet --json"
  "BJ|B with --json to a file|-s 200|40000|--quiet --json"
  "CJ|C with --json to a file|-s 20 -d|200000|--quiet --json"
  "AL|A with the log on, stderr to a file|-s 20|40000|"
  "BL|B with the log on, stderr to a file|-s 200|40000|"
  "CL|C with the log on, stderr to a file|-s 20 -d|200000|"
)
# Soak and load rows, run after the throughput rows (ci/bench/load.sh).
LOAD_ROWS=(I T S)
DEFAULT_ROWS=A,B,C,AJ,BJ,CJ,AL,BL,CL,I,T,S
MESSAGE_BYTES=1024

log() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: FAILED: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- outer part (host network)

POLICY_RC_CREATED=0
WORK_DIR=""
FAKE_BIN=""

outer_cleanup() {
  local rc=$?
  if [[ $POLICY_RC_CREATED == 1 ]]; then rm -f /usr/sbin/policy-rc.d; fi
  if [[ -n $WORK_DIR && -d $WORK_DIR ]]; then
    if [[ $rc == 0 && ${BENCH_KEEP:-0} != 1 ]]; then
      rm -rf "$WORK_DIR"
    else
      log "logs kept in $WORK_DIR"
    fi
  fi
  if [[ $rc != 0 ]]; then log "exit status $rc; no table was printed"; fi
}

postfix_master_pids() {
  local pid
  for pid in $(pgrep -x master || true); do
    if [[ $(readlink -f "/proc/$pid/exe" 2>/dev/null) == */postfix/* ]]; then echo "$pid"; fi
  done
}

ensure_postfix_tools() {
  if [[ -x $SMTP_SOURCE && -x $SMTP_SINK ]]; then
    if [[ -n $(postfix_master_pids) ]]; then
      log "warning: a postfix master process is running (not started by this script)"
    fi
    return
  fi
  log "installing the postfix package for smtp-source and smtp-sink"
  # The package's postinst would start the daemon; policy-rc.d exit 101 forbids that.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    POLICY_RC_CREATED=1
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
  fi
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || die "apt-get update"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postfix >&2 \
    || die "apt-get install postfix"
  if [[ $POLICY_RC_CREATED == 1 ]]; then
    rm -f /usr/sbin/policy-rc.d
    POLICY_RC_CREATED=0
  fi
  postfix stop 2>/dev/null || true
  sleep 1
  [[ -z $(postfix_master_pids) ]] || die "the postfix daemon is running after install: $(pgrep -a master)"
  local bin
  for bin in smtp-source smtp-sink; do
    [[ -x /usr/sbin/$bin ]] || die "$bin not found after install; dpkg -L postfix says: $(dpkg -L postfix | grep "/$bin\$" || echo nothing)"
  done
}

build_fake_smtp() {
  log "building fake-smtp (cargo build --release)"
  (cd "$REPO_ROOT" && cargo build --release -p fake-server --bin fake-smtp) \
    || die "cargo build --release -p fake-server --bin fake-smtp"
}

print_report() {
  local fake_version="skipped"
  if [[ -n $FAKE_BIN ]]; then
    fake_version=$("$FAKE_BIN" --version 2>/dev/null | head -n1 || true)
    fake_version=${fake_version:-"unknown version"}
  fi
  echo "## fake-smtp vs smtp-sink"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "- machine: $(nproc) CPUs ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)), kernel $(uname -sr) $(uname -m)"
  echo "- commit: $(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo none)$(git -C "$REPO_ROOT" status --porcelain 2>/dev/null | grep -q . && echo ' (dirty tree)')"
  echo "- fake-smtp: ${fake_version}, arguments for rows A-C: '${BENCH_FAKE_ARGS-"--quiet"}', for every row: '${BENCH_FAKE_EXTRA:-}'; postfix tools: $(dpkg-query -W -f '${Version}' postfix 2>/dev/null || echo unknown)"
  echo "- client: smtp-source -l $MESSAGE_BYTES -M localhost; each server started fresh per run, sent ${BENCH_WARMUP:-500} untimed warm-up messages, then the timed run; ${BENCH_ROUNDS:-5} rounds per row, servers in alternating order"
  echo "- msg/s and CPU (the server's user + system time per message, from /proc) are medians over the rounds; the ratio is the median of the rounds' ratios, with their range; peak RSS is the highest VmHWM (warm-up included)"
  echo "- CPU pinning: $([[ ${BENCH_PIN:-0} == 1 ]] && echo 'server on CPU 0, smtp-source on CPU 1' || echo none)"
  echo
  if [[ -s $WORK_DIR/results.tsv ]]; then
    awk -F'\t' -f "$CI_DIR/bench/report.awk" "$WORK_DIR/results.tsv"
  fi
  if [[ -s $WORK_DIR/load.tsv ]]; then
    echo
    echo "Soak and load (fake-smtp extra arguments: '${BENCH_FAKE_EXTRA:-}'):"
    echo
    echo "| load | server | result |"
    echo "| --- | --- | --- |"
    awk -F'\t' '{printf "| %s: %s | %s | %s |\n", $1, $2, $3, $4}' "$WORK_DIR/load.tsv"
  fi
}

outer_main() {
  local sink_only=0 no_build=0 arg
  for arg in "$@"; do
    case $arg in
      --sink-only) sink_only=1 ;;
      --no-build) no_build=1 ;;
      -h | --help) sed -n '2,/^set -euo/p' "$SELF" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
      *) die "unknown argument: $arg (try --help)" ;;
    esac
  done
  [[ $EUID == 0 ]] || die "run as root (installs packages, uses unshare -n)"
  [[ ${BENCH_ROUNDS:-5} =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUNDS must be a positive number, not '${BENCH_ROUNDS}'"
  trap outer_cleanup EXIT

  ensure_postfix_tools
  if [[ $sink_only == 0 ]]; then
    if [[ -n ${BENCH_FAKE_BIN:-} ]]; then
      FAKE_BIN=$(readlink -f "$BENCH_FAKE_BIN")
    else
      if [[ $no_build == 0 ]]; then build_fake_smtp; fi
      FAKE_BIN="$REPO_ROOT/target/release/fake-smtp"
    fi
    [[ -x $FAKE_BIN ]] || die "$FAKE_BIN is missing"
  fi

  WORK_DIR=$(mktemp -d /tmp/fake-smtp-bench.XXXXXX)
  log "running the loads in a loopback-only network namespace"
  # In the background, so that a signal to this script is passed on at once (bash runs traps
  # only between foreground commands); the inner part then stops what it started.
  local rc=0
  unshare -n -- bash "$SELF" --inner "$WORK_DIR" "$FAKE_BIN" &
  INNER_PID=$!
  trap 'kill -TERM "$INNER_PID" 2>/dev/null || true' INT TERM
  wait "$INNER_PID" || rc=$?
  while kill -0 "$INNER_PID" 2>/dev/null; do wait "$INNER_PID" || rc=$?; done
  trap - INT TERM
  ((rc == 0)) || die "the measurements failed (see above)"
  print_report
}

# ---------------------------------------------------------------- inner part (own netns)

SERVER_PID=""
SOURCE_PID=""
HOLDER_PID=""
SAMPLER_PID=""
NEXT_PORT=19998

inner_cleanup() {
  if [[ -n $SOURCE_PID ]]; then kill -TERM "$SOURCE_PID" 2>/dev/null || true; fi
  # The load rows' helpers (ci/bench/load.sh).
  if [[ -n $HOLDER_PID ]]; then kill -TERM "$HOLDER_PID" 2>/dev/null || true; fi
  if [[ -n $SAMPLER_PID ]]; then kill -TERM "$SAMPLER_PID" 2>/dev/null || true; fi
  if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    sleep 0.5
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
}

# Prefix for a command pinned to one CPU, when BENCH_PIN=1. Not a function: a server must
# be the direct child of this shell, so that $! is its pid (taskset execs its command).
pin_prefix() { # cpu
  if [[ ${BENCH_PIN:-0} == 1 ]]; then echo "taskset -c $1"; fi
}

# A port no socket in this namespace uses, in any state (so no TIME_WAIT leftovers either).
# Ports stay below the ephemeral range, so smtp-source's own ports never collide.
pick_free_port() { # sets PORT
  local hex
  while :; do
    NEXT_PORT=$((NEXT_PORT + 2)) # even ports: fake-smtp's web sink takes port + 1
    hex=$(printf '%04X' "$NEXT_PORT")
    if ! awk -v p=":$hex" 'NR > 1 && (substr($2, length($2) - 4) == p || substr($3, length($3) - 4) == p) {found = 1} END {exit !found}' /proc/net/tcp; then
      PORT=$NEXT_PORT
      return
    fi
  done
}

wait_listening() { # pid port log
  local pid=$1 hex deadline
  hex=$(printf '%04X' "$2")
  deadline=$((SECONDS + 15))
  until awk -v p="0100007F:$hex" 'NR > 1 && $2 == p && $4 == "0A" {found = 1} END {exit !found}' /proc/net/tcp; do
    kill -0 "$pid" 2>/dev/null || { tail -n 20 "$3" >&2; die "server exited before listening on port $2"; }
    ((SECONDS < deadline)) || { tail -n 20 "$3" >&2; die "server not listening on port $2 after 15 s"; }
    sleep 0.05
  done
}

# What the next start_server gives fake-smtp: its output arguments, its connection cap, and
# its implicit-TLS listener arguments (the load rows change them).
FAKE_OUTPUT_ARGS=-
MAX_CONNECTIONS=1000
FAKE_SMTPS_ARGS=(--smtps off)

start_server() { # server port log
  local server=$1 port=$2 log_file=$3
  local cmd output_args=$FAKE_OUTPUT_ARGS
  [[ $output_args == - ]] && output_args=${BENCH_FAKE_ARGS-"--quiet"}
  read -ra cmd <<<"$(pin_prefix 0)"
  # shellcheck disable=SC2206 # the argument variables are lists of words on purpose
  case $server in
    fake-smtp)
      local web=(--http off)
      [[ ${BENCH_WEB:-1} == 1 ]] && web=(--http "127.0.0.1:$((port + 1))")
      cmd+=("$FAKE_BIN" serve --smtp "127.0.0.1:$port" --submission off "${FAKE_SMTPS_ARGS[@]}" "${web[@]}" --max-connections "$MAX_CONNECTIONS" --max-connections-per-ip 0 $output_args ${BENCH_FAKE_EXTRA:-}) ;;
    # -u is mandatory as root; -m raises the default cap of 256 simultaneous connections.
    smtp-sink) cmd+=("$SMTP_SINK" -u nobody -m "$MAX_CONNECTIONS" "127.0.0.1:$port" 1024) ;;
  esac
  "${cmd[@]}" >"$log_file" 2>&1 &
  SERVER_PID=$!
  wait_listening "$SERVER_PID" "$port" "$log_file"
  SUBSCRIBER_PID=""
  if [[ $server == fake-smtp && ${BENCH_WEB:-1} == 1 ]]; then
    python3 "$REPO_ROOT/ci/bench/ws_subscriber.py" "127.0.0.1:$((port + 1))" 2>>"$log_file" &
    SUBSCRIBER_PID=$!
  fi
}

stop_server() { # server log
  local rc=0 i
  if [[ -n ${SUBSCRIBER_PID:-} ]]; then
    kill -TERM "$SUBSCRIBER_PID" 2>/dev/null || true
    wait "$SUBSCRIBER_PID" 2>/dev/null || true
    SUBSCRIBER_PID=""
  fi
  kill -TERM "$SERVER_PID"
  for ((i = 0; i < 100; i++)); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
    die "$1 did not exit within 10 s of SIGTERM"
  fi
  wait "$SERVER_PID" || rc=$?
  SERVER_PID=""
  # 143 = killed by SIGTERM (smtp-sink has no handler); anything else is a crash or an error.
  if [[ $rc != 0 && $rc != 143 ]]; then
    tail -n 20 "$2" >&2
    die "$1 exited with status $rc after SIGTERM"
  fi
}

run_source() { # label port messages options...
  local label=$1 port=$2 messages=$3 rc=0
  shift 3
  local err="$WORK_DIR/$label.smtp-source.stderr"
  # shellcheck disable=SC2046 # pin_prefix is a list of words on purpose
  $(pin_prefix 1) "$SMTP_SOURCE" "$@" -m "$messages" -l "$MESSAGE_BYTES" -M localhost "127.0.0.1:$port" \
    >/dev/null 2>"$err" &
  SOURCE_PID=$!
  wait "$SOURCE_PID" || rc=$?
  SOURCE_PID=""
  # smtp-source aborts (exit 1, "fatal:" on stderr) on an unexpected reply or a lost
  # connection; any stderr output at all is treated as a failure.
  if [[ $rc != 0 || -s $err ]]; then
    head -n 20 "$err" >&2
    die "smtp-source ($label, $messages messages) exited with status $rc$([[ -s $err ]] && echo ' and wrote to stderr')"
  fi
}

measure() { # row-id description options default-count server round output-args
  local id=$1 desc=$2 opts=$3 messages=${BENCH_MESSAGES:-$4} server=$5
  local round=$6
  FAKE_OUTPUT_ARGS=$7
  local port log_file start end hwm cpu_before cpu_after
  pick_free_port
  port=$PORT
  log_file="$WORK_DIR/$id.$server.log"
  log "row $id, round $round, $server: port $port, $messages messages ($desc)"
  start_server "$server" "$port" "$log_file"
  # shellcheck disable=SC2086 # the load options are words on purpose
  run_source "$id.$server.warmup" "$port" "${BENCH_WARMUP:-500}" $opts
  cpu_before=$(cpu_ticks "$SERVER_PID")
  start=$EPOCHREALTIME
  # shellcheck disable=SC2086
  run_source "$id.$server" "$port" "$messages" $opts
  end=$EPOCHREALTIME
  kill -0 "$SERVER_PID" 2>/dev/null || die "$server died during the run"
  cpu_after=$(cpu_ticks "$SERVER_PID")
  hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$SERVER_PID/status")
  stop_server "$server" "$log_file"
  awk -v s="$start" -v e="$end" -v n="$messages" -v id="$id" -v d="$desc" -v srv="$server" -v h="$hwm" \
    -v r="$round" -v cpu=$((cpu_after - cpu_before)) -v hz="$(getconf CLK_TCK)" \
    'BEGIN {t = e - s; printf "%s\t%s\t%s\t%d\t%.3f\t%.1f\t%d\t%d\t%.2f\n", id, d, srv, n, t, n / t, h, r, cpu / hz / n * 1e6}' \
    >>"$WORK_DIR/results.tsv"
  log "  $(tail -n 1 "$WORK_DIR/results.tsv" | awk -F'\t' '{printf "%.2f s, %.0f msg/s, %.1f us CPU/msg, peak RSS %.1f MiB", $5, $6, $9, $7 / 1024}')"
}

# The process's user + system time so far, in clock ticks (proc(5): fields 14 and 15; the
# command name in field 2 has no spaces here).
cpu_ticks() { # pid
  awk '{print $14 + $15}' "/proc/$1/stat"
}

inner_main() {
  [[ -d $WORK_DIR ]] || die "--inner is for ci/bench.sh itself"
  ip link set lo up
  # Only the loopback device exists here, so nothing can leave the machine.
  [[ $(ip -o link show | wc -l) == 1 ]] || die "unexpected network devices in the namespace: $(ip -o link show)"
  ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
  (($(ulimit -n) >= 1024)) || die "open file limit $(ulimit -n) is too low for 200 sessions"
  trap inner_cleanup EXIT
  trap 'log interrupted; exit 130' INT TERM

  local servers=(smtp-sink) row id desc opts count output server round order
  [[ -n $FAKE_BIN ]] && servers=(fake-smtp smtp-sink)
  local rounds=${BENCH_ROUNDS:-5}
  : >"$WORK_DIR/results.tsv"
  : >"$WORK_DIR/load.tsv"
  for row in "${ROWS[@]}"; do
    IFS='|' read -r id desc opts count output <<<"$row"
    if [[ -z $FAKE_BIN && $id == [ABC]? ]]; then continue; fi
    row_selected "$id" || continue
    for ((round = 1; round <= rounds; round++)); do
      # Alternate which server goes first, so that a drift of the machine's speed during a
      # row does not favour one of them.
      order=("${servers[@]}")
      if ((round % 2 == 0 && ${#servers[@]} == 2)); then order=("${servers[1]}" "${servers[0]}"); fi
      for server in "${order[@]}"; do
        measure "$id" "$desc" "$opts" "$count" "$server" "$round" "$output"
      done
    done
  done
  FAKE_OUTPUT_ARGS=-
  for id in "${LOAD_ROWS[@]}"; do
    row_selected "$id" || continue
    [[ -n $FAKE_BIN ]] || { log "row $id needs fake-smtp; skipped"; continue; }
    case $id in
      I) load_idle ;;
      T) load_stalled_tls ;;
      S) load_soak ;;
    esac
  done
}

# Whether BENCH_ROWS selects the row: a list separated by commas or spaces, or one word of
# one-letter ids ("ABC", as before the two-letter rows existed).
row_selected() { # id
  local id=$1 selection=${BENCH_ROWS:-$DEFAULT_ROWS} known
  known=" ${LOAD_ROWS[*]} $(printf '%s\n' "${ROWS[@]}" | cut -d'|' -f1 | tr '\n' ' ') "
  if [[ $selection == *[,\ ]* || $known == *" $selection "* ]]; then
    [[ ",${selection// /,}," == *",$id,"* ]]
  else
    ((${#id} == 1)) && [[ $selection == *"$id"* ]]
  fi
}

# shellcheck source=ci/bench/load.sh
source "$CI_DIR/bench/load.sh"

if [[ ${1:-} == --inner ]]; then
  WORK_DIR=${2:-}
  FAKE_BIN=${3:-}
  inner_main
else
  outer_main "$@"
fi
