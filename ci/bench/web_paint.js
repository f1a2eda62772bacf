// The web UI's first paint and first rows with the sink as bench-web.sh filled it, in
// headless Chromium (Debian's, driven by playwright-core from ci/node). Prints milliseconds.
const os = require("os");
const path = require("path");
const { launch } = require(path.join(__dirname, "..", "..", "fake-server", "tests", "clients", "chromium"));

(async () => {
  const url = process.argv[2];
  const browser = await launch(path.join(os.tmpdir(), `fake-smtp-bench-web-profile-${process.pid}`), {});
  for (let run = 1; run <= 3; run++) {
    const page = await browser.newPage();
    const started = Date.now();
    await page.goto(url);
    // The list's first row: any element that shows a message's subject.
    await page.waitForFunction(() => document.body.innerText.includes("Message "), null, { timeout: 30000 });
    const rows = Date.now() - started;
    const paint = await page.evaluate(() => {
      const entry = performance.getEntriesByName("first-contentful-paint")[0];
      return entry ? entry.startTime : -1;
    });
    console.log(`UI run ${run}: first contentful paint ${paint.toFixed(0)} ms, first rows ${rows} ms`);
    await page.close();
  }
  await browser.close();
})().catch((error) => { console.error(error); process.exit(1); });
