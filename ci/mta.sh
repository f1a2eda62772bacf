#!/usr/bin/env bash
# A real MTA for the harness to talk to: a private Postfix instance (Debian's package) with
# Cyrus SASL (sasldb, no daemon), listening on 127.0.0.1 only. Nothing of it lives outside
# DIR: configuration, queue, logs, TLS files, SASL database and the delivered mail.
#
# Usage: ci/mta.sh start DIR     install what is missing, write DIR, start, wait until ready
#        ci/mta.sh stop DIR      stop that instance; no process of it is left afterwards
#        ci/mta.sh status DIR    exit 0 and say so if it runs, exit 3 if it does not
#        ci/mta.sh install       only install the packages (e.g. before `unshare -n`)
#        ci/mta.sh --help
#
# What `start DIR` sets up (DIR must be an absolute or relative path of [A-Za-z0-9_./-]):
#   127.0.0.1:2525  SMTP, relay-style MX for test.example: no AUTH, STARTTLS offered (may);
#                   mail for any other domain is refused at RCPT (554 5.7.1 Relay access denied)
#   127.0.0.1:2587  submission: STARTTLS required before anything else, then SASL AUTH
#                   required (MAIL without AUTH is refused)
#   127.0.0.1:2465  submissions: implicit TLS, then SASL AUTH required
#   DIR/ports        smtp=127.0.0.1:2525, submission=..., smtps=... (shell-sourceable)
#   DIR/credentials  user=harness@test.example, password=harness-password (shell-sourceable)
#   DIR/ca.pem       the CA to trust; the server certificate names localhost, 127.0.0.1 and
#                    mta.test.example
#   DIR/maildir/new/ one Maildir for every recipient of test.example (each copy has its
#                    Delivered-To: and X-Original-To: headers); any local part is accepted
#                    except `unknown`, which is refused (550 5.1.1 ... User unknown)
#   DIR/maillog      Postfix's log
# Mail that an authenticated user sends to another domain is refused at RCPT too (550 5.7.1
# ... outside delivery is disabled in this test MTA). There is no SMTP client service in
# master.cf at all, so nothing can leave. No DNS lookups are made.
#
# Environment: MTA_SMTP_PORT (2525), MTA_SUBMISSION_PORT (2587), MTA_SMTPS_PORT (2465),
#              MTA_START_TIMEOUT (seconds, 30)
# Needs root. Works in a loopback-only network namespace (`unshare -n`, `ip link set lo up`),
# provided the packages were installed before (`ci/mta.sh install` outside it).
set -euo pipefail

SELF=$(readlink -f "${BASH_SOURCE[0]}")

SMTP_PORT=${MTA_SMTP_PORT:-2525}
SUBMISSION_PORT=${MTA_SUBMISSION_PORT:-2587}
SMTPS_PORT=${MTA_SMTPS_PORT:-2465}
START_TIMEOUT=${MTA_START_TIMEOUT:-30}

DOMAIN=test.example
MTA_HOSTNAME=mta.test.example
SASL_USER=harness
SASL_PASSWORD=harness-password
# The virtual(8) delivery agent writes the Maildirs as this user (not root: it refuses uids
# below virtual_minimum_uid).
DELIVERY_USER=nobody
PACKAGES=(postfix sasl2-bin libsasl2-modules openssl)
SASL_PLUGIN_DIR=/usr/lib/x86_64-linux-gnu/sasl2
POSTFIX_DAEMON_DIR=/usr/lib/postfix/sbin

log() { printf 'mta: %s\n' "$*" >&2; }
die() { printf 'mta: FAILED: %s\n' "$*" >&2; exit 1; }

usage() { sed -n '2,/^set -euo/p' "$SELF" | sed '$d; s/^# \{0,1\}//'; }

# ---------------------------------------------------------------- packages

POLICY_RC_CREATED=0
cleanup_policy_rc() {
  if [[ $POLICY_RC_CREATED == 1 ]]; then rm -f /usr/sbin/policy-rc.d; POLICY_RC_CREATED=0; fi
}

# Postfix master processes of any instance (the system's or one of ours).
postfix_master_pids() {
  local pid
  for pid in $(pgrep -x master || true); do
    if [[ $(readlink -f "/proc/$pid/exe" 2>/dev/null) == "$POSTFIX_DAEMON_DIR/master" ]]; then echo "$pid"; fi
  done
}

packages_missing() {
  local missing=()
  [[ -x /usr/sbin/postfix && -x $POSTFIX_DAEMON_DIR/master ]] || missing+=(postfix)
  [[ -x /usr/sbin/saslpasswd2 ]] || missing+=(sasl2-bin)
  # The PLAIN and LOGIN mechanisms, and the sasldb auxprop plugin (a dependency of libsasl2-2).
  [[ -e $SASL_PLUGIN_DIR/libplain.so && -e $SASL_PLUGIN_DIR/liblogin.so ]] || missing+=(libsasl2-modules)
  [[ -e $SASL_PLUGIN_DIR/libsasldb.so ]] || missing+=(libsasl2-modules-db)
  command -v openssl >/dev/null || missing+=(openssl)
  echo "${missing[*]}"
}

ensure_packages() {
  local missing
  missing=$(packages_missing)
  [[ -z $missing ]] && return 0
  log "installing: $missing"
  local system_master_before
  system_master_before=$(postfix_master_pids)
  # The postinst scripts would start the daemons (postfix, saslauthd); exit 101 forbids it.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    POLICY_RC_CREATED=1
    trap cleanup_policy_rc EXIT
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
  fi
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  local apt=(apt-get -o DPkg::Lock::Timeout=300 -y -qq --no-install-recommends)
  # shellcheck disable=SC2086 # $missing is a list of package names
  if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" install $missing >&2; then
    log "install failed; running apt-get update and trying again"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -qq >&2 ||
      die "apt-get update failed (no network? In a network namespace, run ci/mta.sh install outside it first)"
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" install $missing >&2 || die "apt-get install $missing"
  fi
  cleanup_policy_rc
  # Same check as ci/bench.sh: the package's own daemon must not be left running.
  if [[ -z $system_master_before && -n $(postfix_master_pids) ]]; then
    postfix stop >/dev/null 2>&1 || true
    sleep 1
    [[ -z $(postfix_master_pids) ]] || die "the system's postfix daemon runs after the install: $(pgrep -a master)"
  fi
  missing=$(packages_missing)
  [[ -z $missing ]] || die "still missing after apt-get install: $missing"
}

# ---------------------------------------------------------------- instance files

set_paths() { # DIR
  [[ -n ${1:-} ]] || die "missing DIR (try --help)"
  DIR=$(readlink -m "$1")
  [[ $DIR =~ ^/[A-Za-z0-9_./-]+$ ]] || die "DIR must be made of [A-Za-z0-9_./-] only (Postfix settings are split at spaces and commas): $DIR"
  [[ $DIR != / ]] || die "DIR must not be /"
  CONF=$DIR/postfix
  SPOOL=$DIR/spool
  DATA=$DIR/data
  MAILDIR=$DIR/maildir
  TLS=$DIR/tls
  SASL=$DIR/sasl
  MAILLOG=$DIR/maillog
}

# The master process of this instance, if it runs (prints its pid).
instance_master_pid() {
  local pid
  [[ -r $SPOOL/pid/master.pid ]] || return 1
  pid=$(awk 'NR == 1 {print $1}' "$SPOOL/pid/master.pid")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ $(readlink -f "/proc/$pid/exe" 2>/dev/null) == "$POSTFIX_DAEMON_DIR/master" ]] || return 1
  [[ $(readlink -f "/proc/$pid/cwd" 2>/dev/null) == "$SPOOL" ]] || return 1
  echo "$pid"
}

# Every process of this instance: Postfix programs whose working directory is its queue
# directory (master chdirs there and its children inherit it; nothing here is chrooted),
# even if DIR was deleted under them.
instance_pids() {
  local p pid cwd
  for p in /proc/[0-9]*; do
    pid=${p#/proc/}
    [[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
    cwd=$(readlink "$p/cwd" 2>/dev/null) || continue
    [[ $cwd == "$SPOOL" || $cwd == "$SPOOL (deleted)" ]] || continue
    [[ $(readlink "$p/exe" 2>/dev/null) == "$POSTFIX_DAEMON_DIR"/* ]] || continue
    echo "$pid"
  done
}

# Whether 127.0.0.1:PORT (or *:PORT) is a listening TCP socket in the network namespace of
# process PID (default: ours). /proc/PID/net/tcp works across namespaces.
listening() { # port [pid]
  local hex
  hex=$(printf '%04X' "$1")
  awk -v a="0100007F:$hex" -v b="00000000:$hex" \
    'NR > 1 && ($2 == a || $2 == b) && $4 == "0A" {found = 1} END {exit !found}' "/proc/${2:-self}/net/tcp"
}

write_tls() {
  mkdir -p "$TLS"
  chmod 700 "$TLS"
  # Keep a valid CA and certificate across restarts, so that a client may keep DIR/ca.pem.
  if [[ -s $DIR/ca.pem && -s $TLS/server.pem && -s $TLS/server-key.pem ]] &&
    openssl x509 -checkend 86400 -noout -in "$TLS/server.pem" >/dev/null 2>&1 &&
    openssl verify -CAfile "$DIR/ca.pem" "$TLS/server.pem" >/dev/null 2>&1 &&
    [[ $(openssl pkey -in "$TLS/server-key.pem" -pubout 2>/dev/null) == "$(openssl x509 -in "$TLS/server.pem" -noout -pubkey)" ]]; then
    return 0
  fi
  log "generating a CA and a server certificate in $TLS"
  local tmp=$TLS/tmp
  rm -rf "$tmp"
  mkdir -p "$tmp"
  openssl ecparam -genkey -name prime256v1 -noout -out "$tmp/ca-key.pem" 2>/dev/null
  openssl req -x509 -new -key "$tmp/ca-key.pem" -sha256 -days 3650 \
    -subj "/O=smtp harness test CA/CN=ci-mta test CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" \
    -out "$tmp/ca.pem"
  openssl ecparam -genkey -name prime256v1 -noout -out "$tmp/server-key.pem" 2>/dev/null
  openssl req -new -key "$tmp/server-key.pem" -subj "/CN=localhost" -out "$tmp/server.csr"
  cat >"$tmp/ext.cnf" <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, DNS:$MTA_HOSTNAME
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
  openssl x509 -req -in "$tmp/server.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca-key.pem" \
    -set_serial "0x$(openssl rand -hex 8)" -sha256 -days 825 -extfile "$tmp/ext.cnf" \
    -out "$tmp/server.pem" 2>/dev/null
  openssl verify -CAfile "$tmp/ca.pem" "$tmp/server.pem" >/dev/null || die "the generated certificate does not verify"
  mv "$tmp/ca-key.pem" "$tmp/server-key.pem" "$tmp/server.pem" "$TLS/"
  mv "$tmp/ca.pem" "$DIR/ca.pem"
  chmod 600 "$TLS/ca-key.pem" "$TLS/server-key.pem"
  chmod 644 "$DIR/ca.pem" "$TLS/server.pem"
  rm -rf "$tmp"
}

write_sasl() {
  mkdir -p "$SASL"
  # smtpd reads the database as the mail_owner (postfix), after dropping root.
  chown root:postfix "$SASL"
  chmod 750 "$SASL"
  rm -f "$SASL/sasldb2"
  printf '%s' "$SASL_PASSWORD" | saslpasswd2 -p -c -f "$SASL/sasldb2" -u "$DOMAIN" "$SASL_USER" ||
    die "saslpasswd2 could not create $SASL/sasldb2"
  chown root:postfix "$SASL/sasldb2"
  chmod 640 "$SASL/sasldb2"
  # Read by libsasl2 in smtpd: smtpd_sasl_path + ".conf". Debian's Postfix looks for it in
  # $config_directory/sasl/ (and ignores cyrus_sasl_config_path, which is set all the same).
  # auxprop + sasldb: in-process, no saslauthd.
  mkdir -p "$CONF/sasl"
  cat >"$CONF/sasl/smtpd.conf" <<EOF
pwcheck_method: auxprop
auxprop_plugin: sasldb
sasldb_path: $SASL/sasldb2
mech_list: PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256
EOF
  chmod 644 "$CONF/sasl/smtpd.conf"
  printf 'user=%s@%s\npassword=%s\n' "$SASL_USER" "$DOMAIN" "$SASL_PASSWORD" >"$DIR/credentials"
}

write_postfix_config() {
  mkdir -p "$CONF"
  cat >"$CONF/main.cf" <<EOF
# Written by ci/mta.sh start; rewritten on every start. A private test instance: loopback
# only, no DNS, no outbound SMTP, everything under $DIR.
compatibility_level = 3.6
queue_directory = $SPOOL
data_directory = $DATA
mail_owner = postfix
setgid_group = postdrop
default_privs = nobody
maillog_file = $MAILLOG
maillog_file_prefixes = $DIR

myhostname = $MTA_HOSTNAME
mydomain = $DOMAIN
myorigin = \$mydomain
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost =
relay_domains =

# No DNS: no reverse lookups of clients; no SMTP client at all (see master.cf).
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
smtp_host_lookup = native
lmtp_dns_support_level = disabled
lmtp_host_lookup = native

# test.example: a virtual mailbox domain; every recipient's copy goes to $MAILDIR/.
virtual_mailbox_domains = $DOMAIN
virtual_mailbox_base = $DIR
virtual_mailbox_maps = regexp:$CONF/virtual_mailboxes
virtual_uid_maps = static:$(id -u "$DELIVERY_USER")
virtual_gid_maps = static:$(id -g "$DELIVERY_USER")

# Room for the harness's 25 MiB message shape in base64 (the default is 10240000); the
# virtual(8) mailbox limit must not be smaller (0: none).
message_size_limit = 67108864
virtual_mailbox_limit = 0

# Nothing is delivered locally (no /var/mail, no /etc/aliases) and nothing leaves: every
# other destination resolves to the error(8) agent, so smtpd refuses it at RCPT already
# (and a bounce to such an address is discarded).
mydestination =
alias_maps =
alias_database =
local_recipient_maps = regexp:$CONF/no_local_recipients
local_transport = error:5.1.1 local delivery is disabled in this test MTA
default_transport = error:5.7.1 outside delivery is disabled in this test MTA
relay_transport = error:5.7.1 outside delivery is disabled in this test MTA

# Port 2525 (relay-style MX): final destination for $DOMAIN only, even for 127.0.0.0/8.
smtpd_relay_restrictions = reject_unauth_destination
smtpd_recipient_restrictions =

# TLS: offered on 2525, required on 2587 (see master.cf), implicit on 2465.
smtpd_tls_chain_files = $TLS/server-key.pem, $TLS/server.pem
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes

# SASL (enabled on 2587 and 2465 only): Cyrus libsasl2 in smtpd, sasldb auxprop.
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = $CONF/sasl
smtpd_sasl_security_options = noanonymous
smtpd_sasl_local_domain =
smtpd_tls_auth_only = yes
EOF
  cat >"$CONF/master.cf" <<EOF
# Written by ci/mta.sh start. Nothing is chrooted (the queue is under $DIR). There is no
# smtp, relay, lmtp, local or pipe service: no mail can leave this instance.
# service        type  private unpriv  chroot  wakeup  maxproc command + args
127.0.0.1:$SMTP_PORT inet n    -       n       -       -       smtpd
127.0.0.1:$SUBMISSION_PORT inet n -    n       -       -       smtpd
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_delay_reject=no
  -o smtpd_client_restrictions=
  -o smtpd_helo_restrictions=
  -o smtpd_sender_restrictions=permit_sasl_authenticated,reject
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
  -o milter_macro_daemon_name=ORIGINATING
127.0.0.1:$SMTPS_PORT inet n   -       n       -       -       smtpd
  -o syslog_name=postfix/smtps
  -o smtpd_tls_wrappermode=yes
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_delay_reject=no
  -o smtpd_client_restrictions=
  -o smtpd_helo_restrictions=
  -o smtpd_sender_restrictions=permit_sasl_authenticated,reject
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
  -o milter_macro_daemon_name=ORIGINATING
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
  # Every local part but `unknown` (refused: 550 5.1.1, for tests that want it) -> maildir/.
  # (virtual(8) forbids \$1 substitutions here, hence no Maildir per recipient.)
  cat >"$CONF/virtual_mailboxes" <<EOF
if !/^unknown@/
/@${DOMAIN//./\\.}\$/	maildir/
endif
EOF
  # An empty table: every recipient of a local domain (e.g. user@[127.0.0.1]) is unknown.
  : >"$CONF/no_local_recipients"
  chmod 644 "$CONF"/*.cf "$CONF"/virtual_mailboxes "$CONF"/no_local_recipients
}

prepare_dirs() {
  mkdir -p "$DIR" "$SPOOL" "$DATA" "$MAILDIR"/{new,cur,tmp}
  # Postfix processes (as postfix) and virtual(8) (as nobody) must traverse DIR.
  chmod 755 "$DIR"
  chown root:root "$SPOOL"
  chmod 755 "$SPOOL"
  chown postfix:postfix "$DATA"
  chmod 700 "$DATA"
  chown -R "$DELIVERY_USER:$(id -gn "$DELIVERY_USER")" "$MAILDIR"
  chmod 755 "$MAILDIR" "$MAILDIR"/{new,cur,tmp}
  as_user() { setpriv --reuid="$1" --regid="$(id -g "$1")" --clear-groups "${@:2}"; }
  if ! as_user postfix test -x "$DIR/." || ! as_user "$DELIVERY_USER" test -w "$MAILDIR/new/."; then
    die "the users postfix and $DELIVERY_USER cannot reach $DIR (a parent directory is not searchable by others); use a DIR under /tmp, for example"
  fi
}

# ---------------------------------------------------------------- readiness

# What went wrong, from the log since this start: its distinct problem lines (the first ones
# are the causes), or else its end.
MAILLOG_OFFSET=0
show_log_problems() {
  local problems
  problems=$(tail -n "+$((MAILLOG_OFFSET + 1))" "$MAILLOG" 2>/dev/null | grep -E '(warning|error|fatal|panic): ' |
    awk '{line = $0; sub(/^[^]]*\]: /, "", line); if (!seen[line]++) print}' | head -n 10)
  if [[ -n $problems ]]; then
    printf '%s\n' "$problems" >&2
  else
    tail -n 20 "$MAILLOG" >&2 2>/dev/null || true
  fi
}

# Connect to each port, (for 2465: TLS verified with DIR/ca.pem) read the 220 greeting, QUIT.
wait_ready() {
  python3 - "$DIR/ca.pem" "$START_TIMEOUT" "$SMTP_PORT" "$SUBMISSION_PORT" "$SMTPS_PORT" <<'EOF'
import socket, ssl, sys, time
ca, timeout = sys.argv[1], float(sys.argv[2])
ports = [(int(sys.argv[3]), False), (int(sys.argv[4]), False), (int(sys.argv[5]), True)]
ctx = ssl.create_default_context(cafile=ca)
deadline = time.monotonic() + timeout
for port, tls in ports:
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                s = ctx.wrap_socket(raw, server_hostname="localhost") if tls else raw
                f = s.makefile("rb")
                line = f.readline()
                if line.startswith(b"220 "):
                    s.sendall(b"QUIT\r\n")
                    f.readline()
                    break
                err = "greeting %r" % line
        except (OSError, ssl.SSLError) as e:
            err = str(e)
        if time.monotonic() > deadline:
            sys.exit("127.0.0.1:%d not ready after %gs: %s" % (port, timeout, err))
        time.sleep(0.1)
EOF
}

# ---------------------------------------------------------------- commands

write_ports() {
  printf 'smtp=127.0.0.1:%s\nsubmission=127.0.0.1:%s\nsmtps=127.0.0.1:%s\n' \
    "$SMTP_PORT" "$SUBMISSION_PORT" "$SMTPS_PORT" >"$DIR/ports"
}

print_summary() {
  echo "mta: running (master pid $1) in $DIR"
  sed 's/^/mta:   /' "$DIR/ports"
  echo "mta:   user=$SASL_USER@$DOMAIN password=$SASL_PASSWORD (DIR/credentials), CA: $DIR/ca.pem"
  echo "mta:   mail: $MAILDIR/new/, log: $MAILLOG"
}

cmd_start() {
  local pid port
  ensure_packages
  mkdir -p "$DIR"
  exec 9>"$DIR/.lock"
  flock -w 60 9 || die "another ci/mta.sh holds $DIR/.lock"
  if pid=$(instance_master_pid); then
    if listening "$SMTP_PORT" "$pid" && listening "$SUBMISSION_PORT" "$pid" && listening "$SMTPS_PORT" "$pid"; then
      log "already running"
      [[ -s $DIR/ports ]] || write_ports
      print_summary "$pid"
      return 0
    fi
    die "an instance runs in $DIR (master pid $pid) but not on ports $SMTP_PORT/$SUBMISSION_PORT/$SMTPS_PORT; run ci/mta.sh stop $DIR first"
  fi
  [[ -z $(instance_pids) ]] || die "processes of a previous instance are left in $DIR: $(instance_pids | tr '\n' ' '); run ci/mta.sh stop $DIR"
  # In a fresh network namespace the loopback device is down: binding 127.0.0.1 would fail.
  ip -o link show lo 2>/dev/null | grep -q 'state UNKNOWN\|state UP\|LOWER_UP' ||
    die "the loopback device is down in this network namespace (run: ip link set lo up)"
  for port in "$SMTP_PORT" "$SUBMISSION_PORT" "$SMTPS_PORT"; do
    if listening "$port"; then die "127.0.0.1:$port is already in use: $(ss -Hltnp "sport = :$port" 2>/dev/null | head -n1)"; fi
  done
  prepare_dirs
  write_tls
  write_sasl
  write_postfix_config
  rm -f "$DIR/ports"
  MAILLOG_OFFSET=$( (wc -l <"$MAILLOG") 2>/dev/null || echo 0)
  # `postfix start` runs its integrity check first, which creates the queue directories.
  postfix -c "$CONF" start >>"$MAILLOG" 2>&1 || { show_log_problems; die "postfix start failed; see $MAILLOG"; }
  pid=$(instance_master_pid) || { show_log_problems; die "no master process after postfix start; see $MAILLOG"; }
  if ! wait_ready; then
    show_log_problems
    log "stopping the instance that did not become ready"
    cmd_stop >&2 || true
    die "Postfix did not answer on all of 127.0.0.1:$SMTP_PORT, :$SUBMISSION_PORT, :$SMTPS_PORT within ${START_TIMEOUT}s; see $MAILLOG"
  fi
  write_ports
  print_summary "$pid"
}

cmd_stop() {
  local pid pids=() i
  if [[ -d $DIR ]]; then
    exec 9>"$DIR/.lock"
    flock -w 60 9 || die "another ci/mta.sh holds $DIR/.lock"
  elif [[ -z $(instance_pids) ]]; then
    log "no instance in $DIR"
    return 0
  else
    log "$DIR was deleted under a running instance; killing its processes"
  fi
  if pid=$(instance_master_pid); then
    # Waits up to 5 s for master to exit, then kills its process group.
    postfix -c "$CONF" stop >>"$MAILLOG" 2>&1 || log "postfix stop failed (see $MAILLOG); killing the processes"
  else
    log "not running in $DIR"
  fi
  # Children that master left (e.g. a smtpd finishing a session) go too.
  for ((i = 0; i < 50; i++)); do
    mapfile -t pids < <(instance_pids)
    ((${#pids[@]} == 0)) && break
    ((i == 20)) && { kill -TERM "${pids[@]}" 2>/dev/null || true; }
    ((i == 40)) && { kill -KILL "${pids[@]}" 2>/dev/null || true; }
    sleep 0.1
  done
  mapfile -t pids < <(instance_pids)
  ((${#pids[@]} == 0)) || die "processes of $DIR are still running: $(ps -o pid=,args= -p "$(IFS=,; echo "${pids[*]}")")"
  rm -f "$DIR/ports"
  [[ -n ${pid:-} ]] && log "stopped (master pid was $pid)"
  return 0
}

cmd_status() {
  local pid port ok=1 ports
  if [[ -d $DIR ]] && pid=$(instance_master_pid); then
    # The ports it was started with (MTA_*_PORT may differ now).
    ports=$(sed -n 's/^127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$CONF/master.cf")
    for port in $ports; do
      listening "$port" "$pid" || { echo "mta: master pid $pid runs, but 127.0.0.1:$port is not listening"; ok=0; }
    done
    if ((ok)); then
      echo "mta: running in $DIR: master pid $pid, processes $(instance_pids | tr '\n' ' ')"
      if [[ $(readlink "/proc/$pid/ns/net") != "$(readlink /proc/self/ns/net)" ]]; then
        echo "mta:   in another network namespace ($(readlink "/proc/$pid/ns/net")): not reachable from here"
      fi
      [[ -s $DIR/ports ]] && sed 's/^/mta:   /' "$DIR/ports"
      return 0
    fi
    return 1
  fi
  if [[ -d $DIR ]] && [[ -n $(instance_pids) ]]; then
    echo "mta: not running in $DIR, but processes are left: $(instance_pids | tr '\n' ' ') (ci/mta.sh stop $DIR)"
    return 1
  fi
  echo "mta: not running in $DIR"
  return 3
}

main() {
  local cmd=${1:-}
  case $cmd in
    -h | --help | help) usage; return 0 ;;
    start | stop | status | install) ;;
    "") usage >&2; exit 2 ;;
    *) die "unknown command: $cmd (try --help)" ;;
  esac
  [[ $EUID == 0 ]] || die "run as root (it installs packages and starts Postfix)"
  case $cmd in
    install) ensure_packages; log "packages present: ${PACKAGES[*]}" ;;
    start) set_paths "${2:-}"; cmd_start ;;
    stop) set_paths "${2:-}"; cmd_stop ;;
    status) set_paths "${2:-}"; cmd_status ;;
  esac
}

main "$@"
