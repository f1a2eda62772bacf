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

"${podman[@]}" build --quiet -f ci/container/Containerfile -t fake-smtp:test dist/ >/dev/null
size=$("${podman[@]}" image inspect fake-smtp:test --format '{{.Size}}')
echo "container: image fake-smtp:test, $(awk -v s="$size" 'BEGIN {printf "%.1f MB", s / 1e6}')"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${podman[@]}" run -d --name fake-smtp-test --network host \
  -e FAKE_SMTP_SMTP="127.0.0.1:$port" -e FAKE_SMTP_SUBMISSION=off -e FAKE_SMTP_SMTPS=off \
  fake-smtp:test >/dev/null
for _ in $(seq 1 100); do
  dist/fake-smtp health "127.0.0.1:$port" 2>/dev/null && break
  sleep 0.1
done
SMTP_HOST=127.0.0.1 SMTP_PORT=$port python3 ci/examples/send_test_mail.py
"${podman[@]}" exec fake-smtp-test /fake-smtp health "127.0.0.1:$port"
"${podman[@]}" logs fake-smtp-test 2>&1 | grep -q "message accepted"
"${podman[@]}" rm -f fake-smtp-test >/dev/null
echo "container: a message went through, the health check passed"

# Read-only root file system, no volume: it must still serve (CA in memory, mail in memory).
"${podman[@]}" run -d --name fake-smtp-ro --network host --read-only \
  -e FAKE_SMTP_SMTP="127.0.0.1:$port" -e FAKE_SMTP_SUBMISSION=off -e FAKE_SMTP_SMTPS=off \
  fake-smtp:test >/dev/null
ok=0
for _ in $(seq 1 100); do
  if dist/fake-smtp health "127.0.0.1:$port" 2>/dev/null; then ok=1; break; fi
  sleep 0.1
done
"${podman[@]}" rm -f fake-smtp-ro >/dev/null
[[ $ok == 1 ]] || { echo "container: no service on a read-only file system" >&2; exit 1; }
echo "container: serves on a read-only file system"
