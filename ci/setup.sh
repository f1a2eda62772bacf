#!/usr/bin/env bash
# Installs the third-party clients the tests drive, when they are missing (Debian).
# The tests fail, not skip, without them, so CI runs this first.
set -euo pipefail

need=()
command -v python3 >/dev/null || need+=(python3)
command -v curl >/dev/null || need+=(curl)
command -v openssl >/dev/null || need+=(openssl)
# More real clients, judged by the conformance checks at their default settings.
command -v swaks >/dev/null || need+=(swaks)
command -v msmtp >/dev/null || need+=(msmtp)
# A mail reader for the --store Maildir (fake-server/tests/stored_mail.rs).
command -v s-nail >/dev/null || need+=(s-nail)
# bash runs the completion script, man renders the manual pages (fake-server/tests/cli.rs).
command -v bash >/dev/null || need+=(bash)
command -v man >/dev/null || need+=(man-db)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
# Headless Chromium for the HTML report's browser test (fake-server/tests/report_html.rs),
# driven by playwright-core (ci/node); never a browser downloaded by Playwright itself.
[ -x /usr/bin/chromium ] || need+=(chromium)

if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

python3 -c 'import smtplib, email' || { echo "setup: python3 lacks smtplib" >&2; exit 1; }
# scramp: a third-party SCRAM client (RFC 5802/7677), driven through smtplib's auth().
if ! python3 -c 'import scramp' 2>/dev/null; then
  echo "setup: installing the Python package scramp"
  python3 -m pip install --quiet --disable-pip-version-check 'scramp==1.5.0'
fi
# nodemailer and playwright-core, pinned in ci/node/package.json, into ci/node/node_modules
# (not committed).
if ! node -e 'require("./ci/node/node_modules/nodemailer"); require("./ci/node/node_modules/playwright-core")' 2>/dev/null; then
  echo "setup: installing nodemailer and playwright-core (npm)"
  (cd ci/node && npm ci --no-audit --no-fund --loglevel=error)
fi
# jsonschema and junitparser: real consumers of the run reports (JSON Schema, JUnit XML).
if ! python3 -c 'import jsonschema, junitparser' 2>/dev/null; then
  echo "setup: installing the Python packages jsonschema and junitparser"
  python3 -m pip install --quiet --disable-pip-version-check 'jsonschema>=4.23,<5' 'junitparser==3.2.0'
fi
# mailpit-api-client: a real client of Mailpit's API, driven against the web sink unchanged
# (fake-server/tests/web_mailpit_client.rs).
if ! python3 -c 'import mailpit.client.api' 2>/dev/null; then
  echo "setup: installing the Python package mailpit-api-client"
  python3 -m pip install --quiet --disable-pip-version-check 'mailpit-api-client==1.0.0'
fi
curl --version | grep -qi smtp || { echo "setup: curl lacks SMTP support" >&2; exit 1; }
# A real MTA for the harness (snapshots/tests/real_mta.rs): Postfix and Cyrus SASL tools.
ci/mta.sh install

openssl version >/dev/null || { echo "setup: openssl does not run" >&2; exit 1; }
echo "setup: clients ready ($(python3 --version), $(curl --version | head -1 | cut -d' ' -f1-2), $(openssl version | cut -d' ' -f1-2))"
