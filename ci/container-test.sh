#!/usr/bin/env bash
# Builds the container image (ci/container/Containerfile) from the static binary and tests it
# with a real client: a message sent through the published port, the image's health check,
# and a start on a read-only file system. Prints the image size. Run on demand:
#
#   sudo ci/container-test.sh      # builds dist/ with ci/release.sh first if needed
#
# Uses podman (installed from Debian if missing), storage in a folder of its own.
set -euo pipefail
cd "$(dirname "$0")/.."

[[ -x dist/fake-smtp ]] || ci/release.sh
if ! command -v podman >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends podman >/dev/null
fi
root=$(mktemp -d /tmp/fake-smtp-podman.XXXXXX)
podman=(podman --root "$root/storage" --runroot "$root/run" --storage-driver vfs
  --cgroup-manager cgroupfs --events-backend file)
cleanup() {
  "${podman[@]}" rm -f -a >/dev/null 2>&1 || true
  rm -rf "$root"
}
trap cleanup EXIT

# docker format: the OCI image format has no HEALTHCHECK.
"${podman[@]}" build --quiet --format docker -f ci/container/Containerfile -t fake-smtp:test dist/ >/dev/null
size=$("${podman[@]}" image inspect fake-smtp:test --format '{{.Size}}')
echo "container: image fake-smtp:test, $(awk -v s="$size" 'BEGIN {printf "%.1f MB", s / 1e6}')"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
listen=(-e FAKE_SMTP_SMTP="127.0.0.1:$port" -e FAKE_SMTP_SUBMISSION=off -e FAKE_SMTP_SMTPS=off)

wait_healthy() { # sets STARTUP_MS: from the call (just after the start) to a healthy answer
  local start=$EPOCHREALTIME
  for _ in $(seq 1 2000); do
    if dist/fake-smtp health "127.0.0.1:$port" --timeout 1s 2>/dev/null; then
      STARTUP_MS=$(awk -v s="$start" -v e="$EPOCHREALTIME" 'BEGIN {printf "%.0f", (e - s) * 1000}')
      return 0
    fi
    sleep 0.005
  done
  return 1
}

# The image's file system, configuration and user, run without an engine: for machines where
# podman builds but cannot run containers (this project's CI sandbox: crun may not set
# rlimits there). Same binary, environment, user and command as the image.
chroot_image() { # read-only(0|1) -> runs in the background, sets CHROOT_PID
  local rootfs=$root/rootfs cid user
  if [[ ! -d $rootfs ]]; then
    mkdir -p "$rootfs"
    cid=$("${podman[@]}" create fake-smtp:test)
    "${podman[@]}" export "$cid" | tar -x -C "$rootfs"
    "${podman[@]}" rm -f "$cid" >/dev/null
  fi
  mapfile -t image_env < <("${podman[@]}" image inspect fake-smtp:test --format '{{range .Config.Env}}{{println .}}{{end}}' | grep .)
  user=$("${podman[@]}" image inspect fake-smtp:test --format '{{.Config.User}}')
  local ro=""
  [[ $1 == 1 ]] && ro="mount --bind $rootfs $rootfs && mount -o remount,ro,bind $rootfs &&"
  env -i "${image_env[@]}" FAKE_SMTP_SMTP="127.0.0.1:$port" FAKE_SMTP_SUBMISSION=off FAKE_SMTP_SMTPS=off \
    unshare -m bash -c "$ro exec chroot --userspec=$user $rootfs /fake-smtp serve" \
    >"$root/chroot.log" 2>&1 &
  CHROOT_PID=$!
}

if "${podman[@]}" run -d --name fake-smtp-test --network host --ulimit host --no-healthcheck \
  "${listen[@]}" fake-smtp:test >/dev/null 2>"$root/run.err"; then
  wait_healthy || { echo "container: no greeting" >&2; exit 1; }
  SMTP_HOST=127.0.0.1 SMTP_PORT=$port python3 ci/examples/send_test_mail.py
  "${podman[@]}" exec fake-smtp-test /fake-smtp health "127.0.0.1:$port"
  "${podman[@]}" logs fake-smtp-test 2>&1 | grep -q "message accepted"
  "${podman[@]}" rm -f fake-smtp-test >/dev/null
  echo "container: healthy ${STARTUP_MS} ms after podman run returned; a message went through, the health check passed"
  # Read-only root file system: it must still serve (CA and mail in memory).
  "${podman[@]}" run -d --name fake-smtp-ro --network host --ulimit host --no-healthcheck \
    --read-only "${listen[@]}" fake-smtp:test >/dev/null
  ok=0; wait_healthy && ok=1
  "${podman[@]}" rm -f fake-smtp-ro >/dev/null
else
  echo "container: podman cannot run containers here ($(tail -n 1 "$root/run.err")); running the image's file system with chroot, as its user, with its environment"
  "${podman[@]}" rm -f fake-smtp-test >/dev/null 2>&1 || true
  chroot_image 0
  wait_healthy || { echo "container: no greeting" >&2; cat "$root/chroot.log" >&2; exit 1; }
  SMTP_HOST=127.0.0.1 SMTP_PORT=$port python3 ci/examples/send_test_mail.py
  # The image's health command, from the image's own file system.
  health=$("${podman[@]}" image inspect fake-smtp:test --format '{{join .Config.Healthcheck.Test " "}}')
  [[ $health == *"/fake-smtp health 127.0.0.1:1025"* ]] || { echo "container: health check is '$health'" >&2; exit 1; }
  "$root/rootfs/fake-smtp" health "127.0.0.1:$port"
  kill -TERM "$CHROOT_PID"; wait "$CHROOT_PID" || true
  grep -q "message accepted" "$root/chroot.log"
  echo "container: healthy ${STARTUP_MS} ms after the start; a message went through, the health check passed"
  chroot_image 1
  ok=0; wait_healthy && ok=1
  kill -TERM "$CHROOT_PID" 2>/dev/null; wait "$CHROOT_PID" || true
fi
[[ $ok == 1 ]] || { echo "container: no service on a read-only file system" >&2; exit 1; }
echo "container: serves on a read-only file system"
