// Headless Chromium as every browser test and benchmark here starts it: Debian's chromium
// (ci/setup.sh installs it; $CHROMIUM overrides), driven by playwright-core from ci/node,
// with a fresh profile and the flags that keep it off the network (this machine's network is
// closed: without them Chromium tries Google's hosts at every start).
const fs = require("fs");
const path = require("path");
const { chromium } = require(path.join(__dirname, "../../../ci/node/node_modules/playwright-core"));

const executable = process.env.CHROMIUM || "/usr/bin/chromium";

const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

// A persistent context is how Playwright takes a --user-data-dir of our own: `profile` is
// emptied first. `options` are Playwright's context options (viewport and so on).
async function launch(profile, options) {
  if (!fs.existsSync(executable)) throw new Error(`no Chromium at ${executable} (ci/setup.sh installs it)`);
  fs.rmSync(profile, { recursive: true, force: true });
  fs.mkdirSync(profile, { recursive: true });
  return chromium.launchPersistentContext(profile, {
    executablePath: executable,
    headless: true,
    args: ARGS,
    ...options,
  });
}

module.exports = { launch };
