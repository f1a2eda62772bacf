// Drives the web UI in headless Chromium (Debian's /usr/bin/chromium, or $CHROMIUM) through
// playwright-core, for tests/web_ui.rs. Prints "ready" once the page is open and its live
// updates connected (the test then sends a message over SMTP), "send-more" once its live
// updates have reconnected after a drop (the test sends another), then one JSON line of
// what it saw. Playwright never downloads a browser here: without Chromium this fails.
// Usage: node web_ui_browser.js BASE_URL ARTEFACT_DIR PROFILE_DIR NOTES_BASE64 SUBJECT [DOCS_PNG]
const fs = require("fs");
const path = require("path");
const { launch } = require("./chromium");

const [base, artefacts, profile, notesBase64, subject, docsPng] = process.argv.slice(2);
const TIMEOUT = 15000;

// A console error Chromium prints when the sandbox does its job: the message's script was
// not run. Counted, not an error of the UI.
const SANDBOX_BLOCKED = /^Blocked script execution in '[^']*\/view\/[^']*\.html(\?remote=1)?' because the document's frame is sandboxed/;
// The search the server must refuse (400), and Chromium's console line for that answer.
const BAD_QUERY = "is:bogus";
const BAD_QUERY_URL = `/api/v1/search?query=${encodeURIComponent(BAD_QUERY)}`;

async function main() {
  if (!base || !artefacts || !profile || !notesBase64 || !subject) {
    throw new Error("usage: web_ui_browser.js BASE_URL ARTEFACT_DIR PROFILE_DIR NOTES_BASE64 SUBJECT [DOCS_PNG]");
  }
  const context = await launch(profile, {
    viewport: { width: 1280, height: 800 },
    deviceScaleFactor: 1,
    acceptDownloads: true,
  });
  const seen = {
    console_errors: [],
    page_errors: [],
    failed_requests: [],
    http_errors: [],
    requests: [],
    sandbox_blocked: 0,
  };
  try {
    const page = context.pages()[0] || (await context.newPage());
    page.setDefaultTimeout(TIMEOUT);
    page.on("console", (m) => {
      if (m.type() !== "error") return;
      const text = m.text();
      const where = (m.location() && m.location().url) || "";
      if (SANDBOX_BLOCKED.test(text)) seen.sandbox_blocked += 1;
      else if (where.includes(`${BAD_QUERY_URL}&`) && /status of 400/.test(text)) return;
      else seen.console_errors.push(`${text} (${where})`);
    });
    page.on("pageerror", (e) => seen.page_errors.push(String(e)));
    page.on("request", (r) => seen.requests.push(r.url()));
    page.on("requestfailed", (r) => {
      // A download is handed to the download manager: Chromium aborts the request itself.
      const failure = (r.failure() && r.failure().errorText) || "";
      if (/[?&]dl=1$/.test(r.url()) && failure === "net::ERR_ABORTED") return;
      seen.failed_requests.push(`${r.url()}: ${failure}`);
    });
    page.on("response", (r) => {
      if (r.status() >= 400 && !r.url().includes(`${BAD_QUERY_URL}&`)) seen.http_errors.push(`${r.status()} ${r.url()}`);
    });
    let navigations = 0;
    page.on("framenavigated", (f) => {
      if (f === page.mainFrame()) navigations += 1;
    });

    // The page, live.
    await page.goto(`${base}/`, { waitUntil: "load" });
    await page.waitForSelector("#list li.row");
    await page.waitForSelector("#live:not(.off)");
    const before = await page.locator("#list li.row").count();
    await page.evaluate(() => {
      window.stillThisPage = true;
    });
    console.log("ready");

    // The message arrives without a reload.
    const row = page.locator("#list li.row", { hasText: subject });
    await row.waitFor();
    seen.arrived_live = (await page.locator("#list li.row").count()) === before + 1;
    seen.no_reload = navigations === 1 && (await page.evaluate(() => window.stillThisPage === true));
    const id = await row.getAttribute("data-id");
    seen.unread_bold = await row.evaluate(
      (li) => li.classList.contains("unread") && getComputedStyle(li.querySelector(".subject")).fontWeight === "700",
    );
    seen.markup_as_text = await page.evaluate(
      () =>
        document.querySelectorAll("#list img").length === 0 &&
        [...document.querySelectorAll("#list .snippet")].some((s) => s.textContent.includes("<img src=x onerror")),
    );
    await page.screenshot({ path: path.join(artefacts, "list.png") });

    // Open it: the HTML in a sandboxed frame, its inline image loaded, its script not run.
    await row.click();
    const frameElement = page.locator("iframe.html-frame");
    await frameElement.waitFor();
    seen.iframe_sandboxed = await frameElement.evaluate(
      (f) => f.hasAttribute("sandbox") && f.getAttribute("sandbox") === "" && f.getAttribute("src").endsWith(".html"),
    );
    const frame = await (await frameElement.elementHandle()).contentFrame();
    await frame.waitForLoadState("load");
    let width = 0;
    for (let i = 0; i < 50 && width === 0; i++) {
      width = await frame.evaluate(() => {
        const img = document.getElementById("logo");
        return img && img.complete ? img.naturalWidth : 0;
      });
      if (width === 0) await page.waitForTimeout(100);
    }
    seen.image_loaded = width > 0;
    seen.script_did_not_run = await page.evaluate(
      () => window.pwned === undefined && document.title === "fake-smtp" && document.querySelectorAll("#list img, #view img").length === 0,
    );
    await page.waitForSelector(`#list li.row[data-id="${id}"]:not(.unread)`);
    await page.screenshot({ path: path.join(artefacts, "message.png") });
    if (docsPng) await page.screenshot({ path: docsPng });
    await page.click("#remote-images");
    await frame.waitForURL(/\.html\?remote=1$/);
    await frame.waitForLoadState("load");
    seen.remote_images_src = (await frameElement.getAttribute("src")).endsWith(".html?remote=1");

    // The other tabs.
    const tab = async (name) => {
      await page.click(`.tabs button[data-tab="${name}"]`);
      await page.waitForSelector(`#tab-body[data-tab="${name}"]`);
      await page.waitForFunction(() => !document.querySelector("#tab-body .placeholder")?.textContent.startsWith("Loading"));
    };
    await tab("text");
    seen.text_tab = await page.$eval(
      "#tab-body pre.text",
      (pre) => pre.textContent.includes("<img src=x onerror=window.pwned=2>") && pre.children.length === 0,
    );
    await tab("headers");
    seen.headers_tab = await page.$eval("#tab-body table.headers", (t) => /Subject\s*Quarterly newsletter/.test(t.innerText));
    await tab("raw");
    seen.raw_tab = await page.$eval(
      "#tab-body pre.raw",
      (pre) => pre.textContent.includes("Content-ID: <logo@test>") && pre.textContent.includes("<script>window.parent.pwned=1"),
    );
    await tab("mime");
    seen.mime_tab = await page.$eval("#tab-body table.parts", (t) => {
      const text = t.innerText;
      return ["multipart/mixed", "multipart/related", "text/html", "image/png", "notes.txt", "<logo@test>"].every((s) => text.includes(s));
    });
    await tab("attachments");
    const link = page.locator("#tab-body .attachments a", { hasText: "notes.txt" });
    const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
    const content = fs.readFileSync(await download.path());
    seen.download_name = download.suggestedFilename();
    seen.download_matches =
      content.equals(Buffer.from(notesBase64, "base64")) &&
      seen.download_name === "notes.txt" &&
      (await page.locator("#tab-body .attachments a", { hasText: "logo@test" }).count()) === 1;

    // The session: a sequence diagram with the failed check on the message's line.
    await tab("session");
    await page.waitForSelector("#sequence");
    const session = await page.evaluate(() => ({
      c2s: document.querySelectorAll("#sequence .seq-row.c2s").length,
      s2c: document.querySelectorAll("#sequence .seq-row.s2c").length,
      failed: [...document.querySelectorAll("#sequence .seq-row.fail .marks li.fail")].map((li) => li.textContent),
      checks: [...document.querySelectorAll(".checks li.check.fail .check-id")].map((c) => c.textContent),
    }));
    seen.session = session;
    seen.session_diagram = session.c2s >= 6 && session.s2c >= 6;
    seen.session_failed_mark = session.failed.some((t) => t.startsWith("C-5322-DATE-PRESENT"));
    seen.session_checks_listed = session.checks.includes("C-5322-DATE-PRESENT");
    await page.screenshot({ path: path.join(artefacts, "session.png") });

    // Mark unread, read, unread again.
    await page.click("#toggle-read");
    await page.waitForSelector(`#list li.row.unread[data-id="${id}"]`);
    await page.click("#toggle-read");
    await page.waitForSelector(`#list li.row:not(.unread)[data-id="${id}"]`);
    await page.click("#toggle-read");
    await page.waitForSelector(`#list li.row.unread[data-id="${id}"]`);
    seen.marked_unread = (await page.textContent("#toggle-read")) === "Mark read";

    // Search: a match, no match, a query the server refuses.
    const search = async (query) => {
      await page.fill("#query", query);
      const answer = page.waitForResponse((r) => r.url().includes("/api/v1/search?"));
      await page.click("#search button[type=submit]");
      await answer;
    };
    await search("subject:newsletter has:attachment");
    await page.waitForFunction(
      (id) => {
        const rows = document.querySelectorAll("#list li.row");
        return rows.length === 1 && rows[0].dataset.id === id;
      },
      id,
    );
    seen.search_matches = true;
    await search("subject:no-such-subject-anywhere");
    await page.waitForSelector("#list li.empty");
    seen.search_no_match = (await page.locator("#list li.row").count()) === 0;
    await search(BAD_QUERY);
    await page.waitForSelector("#error:not([hidden])");
    seen.search_error_shown = /not known/.test(await page.textContent("#error-text"));
    await page.click("#clear-search");
    await page.waitForSelector("#error", { state: "hidden" });
    await page.waitForFunction((n) => document.querySelectorAll("#list li.row").length === n, before + 1);

    // Scenarios: switch the listener's, then back to the default.
    await page.click("#toggle-scenarios");
    const select = page.locator('#scenarios select[data-listener="smtp"]');
    await select.waitFor();
    await select.selectOption("behaviours/slow-greeting");
    await page.waitForFunction(() => document.querySelector('#scenarios select[data-listener="smtp"]')?.value === "behaviours/slow-greeting");
    const switched = await (await context.request.get(`${base}/api/v1/scenarios`)).json();
    await page.locator('#scenarios select[data-listener="smtp"]').selectOption("");
    await page.waitForFunction(() => document.querySelector('#scenarios select[data-listener="smtp"]')?.value === "");
    const back = await (await context.request.get(`${base}/api/v1/scenarios`)).json();
    seen.scenario_switched =
      switched.Listeners.find((l) => l.Listener === "smtp").Scenario === "behaviours/slow-greeting" &&
      back.Listeners.find((l) => l.Listener === "smtp").Scenario === null;
    await page.click("#toggle-scenarios");

    // Delete it: gone from the list and from the server.
    await page.click(`#list li.row[data-id="${id}"]`);
    await page.click("#delete-message");
    await page.waitForSelector(`#list li.row[data-id="${id}"]`, { state: "detached" });
    const gone = await context.request.get(`${base}/api/v1/message/${id}`);
    seen.deleted = gone.status() === 404 && (await page.locator("#list li.row").count()) === before;

    // Live updates survive a dropped socket: it reconnects, and the next message shows.
    await page.evaluate(() => socket.close());
    await page.waitForSelector("#live.off");
    await page.waitForSelector("#live:not(.off)");
    console.log("send-more");
    await page.locator("#list li.row", { hasText: "After the reconnect" }).waitFor();
    seen.reconnected = await page.evaluate(() => window.stillThisPage === true);

    // Delete all, after a confirmation that says how many.
    let question = "";
    page.once("dialog", (dialog) => {
      question = dialog.message();
      dialog.accept();
    });
    await page.click("#delete-all");
    await page.waitForSelector("#list li.empty");
    const info = await (await context.request.get(`${base}/api/v1/info`)).json();
    seen.deleted_all = question.includes(`Delete all ${before + 1} messages`) && info.Messages === 0;
    seen.browser = context.browser()?.version() ?? null;
    process.stdout.write(JSON.stringify(seen) + "\n");
  } finally {
    await context.close();
  }
}

main().catch((e) => {
  console.error(String(e && e.stack ? e.stack : e));
  process.exit(1);
});
