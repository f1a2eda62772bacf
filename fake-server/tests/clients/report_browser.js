// Opens an HTML report in headless Chromium (Debian's /usr/bin/chromium, or $CHROMIUM) through
// playwright-core, saves a screenshot of the first screen, and prints what it saw as JSON:
// console and page errors, every request the page made, the verdict, the check links, whether
// injected markup ran or shows as text, and how long the page took to load and lay out.
// Playwright never downloads a browser here: without Chromium this fails.
// Usage: node report_browser.js PAGE.html SCREENSHOT.png PROFILE_DIR
const { pathToFileURL } = require("url");
const { launch } = require("./chromium");

const [page_file, screenshot, profile] = process.argv.slice(2);

async function main() {
  if (!page_file || !screenshot || !profile) throw new Error("usage: report_browser.js PAGE SCREENSHOT PROFILE_DIR");
  const context = await launch(profile, {
    viewport: { width: 1280, height: 900 },
    deviceScaleFactor: 1,
    offline: true,
  });
  try {
    const page = context.pages()[0] || (await context.newPage());
    const console_errors = [];
    const page_errors = [];
    const requests = [];
    page.on("console", (m) => {
      if (m.type() === "error") console_errors.push(m.text());
    });
    page.on("pageerror", (e) => page_errors.push(String(e)));
    page.on("request", (r) => requests.push(r.url()));

    const started = Date.now();
    await page.goto(pathToFileURL(page_file).href, { waitUntil: "load" });
    // Force a full layout of the whole page (the long session included).
    const height = await page.evaluate(() => document.documentElement.scrollHeight);
    const load_ms = Date.now() - started;

    const seen = await page.evaluate(() => {
      const text = document.body.innerText;
      return {
        verdict: (document.querySelector("[data-verdict]") || {}).textContent || null,
        title: document.title,
        pwned: window.pwned === undefined ? null : window.pwned,
        scripts: document.querySelectorAll("script").length,
        images: document.querySelectorAll("img").length,
        injected_shown: text.includes("EHLO <script>document.title='pwned';window.pwned=1</script>"),
        subject_shown: text.includes("<img src=x onerror=window.pwned=2>"),
        check_links: [...document.querySelectorAll("a.id")]
          .filter((a, i, all) => all.findIndex((b) => b.getAttribute("href") === a.getAttribute("href")) === i)
          .map((a) => ({ href: a.getAttribute("href"), text: a.textContent })),
        rows: document.querySelectorAll(".seq .r").length,
        gap_shown: [...document.querySelectorAll(".pill.gap")].some((p) => /entries omitted/.test(p.textContent)),
      };
    });
    await page.screenshot({ path: screenshot, fullPage: false });
    process.stdout.write(
      JSON.stringify({ ...seen, console_errors, page_errors, requests, load_ms, height, browser: context.browser()?.version() ?? null }) + "\n",
    );
  } finally {
    await context.close();
  }
}

main().catch((e) => {
  console.error(String(e && e.stack ? e.stack : e));
  process.exit(1);
});
