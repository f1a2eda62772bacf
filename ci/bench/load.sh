# Soak and load rows of ci/bench.sh (sourced by its inner part, inside the loopback-only
# namespace): I (idle connections), T (stalled TLS handshakes), S (soak). Each appends
# "id<TAB>load<TAB>server<TAB>result" lines to $WORK_DIR/load.tsv. No thresholds are asserted:
# the numbers are reported, and a row fails only if its load could not be run.

HOLD="$CI_DIR/bench/hold_connections.py"

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
# The kernel's TCP memory in KiB (all sockets, both ends of every loopback connection).
tcp_mem_kib() { awk -v page="$(getconf PAGESIZE)" '$1 == "TCP:" {for (i = 2; i < NF; i++) if ($i == "mem") print $(i + 1) * page / 1024}' /proc/net/sockstat; }

load_result() { # id load server text
  printf '%s\t%s\t%s\t%s\n' "$@" >>"$WORK_DIR/load.tsv"
  log "  $4"
}

# Starts hold_connections.py and waits until its connections are all open.
start_holder() { # mode port count label
  local ready="$WORK_DIR/$4.ready" deadline
  rm -f "$ready"
  python3 "$HOLD" "$1" 127.0.0.1 "$2" "$3" "$ready" 2>"$WORK_DIR/$4.holder.stderr" &
  HOLDER_PID=$!
  deadline=$((SECONDS + 300))
  until [[ -e $ready ]]; do
    kill -0 "$HOLDER_PID" 2>/dev/null || { cat "$WORK_DIR/$4.holder.stderr" >&2; die "hold_connections.py ($4) exited early"; }
    ((SECONDS < deadline)) || die "hold_connections.py ($4) not ready after 300 s"
    sleep 0.2
  done
  HOLDER_READY=$(cat "$ready")
}

stop_holder() { # label; sets HOLDER_REPORT
  kill -TERM "$HOLDER_PID" 2>/dev/null || true
  wait "$HOLDER_PID" || die "hold_connections.py ($1) failed: $(cat "$WORK_DIR/$1.holder.stderr")"
  HOLDER_PID=""
  HOLDER_REPORT=$(tail -n 1 "$WORK_DIR/$1.holder.stderr")
}

# Row I: server RSS before and after N idle, greeted connections; the difference per
# connection is what an idle session costs in user space (socket buffers are kernel memory,
# reported beside it from /proc/net/sockstat, for both ends of each connection).
load_idle() {
  local count=${BENCH_IDLE_CONNECTIONS:-10000} server port log_file before after mem_before mem_after
  for server in fake-smtp smtp-sink; do
    pick_free_port
    port=$PORT
    log_file="$WORK_DIR/I.$server.log"
    log "row I, $server: port $port, $count idle connections"
    MAX_CONNECTIONS=$((count + 100))
    start_server "$server" "$port" "$log_file"
    run_source "I.$server.warmup" "$port" "${BENCH_WARMUP:-500}" -s 20
    sleep 1
    before=$(rss_kib "$SERVER_PID")
    mem_before=$(tcp_mem_kib)
    start_holder idle "$port" "$count" "I.$server"
    sleep 2
    after=$(rss_kib "$SERVER_PID")
    mem_after=$(tcp_mem_kib)
    stop_holder "I.$server"
    stop_server "$server" "$log_file"
    MAX_CONNECTIONS=1000
    load_result I "$count idle connections (greeted, then silent)" "$server" \
      "$(awk -v b="$before" -v a="$after" -v n="$count" -v mb="$mem_before" -v ma="$mem_after" -v r="$HOLDER_READY" \
        'BEGIN {printf "RSS %.1f MiB before, %.1f MiB with them open: %.2f KiB per connection; kernel TCP memory +%.1f MiB (%.2f KiB per connection, both ends); client: %s", b / 1024, a / 1024, (a - b) / n, (ma - mb) / 1024, (ma - mb) / n, r}')"
  done
}

# Row T: stalled handshakes on the implicit-TLS listener while smtp-source sends on the plain
# listener and a TLS client (tls_send.py) on the stalled one; each rate before and during.
load_stalled_tls() {
  local count=${BENCH_STALLED_TLS:-2000} messages=${BENCH_STALL_MESSAGES:-100000} tls_messages=500
  local port tls_port log_file ca="$WORK_DIR/T.ca.pem" phase start end rate tls results=""
  pick_free_port
  port=$PORT
  pick_free_port
  tls_port=$PORT
  log_file="$WORK_DIR/T.fake-smtp.log"
  log "row T: smtp port $port, smtps port $tls_port, $count stalled handshakes"
  MAX_CONNECTIONS=$((count + 1000))
  # The handshake timeout (10 s by default) must not end the stall during the run.
  FAKE_SMTPS_ARGS=(--smtps "127.0.0.1:$tls_port" --ca-out "$ca" --tls-handshake-timeout 10m)
  start_server fake-smtp "$port" "$log_file"
  wait_listening "$SERVER_PID" "$tls_port" "$log_file"
  until [[ -s $ca ]]; do sleep 0.05; done
  run_source T.warmup "$port" "${BENCH_WARMUP:-500}" -s 20 -d
  for phase in before during; do
    if [[ $phase == during ]]; then start_holder stall-tls "$tls_port" "$count" T; fi
    start=$EPOCHREALTIME
    run_source "T.$phase" "$port" "$messages" -s 20 -d
    end=$EPOCHREALTIME
    rate=$(awk -v s="$start" -v e="$end" -v n="$messages" 'BEGIN {printf "%.0f", n / (e - s)}')
    tls=$(python3 "$CI_DIR/bench/tls_send.py" 127.0.0.1 "$tls_port" "$ca" "$tls_messages") \
      || die "tls_send.py failed ($phase the stalled handshakes)"
    tls=$(awk -v t="$tls" 'BEGIN {split(t, f, /[= ]/); printf "%d in %.2f s (%.0f msg/s)", f[2], f[4], f[2] / f[4]}')
    results+="$phase: smtp-source $messages messages at $rate msg/s, TLS client $tls; "
  done
  kill -0 "$SERVER_PID" 2>/dev/null || die "fake-smtp died during row T"
  stop_holder T
  stop_server fake-smtp "$log_file"
  MAX_CONNECTIONS=1000
  FAKE_SMTPS_ARGS=(--smtps off)
  load_result T "$count stalled TLS handshakes (none or part of a ClientHello) on the implicit-TLS listener" fake-smtp \
    "${results}stalled: $HOLDER_READY at the start; at the end: ${HOLDER_REPORT#hold_connections: }"
}

# The octets received on this namespace's loopback so far (both directions of every
# connection; /proc/PID/io's rchar would miss them: sockets are read with recv, not read).
in_octets() { awk '$1 == "IpExt:" {if (!n) {for (i = 2; i <= NF; i++) if ($i == "InOctets") col = i; n = 1} else print $col}' /proc/net/netstat; }

# Row S: 20 persistent sessions sending BENCH_SOAK_MESSAGES each. RSS is sampled every
# second with the octets received in the namespace so far; since every message is the same
# size, the octets give the share of the messages received at each sample.
load_soak() {
  local per_session=${BENCH_SOAK_MESSAGES:-1000000} port log_file samples="$WORK_DIR/S.samples" start end total octets_end hwm
  total=$((20 * per_session))
  pick_free_port
  port=$PORT
  log_file="$WORK_DIR/S.fake-smtp.log"
  log "row S: port $port, 20 sessions x $per_session messages"
  start_server fake-smtp "$port" "$log_file"
  : >"$samples"
  local octets_start
  octets_start=$(in_octets)
  (
    while kill -0 "$SERVER_PID" 2>/dev/null; do
      printf '%s %s\n' "$(($(in_octets) - octets_start))" "$(rss_kib "$SERVER_PID")" >>"$samples"
      sleep 1
    done
  ) &
  SAMPLER_PID=$!
  start=$EPOCHREALTIME
  run_source S "$port" "$total" -s 20 -d
  end=$EPOCHREALTIME
  kill -TERM "$SAMPLER_PID" 2>/dev/null || true
  wait "$SAMPLER_PID" 2>/dev/null || true
  SAMPLER_PID=""
  octets_end=$(($(in_octets) - octets_start))
  printf '%s %s\n' "$octets_end" "$(rss_kib "$SERVER_PID")" >>"$samples"
  hwm=$(hwm_kib "$SERVER_PID")
  stop_server fake-smtp "$log_file"
  load_result S "20 persistent sessions x $per_session messages ($total in all)" fake-smtp \
    "$(awk -v end="$octets_end" -v per="$per_session" -v total="$total" -v s="$start" -v e="$end" -v hwm="$hwm" '
      { share = $1 / end; last = $2; for (i = 1; i <= 3; i++) if (!(i in rss) && share >= mark[i]) rss[i] = $2 }
      # The last sample is taken after the sessions ended (their records are then kept, within
      # --max-memory); the 99% one is the last taken while they still ran.
      BEGIN { mark[1] = 0.1; mark[2] = 0.5; mark[3] = 0.99 }
      END {
        printf "%.0f msg/s; RSS while the sessions run, at %d / %d / %d messages per session: %.1f / %.1f / %.1f MiB (%+.1f MiB from 10%% to 99%%); after they ended (20 session records kept): %.1f MiB; peak %.1f MiB",
          total / (e - s), per / 10, per / 2, per * 0.99, rss[1] / 1024, rss[2] / 1024, rss[3] / 1024, (rss[3] - rss[1]) / 1024, last / 1024, hwm / 1024
      }' "$samples")"
}
