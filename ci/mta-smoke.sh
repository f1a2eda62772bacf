#!/usr/bin/env bash
# Smoke test of ci/mta.sh (a private Postfix on 127.0.0.1) with real clients: Python's
# smtplib (and scramp for SCRAM) through ci/mta/smoke.py, then curl. Starts an instance in
# a temporary directory, checks every listener, checks that mail for other domains is refused
# and that nothing is queued for outside, stops it, and checks that nothing is left running.
#
# Usage: ci/mta-smoke.sh [--netns | --both] [--keep] [-v]
#   (default)  on the host's network (loopback addresses only)
#   --netns    inside a loopback-only network namespace (unshare -n; ip link set lo up)
#   --both     the host's network first, then a namespace
#   --keep     keep the instance directory (logs, Maildir, transcripts) after success
#   -v         print the smtplib transcripts and curl's protocol trace
#
# Exit status 0 when every check passed; 1 with "FAIL" lines otherwise. Needs root.

# `check WHAT eval '...'`: the single quotes are deliberate (check() evaluates the test), and
# the variables used only there are not unused.
# shellcheck disable=SC2016,SC2034
set -euo pipefail

SELF=$(readlink -f "${BASH_SOURCE[0]}")
CI_DIR=$(dirname "$SELF")
MTA=$CI_DIR/mta.sh
POSTFIX_MASTER=/usr/lib/postfix/sbin/master
# Log lines that the negative checks cause (wrong passwords, a client without ca.pem).
export EXPECTED_WARNINGS='SASL [A-Z0-9-]+ authentication failed: authentication failure|SASL authentication failure: (Password verification failed|incorrect digest response)|TLS library problem: .*alert unknown ca'

log() { printf 'mta-smoke: %s\n' "$*" >&2; }
die() { printf 'mta-smoke: FAILED: %s\n' "$*" >&2; exit 1; }

FAILED=0
ok() { printf 'ok    %s\n' "$*"; }
fail() { printf 'FAIL  %s\n' "$*"; FAILED=1; }
check() { # description command...
  local what=$1
  shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}

# Postfix master processes that are alive (a zombie is not: here pid 1 may reap late).
live_masters() {
  local pid
  for pid in $(pgrep -x master || true); do
    [[ $(readlink -f "/proc/$pid/exe" 2>/dev/null) == "$POSTFIX_MASTER" ]] || continue
    [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]] || continue
    echo "$pid"
  done | sort
}

# Any process working in DIR (Postfix's processes all have DIR/spool as their cwd).
dir_pids() { # dir
  local p cwd
  for p in /proc/[0-9]*; do
    cwd=$(readlink "$p/cwd" 2>/dev/null) || continue
    [[ $cwd == "$1" || $cwd == "$1"/* ]] && echo "${p#/proc/}"
  done
  return 0
}

port_listening() { # port
  local hex
  hex=$(printf '%04X' "$1")
  awk -v p=":$hex" 'NR > 1 && substr($2, length($2) - 4) == p && $4 == "0A" {f = 1} END {exit !f}' /proc/net/tcp
}

# ---------------------------------------------------------------- curl

RUN=""
wait_arrival() { # tag count
  local subject="Subject: mta smoke curl-$1 $RUN" i n
  for ((i = 0; i < 150; i++)); do
    n=$(grep -lF -- "$subject" "$DIR"/maildir/new/* 2>/dev/null | wc -l)
    ((n == $2)) && return 0
    sleep 0.1
  done
  log "curl-$1: $n message(s) in $DIR/maildir/new, expected $2"
  return 1
}

curl_send() { # tag expected-exit-status curl-arguments...
  local tag=$1 want=$2 rc=0
  shift 2
  local file=$DIR/curl-$tag.eml trace=$DIR/curl-$tag.trace
  printf 'From: <%s>\r\nSubject: mta smoke curl-%s %s\r\n\r\nSent by curl (%s).\r\n' \
    "$USER_NAME" "$tag" "$RUN" "$tag" >"$file"
  curl --silent --show-error --max-time 20 --upload-file "$file" --trace-ascii "$trace" "$@" \
    >/dev/null 2>"$DIR/curl-$tag.stderr" || rc=$?
  if [[ $VERBOSE == 1 ]]; then
    echo "--- curl $tag: $*"
    grep -E '^(<=|=>) (Recv|Send) header' -A1 "$trace" | grep -vE '^(<=|=>|--)' | sed 's/^[0-9a-f]*: //'
  fi
  if [[ $rc != "$want" ]]; then
    log "curl $tag exited with $rc, expected $want: $(cat "$DIR/curl-$tag.stderr")"
    return 1
  fi
}

curl_checks() {
  local smtp=$1 sub=$2 smtps=$3 ca=$DIR/ca.pem
  local auth=(--user "$USER_NAME:$PASSWORD" --cacert "$ca")
  check "curl: plain SMTP on $smtp, delivered" \
    eval 'curl_send plain 0 "smtp://127.0.0.1:$smtp/client.test.example" --mail-from sender@outside.example --mail-rcpt curl-plain@test.example && wait_arrival plain 1'
  check "curl: submission on $sub, STARTTLS (--ssl-reqd, verified) + AUTH PLAIN, delivered" \
    eval 'curl_send sub-plain 0 "smtp://127.0.0.1:$sub/client.test.example" --ssl-reqd "${auth[@]}" --login-options AUTH=PLAIN --mail-from "$USER_NAME" --mail-rcpt curl-sub@test.example && wait_arrival sub-plain 1'
  check "curl: submission on $sub, STARTTLS + AUTH LOGIN, delivered" \
    eval 'curl_send sub-login 0 "smtp://127.0.0.1:$sub/client.test.example" --ssl-reqd "${auth[@]}" --login-options AUTH=LOGIN --mail-from "$USER_NAME" --mail-rcpt curl-sub@test.example && wait_arrival sub-login 1'
  check "curl: implicit TLS on $smtps (verified) + AUTH (curl's choice), delivered" \
    eval 'curl_send smtps 0 "smtps://127.0.0.1:$smtps/client.test.example" "${auth[@]}" --mail-from "$USER_NAME" --mail-rcpt curl-smtps@test.example && wait_arrival smtps 1'
  # 67: CURLE_LOGIN_DENIED; 55: CURLE_SEND_ERROR (curl's status for a refused RCPT)
  check "curl: wrong password refused (curl exit 67, login denied)" \
    curl_send wrong-password 67 "smtp://127.0.0.1:$sub/client.test.example" --ssl-reqd --cacert "$ca" \
    --user "$USER_NAME:wrong-password" --mail-from "$USER_NAME" --mail-rcpt curl-sub@test.example
  check "curl: STARTTLS without trusting ca.pem fails (curl exit 60)" \
    curl_send untrusted 60 "smtp://127.0.0.1:$sub/client.test.example" --ssl-reqd \
    --user "$USER_NAME:$PASSWORD" --mail-from "$USER_NAME" --mail-rcpt curl-sub@test.example
  check "curl: authenticated mail to an outside domain refused (curl exit 55)" \
    curl_send outside-sub 55 "smtps://127.0.0.1:$smtps/client.test.example" "${auth[@]}" \
    --mail-from "$USER_NAME" --mail-rcpt somebody@example.org
  check "curl: relay to an outside domain refused on $smtp (curl exit 55)" \
    curl_send outside-smtp 55 "smtp://127.0.0.1:$smtp/client.test.example" \
    --mail-from sender@outside.example --mail-rcpt somebody@example.org
  check "curl: the wrong password got a 535 5.7.8 reply" grep -q '535 5.7.8' "$DIR/curl-wrong-password.trace"
}

# ---------------------------------------------------------------- one full run

run_checks() { # dir where
  DIR=$1
  local where=$2 t0 t1 masters_before rc
  masters_before=$(live_masters)
  log "[$where] ci/mta.sh start $DIR"
  t0=$EPOCHREALTIME
  if ! "$MTA" start "$DIR"; then fail "[$where] ci/mta.sh start"; return; fi
  t1=$EPOCHREALTIME
  ok "[$where] ci/mta.sh start ($(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f s", b - a}'))"
  check "[$where] ci/mta.sh start again: already running, exit 0" \
    eval '"$MTA" start "$DIR" 2>&1 | grep "already running" >/dev/null'
  check "[$where] ci/mta.sh status: running (exit 0)" eval '"$MTA" status "$DIR" >/dev/null'

  local smtp sub smtps
  smtp=$(sed -n 's/^smtp=.*://p' "$DIR/ports")
  sub=$(sed -n 's/^submission=.*://p' "$DIR/ports")
  smtps=$(sed -n 's/^smtps=.*://p' "$DIR/ports")
  USER_NAME=$(sed -n 's/^user=//p' "$DIR/credentials")
  PASSWORD=$(sed -n 's/^password=//p' "$DIR/credentials")
  local masters_mine
  masters_mine=$(comm -13 <(echo "$masters_before") <(live_masters) | grep . || true)
  check "[$where] exactly one new postfix master, and it is this instance's" \
    eval '[[ $(wc -l <<<"$masters_mine") == 1 && $(readlink "/proc/$masters_mine/cwd") == "$DIR/spool" ]]'
  ss -Hltn 2>/dev/null | awk '{print $4}' | grep -E ":($smtp|$sub|$smtps)\$" | sort >"$DIR/listeners"
  check "[$where] listening on 127.0.0.1 only: $(tr '\n' ' ' <"$DIR/listeners")" \
    eval '[[ $(grep -c . "$DIR/listeners") == 3 && -z $(grep -v "^127\.0\.0\.1:" "$DIR/listeners") ]]'

  RUN=$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
  log "[$where] smtplib checks (ci/mta/smoke.py)"
  rc=0
  python3 "$CI_DIR/mta/smoke.py" "$DIR" || rc=$?
  ((rc == 0)) || fail "[$where] smtplib checks (see the FAIL lines above)"
  [[ $VERBOSE == 1 ]] && cat "$DIR/smoke-transcripts.txt"
  log "[$where] curl checks"
  curl_checks "$smtp" "$sub" "$smtps"

  # Nothing for outside may be queued or have gone anywhere but the Maildir.
  check "[$where] the queue is empty (postqueue -p)" \
    eval 'postqueue -c "$DIR/postfix" -p 2>&1 | grep -q "Mail queue is empty"'
  check "[$where] every delivery in the log went to the Maildir (relay=virtual)" \
    eval '! grep -E " relay=" "$DIR/maillog" | grep -v " relay=virtual," | grep -q . && grep -q "status=sent (delivered to maildir)" "$DIR/maillog"'
  check "[$where] no SMTP client ever ran (no postfix/smtp[ in the log)" eval '! grep -q "postfix/smtp\[" "$DIR/maillog"'
  # Expected: the wrong passwords and the client that did not trust the certificate.
  check "[$where] no warnings, errors or panics in the log but the expected ones" \
    eval '! grep -E "(warning|error|fatal|panic):" "$DIR/maillog" | grep -vE "$EXPECTED_WARNINGS" | grep -q .'

  log "[$where] ci/mta.sh stop $DIR"
  check "[$where] ci/mta.sh stop" "$MTA" stop "$DIR"
  rc=0
  "$MTA" status "$DIR" >/dev/null || rc=$?
  check "[$where] ci/mta.sh status after stop: not running (exit 3)" test "$rc" == 3
  check "[$where] ci/mta.sh stop again: exit 0" eval '"$MTA" stop "$DIR" 2>/dev/null'
  check "[$where] no process of the instance is left" eval '[[ -z $(dir_pids "$DIR") ]]'
  check "[$where] postfix masters are as before the start (${masters_before//$'\n'/ })" \
    eval '[[ $(live_masters) == "$masters_before" ]]'
  check "[$where] nothing listens on $smtp, $sub, $smtps any more" \
    eval '! port_listening "$smtp" && ! port_listening "$sub" && ! port_listening "$smtps"'
  check "[$where] no saslauthd runs" eval '! pgrep -x saslauthd >/dev/null'
}

# ---------------------------------------------------------------- entry points

VERBOSE=${VERBOSE:-0}
KEEP=0
MODE=host

inner_main() { # --inner dir
  ip link set lo up
  [[ $(ip -o link show | wc -l) == 1 ]] || die "unexpected network devices in the namespace: $(ip -o link show)"
  run_checks "$2" netns
  exit "$FAILED"
}

outer_main() {
  local arg
  for arg in "$@"; do
    case $arg in
      --netns) MODE=netns ;;
      --both) MODE=both ;;
      --keep) KEEP=1 ;;
      -v) VERBOSE=1 ;;
      -h | --help) sed -n '2,/^$/p' "$SELF" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
      *) die "unknown argument: $arg (try --help)" ;;
    esac
  done
  [[ $EUID == 0 ]] || die "run as root (ci/mta.sh installs packages and starts Postfix)"
  command -v curl >/dev/null || die "curl is missing (ci/setup.sh installs it)"
  python3 -c 'import smtplib, scramp' 2>/dev/null || die "python3 with smtplib and scramp is needed (ci/setup.sh installs scramp)"
  # Outside any namespace: the namespace has no route to the package mirrors.
  "$MTA" install

  local dirs=() dir masters_before i
  masters_before=$(live_masters)
  if [[ $MODE == host || $MODE == both ]]; then
    dir=$(mktemp -d /tmp/mta-smoke.XXXXXX)
    dirs+=("$dir")
    run_checks "$dir" host
  fi
  if [[ $MODE == netns || $MODE == both ]]; then
    dir=$(mktemp -d /tmp/mta-smoke-netns.XXXXXX)
    dirs+=("$dir")
    log "[netns] running in a loopback-only network namespace"
    local rc=0
    unshare -n -- env VERBOSE="$VERBOSE" bash "$SELF" --inner "$dir" || rc=$?
    ((rc == 0)) || FAILED=1
    # Checked again from outside: the namespace is gone, and no process of it is left.
    check "[netns] seen from the host: no process of the instance is left" eval '[[ -z $(dir_pids "$dir") ]]'
  fi
  check "postfix masters are as before the test (${masters_before//$'\n'/ })" eval '[[ $(live_masters) == "$masters_before" ]]'
  # A stopped master stays a zombie until pid 1 reaps it (late, in some containers).
  for ((i = 0; i < 50; i++)); do
    [[ $(pgrep -x master | sort) == "$masters_before" ]] && break
    sleep 0.1
  done
  echo "pgrep -a master: $(pgrep -a master | tr '\n' ';' || true)"
  echo "pgrep -a saslauthd: $(pgrep -a saslauthd | tr '\n' ';' || true)"

  for dir in "${dirs[@]}"; do
    if [[ $FAILED == 0 && $KEEP == 0 ]]; then rm -rf "$dir"; else log "kept $dir"; fi
  done
  if [[ $FAILED != 0 ]]; then die "some checks failed (FAIL lines above)"; fi
  log "all checks passed"
}

if [[ ${1:-} == --inner ]]; then
  VERBOSE=${VERBOSE:-0}
  inner_main "$@"
else
  outer_main "$@"
fi
