// The web sink's UI: the message list (paged, live through /api/events), search, a message
// view (HTML in a sandboxed frame, text, headers, raw, MIME tree, attachments, the SMTP
// session as a sequence diagram with its check results) and the listeners' scenarios.
//
// Mail is hostile: everything that comes from a message is inserted as text (textContent,
// text nodes), never as markup; its HTML is only ever shown by /view/{ID}.html inside an
// <iframe sandbox> (no script, opaque origin) under its own Content-Security-Policy.
"use strict";

const PAGE_SIZE = 50;

const state = {
  query: "", // the search in force ("" lists everything)
  start: 0,
  messages: [], // the page shown
  matched: 0, // messages matching (all of them without a search)
  total: 0,
  unread: 0,
  selected: null, // ID of the message shown
  message: null, // its JSON
  tab: "html",
  loadSeq: 0,
};

// ---------------------------------------------------------------------------------------
// Small helpers

const $ = (id) => document.getElementById(id);

// Builds an element. Attributes are set with setAttribute (or as event handlers when they
// start with "on"); children are nodes or strings, strings always as text nodes.
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

function enc(s) {
  return encodeURIComponent(s);
}

// A request to this origin's API. Answers other than 2xx throw an Error carrying the
// answer's text (the API's errors are plain text) and its status.
async function api(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const type = res.headers.get("Content-Type") || "";
  if (!res.ok) {
    const text = (await res.text()).trim();
    const error = new Error(text || `${res.status} ${res.statusText}`);
    error.status = res.status;
    throw error;
  }
  return type.startsWith("application/json") ? res.json() : res.text();
}

function showError(text) {
  $("error-text").textContent = text;
  $("error").hidden = false;
}

function hideError() {
  $("error").hidden = true;
  $("error-text").textContent = "";
}

function formatSize(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} kB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

function formatTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso || "";
  const now = new Date();
  if (d.toDateString() === now.toDateString()) {
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }
  return d.toLocaleDateString([], { year: "numeric", month: "short", day: "numeric" });
}

function contact(c) {
  if (!c || (!c.Name && !c.Address)) return "";
  return c.Name ? `${c.Name} <${c.Address}>` : c.Address;
}

function contacts(list) {
  return (list || []).map(contact).join(", ");
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

// The badges of a summary's client checks (this server's own field).
function checkBadges(checks) {
  if (!checks) return [];
  const out = [];
  if (checks.fail > 0) {
    out.push(h("span", { class: "badge fail", title: "Client checks failed" }, `${checks.fail} failed`));
  }
  if (checks.warn > 0) {
    out.push(h("span", { class: "badge warn", title: "Client checks warned" }, `${checks.warn} warn`));
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// The list

async function loadList() {
  const seq = ++state.loadSeq;
  const params = `start=${state.start}&limit=${PAGE_SIZE}`;
  const path = state.query
    ? `/api/v1/search?query=${enc(state.query)}&${params}`
    : `/api/v1/messages?${params}`;
  let data;
  try {
    data = await api("GET", path);
  } catch (error) {
    if (seq !== state.loadSeq) return;
    showError(state.query ? `Search: ${error.message}` : error.message);
    if (state.query) {
      state.messages = [];
      state.matched = 0;
      renderList();
    }
    return;
  }
  if (seq !== state.loadSeq) return; // a newer request is on its way
  hideError();
  // Deleted from under us: step back to the last page that has messages.
  if (data.messages.length === 0 && state.start > 0 && data.messages_count > 0) {
    state.start = Math.max(0, Math.floor((data.messages_count - 1) / PAGE_SIZE) * PAGE_SIZE);
    return loadList();
  }
  state.messages = data.messages;
  state.matched = data.messages_count;
  state.total = data.total;
  state.unread = data.unread;
  renderList();
}

// Refreshes the page soon, once for a burst of events.
let refreshTimer = null;
function scheduleRefresh() {
  if (refreshTimer) return;
  refreshTimer = setTimeout(() => {
    refreshTimer = null;
    loadList();
  }, 250);
}

function renderCounts() {
  $("counts").textContent = `${plural(state.total, "message")}, ${state.unread} unread`;
}

function renderList() {
  renderCounts();
  const list = clear($("list"));
  if (state.messages.length === 0) {
    list.appendChild(
      h("li", { class: "empty" }, state.query ? "No message matches this search." : "No messages yet."),
    );
  }
  for (const m of state.messages) list.appendChild(listRow(m));
  const first = state.matched === 0 ? 0 : state.start + 1;
  const last = state.start + state.messages.length;
  $("range").textContent = `${first}\u2013${last} of ${state.matched}`;
  $("prev").disabled = state.start === 0;
  $("next").disabled = last >= state.matched;
}

function listRow(m) {
  const classes = ["row"];
  if (!m.Read) classes.push("unread");
  if (m.ID === state.selected) classes.push("selected");
  const from = m.From && (m.From.Name || m.From.Address);
  return h(
    "li",
    {
      class: classes.join(" "),
      "data-id": m.ID,
      tabindex: 0,
      onclick: () => openMessage(m.ID),
      onkeydown: (e) => {
        if (e.key === "Enter") openMessage(m.ID);
      },
    },
    h(
      "div",
      { class: "row-top" },
      h("span", { class: "from", title: contact(m.From) }, from || "(no sender)"),
      h("time", { datetime: m.Created, title: new Date(m.Created).toLocaleString() }, formatTime(m.Created)),
    ),
    h(
      "div",
      { class: "row-subject" },
      h("span", { class: "subject" }, m.Subject || "(no subject)"),
      checkBadges(m.Checks),
      m.Attachments > 0
        ? h("span", { class: "badge att", title: plural(m.Attachments, "attachment") }, `${m.Attachments} att.`)
        : null,
    ),
    h("div", { class: "snippet" }, m.Snippet || ""),
  );
}

function markRow(id, read) {
  const m = state.messages.find((x) => x.ID === id);
  if (m) m.Read = read;
  const row = document.querySelector(`#list li[data-id="${CSS.escape(id)}"]`);
  if (row) row.classList.toggle("unread", !read);
  const button = $("toggle-read");
  if (button && id === state.selected) {
    button.textContent = read ? "Mark unread" : "Mark read";
    button.dataset.read = String(read);
  }
}

// ---------------------------------------------------------------------------------------
// Live updates: /api/events

let socket = null;
let retryDelay = 1000;

function connectEvents() {
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/events`;
  socket = new WebSocket(url);
  socket.addEventListener("open", () => {
    retryDelay = 1000;
    setLive(true);
    loadList(); // whatever came before the socket, or while it was down
  });
  socket.addEventListener("message", (e) => {
    // A frame may carry several JSON objects, one a line.
    for (const line of String(e.data).split("\n")) {
      if (!line.trim()) continue;
      try {
        onEvent(JSON.parse(line));
      } catch (error) {
        showError(`Live update: ${error.message}`);
      }
    }
  });
  socket.addEventListener("close", () => {
    setLive(false);
    socket = null;
    setTimeout(connectEvents, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 15000);
  });
}

function setLive(on) {
  const live = $("live");
  live.classList.toggle("off", !on);
  live.textContent = on ? "live" : "offline";
  live.title = on ? "Live updates: connected" : "Live updates: disconnected, reconnecting";
}

function onEvent(event) {
  const data = event.Data || {};
  switch (event.Type) {
    case "new":
      // On the first page of the full list the new message goes on top without a request;
      // anywhere else the server decides where it belongs.
      if (!state.query && state.start === 0) {
        if (!state.messages.some((m) => m.ID === data.ID)) {
          state.messages.unshift(data);
          state.messages.length = Math.min(state.messages.length, PAGE_SIZE);
          state.matched += 1;
          state.total += 1;
          if (!data.Read) state.unread += 1;
          renderList();
        }
      } else {
        scheduleRefresh();
      }
      break;
    case "update":
      markRow(data.ID, data.Read);
      break;
    case "delete":
      if (data.ID === state.selected) closeMessage();
      if (state.messages.some((m) => m.ID === data.ID)) scheduleRefresh();
      break;
    case "truncate":
      closeMessage();
      scheduleRefresh();
      break;
    case "prune":
      scheduleRefresh();
      break;
    case "stats":
      state.total = data.Total;
      state.unread = data.Unread;
      if (!state.query) state.matched = data.Total;
      renderCounts();
      break;
    default:
      break;
  }
}

// ---------------------------------------------------------------------------------------
// The message view

const TABS = [
  ["html", "HTML"],
  ["text", "Text"],
  ["headers", "Headers"],
  ["raw", "Raw"],
  ["mime", "MIME"],
  ["attachments", "Attachments"],
  ["session", "Session"],
];

function closeMessage() {
  state.selected = null;
  state.message = null;
  const view = clear($("view"));
  view.appendChild(h("p", { class: "placeholder" }, "Select a message."));
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
  for (const row of document.querySelectorAll("#list li.selected")) row.classList.remove("selected");
}

async function openMessage(id) {
  state.selected = id;
  for (const row of document.querySelectorAll("#list li.row")) {
    row.classList.toggle("selected", row.dataset.id === id);
  }
  if (location.hash !== `#${id}`) history.replaceState(null, "", `#${enc(id)}`);
  const view = clear($("view"));
  view.appendChild(h("p", { class: "placeholder" }, "Loading\u2026"));
  let message;
  try {
    message = await api("GET", `/api/v1/message/${enc(id)}`);
  } catch (error) {
    if (state.selected !== id) return;
    clear(view).appendChild(h("p", { class: "placeholder" }, `This message cannot be shown: ${error.message}`));
    return;
  }
  if (state.selected !== id) return;
  state.message = message;
  markRow(id, true);
  if (state.tab === "html" && !message.HTML) state.tab = "text";
  renderMessage();
}

function renderMessage() {
  const m = state.message;
  const summary = state.messages.find((x) => x.ID === m.ID);
  const view = clear($("view"));
  const field = (name, value) =>
    value ? h("div", { class: "field" }, h("span", { class: "name" }, name), h("span", { class: "value" }, value)) : null;
  view.appendChild(
    h(
      "header",
      { class: "msg-head" },
      h("h2", { class: "msg-subject" }, m.Subject || "(no subject)", summary ? checkBadges(summary.Checks) : null),
      field("From", contact(m.From)),
      field("To", contacts(m.To)),
      field("Cc", contacts(m.Cc)),
      field("Bcc", contacts(m.Bcc)),
      field("Date", m.Date ? new Date(m.Date).toLocaleString() : ""),
      field("Size", formatSize(m.Size)),
    ),
  );
  view.appendChild(
    h(
      "div",
      { class: "toolbar" },
      h(
        "button",
        { type: "button", id: "toggle-read", "data-read": "true", onclick: (e) => setRead(m.ID, e.target.dataset.read !== "true") },
        "Mark unread",
      ),
      h("a", { class: "button", href: `/api/v1/message/${enc(m.ID)}/raw?dl=1`, download: `${m.ID}.eml` }, "Download .eml"),
      h("button", { type: "button", class: "danger", id: "delete-message", onclick: () => deleteMessage(m.ID) }, "Delete"),
    ),
  );
  const tabs = h("nav", { class: "tabs", role: "tablist" });
  for (const [key, label] of TABS) {
    let text = label;
    if (key === "attachments") text = `${label} (${m.Attachments.length + m.Inline.length})`;
    tabs.appendChild(
      h(
        "button",
        {
          type: "button",
          role: "tab",
          "data-tab": key,
          "aria-selected": String(state.tab === key),
          class: state.tab === key ? "active" : null,
          onclick: () => {
            state.tab = key;
            renderMessage();
          },
        },
        text,
      ),
    );
  }
  view.appendChild(tabs);
  const body = h("div", { class: "tab-body", id: "tab-body", "data-tab": state.tab });
  view.appendChild(body);
  renderTab(m, state.tab, body);
}

function renderTab(m, tab, body) {
  const url = (suffix) => `/api/v1/message/${enc(m.ID)}${suffix}`;
  switch (tab) {
    case "html":
      return renderHtml(m, body);
    case "text":
      return body.appendChild(h("pre", { class: "text" }, m.Text || "(this message has no text part)"));
    case "headers":
      return loadInto(body, url("/headers"), renderHeaders);
    case "raw":
      return loadInto(body, url("/raw"), (raw) => h("pre", { class: "text raw" }, raw));
    case "mime":
      return loadInto(body, url("/parts"), (parts) => renderParts(m, parts));
    case "attachments":
      return body.appendChild(renderAttachments(m));
    case "session":
      return renderSession(m, body);
    default:
      return null;
  }
}

// Fetches `path` and puts what `render` makes of it in `body`, unless the user moved on.
async function loadInto(body, path, render) {
  body.appendChild(h("p", { class: "placeholder" }, "Loading\u2026"));
  try {
    const data = await api("GET", path);
    if (body.isConnected) clear(body).appendChild(render(data));
  } catch (error) {
    if (body.isConnected) clear(body).appendChild(h("p", { class: "placeholder" }, error.message));
  }
}

function renderHtml(m, body) {
  if (!m.HTML) {
    body.appendChild(h("p", { class: "placeholder" }, "This message has no HTML part."));
    return;
  }
  // No allow-scripts, no allow-same-origin: the message runs nothing and reaches nothing.
  const frame = h("iframe", {
    class: "html-frame",
    sandbox: "",
    title: "The message's HTML",
    referrerpolicy: "no-referrer",
    src: `/view/${enc(m.ID)}.html`,
  });
  const remote = h(
    "button",
    {
      type: "button",
      id: "remote-images",
      title: "Remote images are blocked: loading them tells the sender the message was opened",
      onclick: () => {
        frame.src = `/view/${enc(m.ID)}.html?remote=1`;
        remote.disabled = true;
        remote.textContent = "Remote images loaded";
      },
    },
    "Load remote images",
  );
  body.appendChild(h("div", { class: "html-bar" }, remote));
  body.appendChild(frame);
}

function renderHeaders(headers) {
  const table = h("table", { class: "headers" });
  for (const name of Object.keys(headers).sort()) {
    for (const value of headers[name]) {
      table.appendChild(h("tr", {}, h("th", {}, name), h("td", {}, value)));
    }
  }
  return table;
}

function partLink(m, partId, label) {
  return h("a", { href: `/api/v1/message/${enc(m.ID)}/part/${enc(partId)}?dl=1`, download: "" }, label);
}

function renderParts(m, parts) {
  const table = h(
    "table",
    { class: "parts" },
    h(
      "tr",
      {},
      ["Part", "Type", "Charset", "Encoding", "Disposition", "File / Content-ID", "Size"].map((t) => h("th", {}, t)),
    ),
  );
  for (const p of parts) {
    const type = h("td", { class: "indent" }, p.ContentType);
    type.style.paddingLeft = `${0.4 + p.Depth * 1.2}em`;
    const name = [p.FileName, p.ContentID ? `<${p.ContentID}>` : ""].filter(Boolean).join(" ");
    table.appendChild(
      h(
        "tr",
        { class: `kind-${p.Kind}` },
        h("td", {}, p.Kind === "container" ? p.PartID : partLink(m, p.PartID, p.PartID)),
        type,
        h("td", {}, p.Charset),
        h("td", {}, p.Encoding),
        h("td", {}, p.Disposition),
        h("td", {}, name),
        h("td", { class: "num" }, p.Kind === "container" ? "" : formatSize(p.Size)),
      ),
    );
  }
  return table;
}

function renderAttachments(m) {
  const files = [
    ...m.Attachments.map((a) => ({ ...a, inline: false })),
    ...m.Inline.map((a) => ({ ...a, inline: true })),
  ];
  if (files.length === 0) return h("p", { class: "placeholder" }, "No attachments.");
  return h(
    "ul",
    { class: "attachments" },
    files.map((a) =>
      h(
        "li",
        {},
        partLink(m, a.PartID, a.FileName || a.ContentID || `part ${a.PartID}`),
        h("span", { class: "meta" }, ` ${a.ContentType}, ${formatSize(a.Size)}`),
        a.inline ? h("span", { class: "badge" }, "inline") : null,
      ),
    ),
  );
}

// ---------------------------------------------------------------------------------------
// The session: a sequence diagram of the transcript, failed checks marked on their lines

async function renderSession(m, body) {
  body.appendChild(h("p", { class: "placeholder" }, "Loading\u2026"));
  let session;
  try {
    session = await api("GET", `/api/v1/message/${enc(m.ID)}/transcript`);
  } catch (error) {
    if (!body.isConnected) return;
    clear(body).appendChild(
      h(
        "p",
        { class: "placeholder" },
        error.status === 404
          ? "The SMTP session that delivered this message is still open (or was not kept): its transcript comes when it ends."
          : error.message,
      ),
    );
    return;
  }
  if (!body.isConnected) return;
  clear(body);
  const results = (session.checks && session.checks.results) || [];
  const entries = (session.transcript && session.transcript.entries) || [];
  const { marks, general } = evidenceByEntry(results, entries);
  body.appendChild(sessionSummary(session, results));
  body.appendChild(checkList(results, general));
  body.appendChild(sequence(session, entries, marks, m.ID));
}

function sessionSummary(s, results) {
  const count = (status) => results.filter((r) => r.status === status).length;
  const started = s.started_at ? new Date(s.started_at).toLocaleString() : "";
  return h(
    "p",
    { class: "session-summary" },
    `Session ${s.id} on ${s.listener}: ${s.peer} \u2192 ${s.local}, ${started}, ${s.duration_ms} ms, `,
    `${plural(s.message_count, "message")}, closed: ${s.close_reason || "?"}. Checks: `,
    h("span", { class: count("fail") ? "badge fail" : "badge" }, `${count("fail")} failed`),
    " ",
    h("span", { class: count("warn") ? "badge warn" : "badge" }, `${count("warn")} warned`),
    ` ${count("pass")} passed, ${count("not-applicable")} not applicable.`,
  );
}

// Where each finding of a failed or warned check goes: on its transcript entry, on the
// content entry of the message it was found in, or for the session as a whole.
function evidenceByEntry(results, entries) {
  const marks = new Map();
  const general = [];
  const contentOf = (id) => {
    const stored = entries.findIndex((e) => e.kind === "stored" && e.id === id);
    for (let i = stored; i >= 0; i--) if (entries[i].kind === "content") return i;
    return stored;
  };
  for (const r of results) {
    if (r.status !== "fail" && r.status !== "warn") continue;
    for (const ev of r.evidence || []) {
      const mark = { id: r.id, status: ev.status || r.status, detail: ev.detail, octets: ev.octets };
      let at = -1;
      if (ev.where === "entry") at = ev.entry;
      else if (ev.where === "message") at = contentOf(ev.message);
      if (at >= 0 && at < entries.length) {
        if (!marks.has(at)) marks.set(at, []);
        marks.get(at).push(mark);
      } else {
        general.push(mark);
      }
    }
  }
  return { marks, general };
}

function checkList(results, general) {
  const problems = results.filter((r) => r.status === "fail" || r.status === "warn");
  problems.sort((a, b) => (a.status === b.status ? 0 : a.status === "fail" ? -1 : 1));
  if (problems.length === 0) return h("p", { class: "checks-ok" }, "Every applicable client check passed.");
  return h(
    "ul",
    { class: "checks" },
    problems.map((r) =>
      h(
        "li",
        { class: `check ${r.status}`, "data-check": r.id },
        h("span", { class: `badge ${r.status}` }, r.status.toUpperCase()),
        " ",
        h("code", { class: "check-id" }, r.id),
        h("span", { class: "level" }, ` (${r.level})`),
        (r.evidence || []).map((ev) =>
          h(
            "div",
            { class: "detail" },
            ev.detail,
            ev.octets ? h("code", { class: "octets" }, ev.octets) : null,
          ),
        ),
        r.more ? h("div", { class: "detail" }, `and ${r.more} more`) : null,
        general.some((g) => g.id === r.id) ? h("div", { class: "detail" }, "(the session as a whole)") : null,
      ),
    ),
  );
}

function sequence(session, entries, marks, messageId) {
  const lanes = h("div", { class: "lanes" });
  const transcript = session.transcript || {};
  entries.forEach((entry, i) => {
    if (transcript.omitted && transcript.omitted_at === i) {
      lanes.appendChild(seqRow("ev gap", `\u2026 ${transcript.omitted} entries omitted \u2026`));
    }
    const row = entryRow(entry, messageId);
    const found = marks.get(i);
    if (found) {
      row.classList.add(found.some((f) => f.status === "fail") ? "fail" : "warn");
      row.appendChild(
        h(
          "ul",
          { class: "marks" },
          found.map((f) =>
            h(
              "li",
              { class: f.status },
              h("code", {}, f.id),
              `: ${f.detail}`,
              f.octets ? h("code", { class: "octets" }, f.octets) : null,
            ),
          ),
        ),
      );
    }
    lanes.appendChild(row);
  });
  return h(
    "div",
    { class: "seq", id: "sequence" },
    h(
      "div",
      { class: "seq-head" },
      h("span", {}, "Client", h("small", {}, session.peer || "")),
      h("span", {}, "Server", h("small", {}, session.local || "")),
    ),
    lanes,
  );
}

function seqRow(kind, ...text) {
  return h("div", { class: `seq-row ${kind}` }, h("div", { class: "msg" }, ...text), h("div", { class: "arrow" }));
}

function entryRow(e, messageId) {
  const ms = `+${(e.at_us / 1000).toFixed(1)} ms`;
  let row;
  switch (e.kind) {
    case "client": {
      const flags = [e.pipelined && "pipelined", e.bare_lf && "bare LF", e.octets && `${e.octets} octets`];
      row = seqRow("c2s", `C: ${e.line}`, flags.filter(Boolean).map((f) => h("span", { class: "flag" }, f)));
      break;
    }
    case "server": {
      const code = /^\d/.test(e.text) ? e.text[0] : "";
      row = seqRow(`s2c code${code}`, e.text.split("\r\n").map((l) => h("div", {}, `S: ${l}`)));
      break;
    }
    case "server-raw":
      row = seqRow("s2c raw", `S (raw): ${e.bytes}`);
      break;
    case "content":
      row = seqRow("c2s content", `C: <${e.summary}>`, e.pipelined ? h("span", { class: "flag" }, "pipelined") : null);
      break;
    case "connected":
      row = seqRow("ev", `connected ${e.peer} \u2192 ${e.local}${e.listener ? ` (${e.listener})` : ""}`);
      break;
    case "tls-established":
      row = seqRow("ev tls", `TLS ${e.version} ${e.cipher}${e.sni ? `, SNI ${e.sni}` : ""}`);
      break;
    case "note":
      row = seqRow("ev note", e.check ? `${e.check}: ${e.text}` : e.text);
      break;
    case "stored":
      row = seqRow(e.id === messageId ? "ev stored this" : "ev stored", `stored as ${e.id}`);
      break;
    case "closed":
      row = seqRow("ev", `closed (${e.reason})`);
      break;
    default:
      row = seqRow("ev", JSON.stringify(e));
  }
  row.title = ms;
  return row;
}

// ---------------------------------------------------------------------------------------
// Actions

async function setRead(id, read) {
  try {
    await api("PUT", "/api/v1/messages", { IDs: [id], Read: read });
    markRow(id, read);
  } catch (error) {
    showError(`Mark ${read ? "read" : "unread"}: ${error.message}`);
  }
}

async function deleteMessage(id) {
  try {
    await api("DELETE", "/api/v1/messages", { IDs: [id] });
    if (state.selected === id) closeMessage();
    state.messages = state.messages.filter((m) => m.ID !== id);
    renderList();
    scheduleRefresh();
  } catch (error) {
    showError(`Delete: ${error.message}`);
  }
}

async function deleteAll() {
  if (!window.confirm(`Delete all ${plural(state.total, "message")}? This cannot be undone.`)) return;
  try {
    await api("DELETE", "/api/v1/messages");
    closeMessage();
    state.start = 0;
    await loadList();
  } catch (error) {
    showError(`Delete all: ${error.message}`);
  }
}

function search(text) {
  state.query = text.trim();
  state.start = 0;
  loadList();
}

function page(delta) {
  state.start = Math.max(0, state.start + delta * PAGE_SIZE);
  loadList();
  $("list").scrollTop = 0;
}

// ---------------------------------------------------------------------------------------
// Scenarios: what each listener plays, switchable at run time

async function loadScenarios() {
  const panel = clear($("scenarios"));
  let data;
  try {
    data = await api("GET", "/api/v1/scenarios");
  } catch (error) {
    panel.appendChild(h("p", {}, `Scenarios: ${error.message}`));
    return;
  }
  panel.appendChild(h("h2", {}, "Scenarios"));
  if (!data.Listeners || data.Listeners.length === 0) {
    panel.appendChild(h("p", {}, "No listener plays a switchable scenario."));
    return;
  }
  const table = h("table", {}, h("tr", {}, h("th", {}, "Listener"), h("th", {}, "Address"), h("th", {}, "Scenario")));
  for (const l of data.Listeners) {
    const names = new Set(data.BuiltIn || []);
    if (l.Scenario) names.add(l.Scenario);
    const select = h(
      "select",
      {
        "aria-label": `Scenario of ${l.Listener}`,
        "data-listener": l.Listener,
        onchange: () => switchScenario(l.Listener, select.value || null),
      },
      h("option", { value: "" }, "(default: the RFC behaviour)"),
      [...names].sort().map((n) => h("option", { value: n }, n)),
    );
    select.value = l.Scenario || "";
    table.appendChild(h("tr", {}, h("td", {}, l.Listener), h("td", {}, l.Address), h("td", {}, select)));
  }
  panel.appendChild(table);
  panel.appendChild(h("p", { class: "hint" }, "A switch applies to the sessions that start after it."));
}

async function switchScenario(listener, name) {
  try {
    await api("PUT", `/api/v1/scenarios/${enc(listener)}`, { Scenario: name });
    hideError();
  } catch (error) {
    showError(`Scenario for ${listener}: ${error.message}`);
  }
  loadScenarios();
}

function toggleScenarios() {
  const panel = $("scenarios");
  panel.hidden = !panel.hidden;
  $("toggle-scenarios").setAttribute("aria-expanded", String(!panel.hidden));
  if (!panel.hidden) loadScenarios();
}

// ---------------------------------------------------------------------------------------
// Start

function init() {
  $("search").addEventListener("submit", (e) => {
    e.preventDefault();
    search($("query").value);
  });
  $("clear-search").addEventListener("click", () => {
    $("query").value = "";
    hideError();
    search("");
  });
  $("prev").addEventListener("click", () => page(-1));
  $("next").addEventListener("click", () => page(1));
  $("delete-all").addEventListener("click", deleteAll);
  $("toggle-scenarios").addEventListener("click", toggleScenarios);
  $("error-close").addEventListener("click", hideError);
  loadList();
  connectEvents();
  const id = decodeURIComponent(location.hash.slice(1));
  if (id) openMessage(id);
}

init();
