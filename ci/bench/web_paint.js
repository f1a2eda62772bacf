// The web UI's first paint and first rows with the sink as bench-web.sh filled it, in
// headless Chromium (Debian's, driven by playwright-core from ci/node). Prints milliseconds.
const path = require("path");
const { chromium } = require(path.join(__dirname, "..", "node", "node_modules", "playwright-core"));

(async () => {
  const url = process.argv[2];
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
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
