// brine console: a page over brine-api's rest_cherrypy endpoints. Same-origin fetch and
// EventSource only; the session is the HttpOnly session_id cookie that POST /login sets, so
// this script never sees or stores a token. Everything from the server reaches the page
// through textContent, never as markup.
"use strict";

(() => {
  /** Rows kept in the events pane; older ones are dropped. */
  const MAX_EVENTS = 500;
  /** Events held while paused, shown on resume. */
  const MAX_HELD = 500;
  /** Job blocks kept in the returns pane. */
  const MAX_JOBS = 20;
  /** Jobs whose returns arrived before POST / answered (a fast minion), kept by jid. */
  const MAX_EARLY_JOBS = 50;
  /** Characters of an event's data shown on its collapsed row. */
  const SUMMARY_CHARS = 160;

  const $ = (id) => document.getElementById(id);

  /** A new element with an optional class and text. */
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function showLine(node, text) {
    node.textContent = text;
    node.hidden = false;
  }

  function hideLine(node) {
    node.textContent = "";
    node.hidden = true;
  }

  // ---- API calls ---------------------------------------------------------------------

  /** A failed call: `status` is 0 when there was no answer; `line` is what the page shows. */
  class ApiError extends Error {
    constructor(status, line) {
      super(line);
      this.status = status;
      this.line = line;
    }
  }

  /** Calls the API with a JSON body (if any) and returns the parsed JSON answer. */
  async function api(method, path, body) {
    const init = {
      method,
      credentials: "same-origin",
      cache: "no-store",
      headers: { Accept: "application/json" },
    };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, `${method} ${path}: no answer from brine-api (${e.message})`);
    }
    const text = await resp.text();
    if (!resp.ok) throw new ApiError(resp.status, errorLine(resp, text));
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new ApiError(resp.status, `${method} ${path}: the answer is not JSON`);
    }
  }

  /** One line from an error answer: CherryPy-style HTML pages, JSON or plain text. */
  function errorLine(resp, text) {
    let msg = "";
    const type = resp.headers.get("Content-Type") || "";
    if (type.includes("html") || /^\s*</.test(text)) {
      // The page's first <p> holds the message (the <h2> repeats the status); a parsed
      // document runs no scripts.
      const doc = new DOMParser().parseFromString(text, "text/html");
      const p = doc.querySelector("p");
      msg = (p || doc.body || doc.documentElement).textContent || "";
    } else {
      try {
        const v = JSON.parse(text);
        msg = typeof v.return === "string" ? v.return : JSON.stringify(v);
      } catch (e) {
        msg = text;
      }
    }
    msg = msg.replace(/\s+/g, " ").trim();
    if (msg.length > 300) msg = msg.slice(0, 300) + "…";
    const status = `${resp.status} ${resp.statusText}`.trim();
    return msg && !status.endsWith(msg) ? `${status}: ${msg}` : status;
  }

  // ---- Session -----------------------------------------------------------------------

  // Who is logged in, for the header after a reload (the cookie itself is HttpOnly).
  const SESSION_KEY = "brine-console-session";

  function saveSession(s) {
    try {
      sessionStorage.setItem(SESSION_KEY, JSON.stringify(s));
    } catch (e) {
      // Storage may be off; the header then shows less after a reload.
    }
  }

  function loadSession() {
    try {
      return JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
    } catch (e) {
      return null;
    }
  }

  function forgetSession() {
    try {
      sessionStorage.removeItem(SESSION_KEY);
    } catch (e) {
      // Nothing stored.
    }
  }

  function showLogin(message) {
    closeEvents();
    $("app-view").hidden = true;
    $("session").hidden = true;
    $("login-view").hidden = false;
    if (message) showLine($("login-error"), message);
    $("login-user").focus();
  }

  /** Shows the console for session `s`; `keys` is a GET /keys answer already in hand. */
  function enterApp(s, keys) {
    $("login-view").hidden = true;
    hideLine($("login-error"));
    $("app-view").hidden = false;
    $("session").hidden = false;
    $("session-user").textContent = s && s.user ? s.user : "(session)";
    $("session-eauth").textContent = s && s.eauth ? s.eauth : "";
    const perms = s && s.perms !== undefined ? s.perms : null;
    const permText = Array.isArray(perms)
      ? perms.map((p) => (typeof p === "string" ? p : JSON.stringify(p))).join("  ")
      : perms === null
        ? ""
        : typeof perms === "object" && Object.keys(perms).length === 0
          ? "no permissions"
          : JSON.stringify(perms);
    $("session-perms").textContent = permText;
    $("session-perms").title = permText;
    if (s && typeof s.expire === "number") {
      $("session-user").title = "Session until " + new Date(s.expire * 1000).toLocaleString();
    }
    openEvents();
    if (keys) renderKeys(keys);
    else refreshKeys();
  }

  async function login(ev) {
    ev.preventDefault();
    const err = $("login-error");
    hideLine(err);
    const sel = $("login-eauth").value;
    const eauth = sel || $("login-eauth-other").value.trim();
    if (!eauth) {
      showLine(err, "Name the eauth backend.");
      return;
    }
    const button = $("login-submit");
    button.disabled = true;
    try {
      const r = await api("POST", "/login", {
        username: $("login-user").value,
        password: $("login-pass").value,
        eauth,
      });
      const s = r && Array.isArray(r.return) && r.return[0] ? r.return[0] : {};
      const who = { user: s.user, eauth: s.eauth, perms: s.perms, expire: s.expire };
      saveSession(who);
      $("login-pass").value = "";
      enterApp(who);
    } catch (e) {
      showLine(err, e.status === 401 ? "Login failed: wrong user, password or eauth." : e.line);
    } finally {
      button.disabled = false;
    }
  }

  async function logout() {
    closeEvents();
    try {
      await api("POST", "/logout");
    } catch (e) {
      // The session is gone either way for this page.
    }
    forgetSession();
    resetPanes();
    showLogin();
  }

  function resetPanes() {
    $("events").replaceChildren();
    incoming.length = 0;
    $("job-returns").replaceChildren();
    $("keys").tBodies[0].replaceChildren();
    [$("job-error"), $("keys-error")].forEach(hideLine);
    held.length = 0;
    jobs.clear();
    early.clear();
    setPaused(false);
    updateCount();
  }

  // ---- Events ------------------------------------------------------------------------

  let source = null;
  let paused = false;
  /** Events paused out of the pane, oldest first. */
  const held = [];
  /** Events waiting for the next frame to be drawn, oldest first. */
  const incoming = [];
  let drawQueued = false;
  let filter = compileGlob("*");

  function setConn(state, label) {
    const c = $("conn");
    c.dataset.state = state;
    c.textContent = label;
  }

  function openEvents() {
    closeEvents();
    const es = new EventSource("/events");
    source = es;
    setConn("connecting", "connecting");
    es.onopen = () => setConn("open", "live");
    es.onmessage = (e) => onEvent(e.data);
    es.onerror = () => {
      if (source !== es) return;
      if (es.readyState === EventSource.CLOSED) {
        // The browser gives up when the answer is not a 200 stream (a 401 once the session
        // ended); anything else it retries on its own, every 400 ms as the stream asks.
        source = null;
        setConn("closed", "offline");
        checkStream();
      } else {
        setConn("connecting", "reconnecting");
      }
    };
  }

  function closeEvents() {
    if (source) source.close();
    source = null;
    setConn("closed", "offline");
  }

  /** After the stream was refused: back to the login page on 401, else retry later. */
  async function checkStream() {
    const ctl = new AbortController();
    let status = 0;
    try {
      const r = await fetch("/events", { credentials: "same-origin", signal: ctl.signal });
      status = r.status;
    } catch (e) {
      status = 0;
    }
    ctl.abort();
    if (status === 401) {
      forgetSession();
      resetPanes();
      showLogin("The session ended; log in again.");
    } else if (!$("app-view").hidden) {
      setTimeout(() => {
        if (!source && !$("app-view").hidden) openEvents();
      }, 3000);
    }
  }

  function onEvent(raw) {
    let msg;
    try {
      msg = JSON.parse(raw);
    } catch (e) {
      msg = { tag: "", data: raw };
    }
    const tag = msg && typeof msg.tag === "string" ? msg.tag : "";
    const data = msg && typeof msg === "object" && "data" in msg ? msg.data : msg;
    // Job returns and key changes are followed whatever the view shows.
    jobEvent(tag, data);
    keyEvent(tag, data);
    const item = { tag, data, at: new Date() };
    if (paused) {
      held.push(item);
      if (held.length > MAX_HELD) held.shift();
      updateCount();
      return;
    }
    // Rows are drawn once a frame: a burst of thousands costs one layout, and only the
    // newest MAX_EVENTS of it are built at all.
    incoming.push(item);
    if (incoming.length > MAX_EVENTS) incoming.shift();
    if (!drawQueued) {
      drawQueued = true;
      requestAnimationFrame(drawIncoming);
    }
  }

  function drawIncoming() {
    drawQueued = false;
    showRows(incoming.splice(0));
  }

  /** Puts rows on top of the pane, oldest first so the newest ends up first. */
  function showRows(items) {
    if (items.length === 0) return;
    const pane = $("events");
    const frag = document.createDocumentFragment();
    for (let n = items.length - 1; n >= 0; n--) frag.append(eventRow(items[n]));
    pane.prepend(frag);
    while (pane.childElementCount > MAX_EVENTS) pane.lastElementChild.remove();
    updateCount();
  }

  function eventRow(item) {
    // brine-api fires salt/event/lost to a stream that fell behind: worth noticing.
    const row = el("div", item.tag === "salt/event/lost" ? "ev lost" : "ev");
    row.dataset.tag = item.tag;
    const head = el("div", "ev-head");
    head.tabIndex = 0;
    head.setAttribute("role", "button");
    head.setAttribute("aria-expanded", "false");
    const stamp = item.data && typeof item.data === "object" ? item.data._stamp : undefined;
    const when = stampTime(stamp) || item.at;
    const t = el("time", "ev-time", clock(when));
    if (typeof stamp === "string") t.title = stamp + " UTC";
    head.append(t, el("span", "ev-tag", item.tag), el("span", "ev-sum", summary(item.data)));
    row.append(head);
    row.hidden = !filter(item.tag);
    // Kept for expanding later; the <pre> is only built when asked for.
    row.eventData = item.data;
    return row;
  }

  function toggleEvent(head) {
    const row = head.parentElement;
    let pre = row.querySelector("pre");
    if (!pre) {
      pre = el("pre", "json ev-json");
      pre.append(renderJson(row.eventData));
      pre.hidden = true;
      row.append(pre);
    }
    pre.hidden = !pre.hidden;
    head.setAttribute("aria-expanded", String(!pre.hidden));
    row.classList.toggle("open", !pre.hidden);
  }

  /** Salt's _stamp is UTC without a zone: "2026-12-02T02:00:00.000001". */
  function stampTime(stamp) {
    if (typeof stamp !== "string") return null;
    const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,3})?)\d*$/.exec(stamp);
    if (!m) return null;
    const d = new Date(m[1] + "Z");
    return isNaN(d.getTime()) ? null : d;
  }

  function clock(d) {
    const p = (n, w = 2) => String(n).padStart(w, "0");
    return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
  }

  function summary(data) {
    let s;
    if (data && typeof data === "object" && !Array.isArray(data)) {
      const rest = Object.assign({}, data);
      delete rest._stamp;
      s = JSON.stringify(rest);
    } else {
      s = JSON.stringify(data);
    }
    if (s === undefined) s = String(data);
    return s.length > SUMMARY_CHARS ? s.slice(0, SUMMARY_CHARS) + "…" : s;
  }

  function setPaused(p) {
    paused = p;
    const b = $("event-pause");
    b.setAttribute("aria-pressed", String(p));
    b.textContent = p ? "Resume" : "Pause";
    if (!p) showRows(held.splice(0));
    updateCount();
  }

  function applyFilter() {
    filter = compileGlob($("event-filter").value);
    for (const row of $("events").children) row.hidden = !filter(row.dataset.tag);
    updateCount();
  }

  function updateCount() {
    const rows = $("events").children;
    let shown = 0;
    for (const r of rows) if (!r.hidden) shown++;
    let text = shown === rows.length ? `${rows.length}` : `${shown} of ${rows.length}`;
    if (paused) text += ` · paused, ${held.length} held`;
    const c = $("event-count");
    c.textContent = text;
    c.dataset.held = String(held.length);
  }

  /**
   * A tag test from a glob with Python's fnmatch rules (what `salt-run state.event` and
   * Salt's event matching use): `*`, `?`, `[seq]`, `[!seq]`, the whole tag, case-sensitive.
   * An empty pattern matches every tag.
   */
  function compileGlob(pattern) {
    if (pattern === "" || pattern === "*") return () => true;
    let re = "";
    for (let i = 0; i < pattern.length; i++) {
      const c = pattern[i];
      if (c === "*") {
        re += "[\\s\\S]*";
      } else if (c === "?") {
        re += "[\\s\\S]";
      } else if (c === "[") {
        // A ']' first in the set (after an optional '!') is a member, not the end.
        let j = i + 1;
        if (pattern[j] === "!") j++;
        if (pattern[j] === "]") j++;
        while (j < pattern.length && pattern[j] !== "]") j++;
        if (j >= pattern.length) {
          re += "\\[";
          continue;
        }
        let body = pattern.slice(i + 1, j);
        let neg = false;
        if (body[0] === "!") {
          neg = true;
          body = body.slice(1);
        }
        body = body.replace(/[\\\]^]/g, "\\$&");
        re += neg ? `[^${body}]` : `[${body}]`;
        i = j;
      } else {
        re += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
      }
    }
    let rx;
    try {
      rx = new RegExp(`^${re}$`, "u");
    } catch (e) {
      // A reversed range ([z-a]) matches nothing in fnmatch either.
      return () => false;
    }
    return (tag) => rx.test(tag);
  }

  // ---- JSON rendering ----------------------------------------------------------------

  /** Pretty JSON as spans with classes for keys and value kinds (textContent only). */
  function renderJson(value) {
    const frag = document.createDocumentFragment();
    const put = (text, cls) => frag.append(cls ? el("span", cls, text) : document.createTextNode(text));
    const walk = (v, indent) => {
      if (v === null || v === undefined) return put("null", "j-null");
      if (typeof v === "boolean") return put(String(v), "j-bool");
      if (typeof v === "number") return put(String(v), "j-num");
      if (typeof v === "string") return put(JSON.stringify(v), "j-str");
      const inner = indent + "  ";
      if (Array.isArray(v)) {
        if (v.length === 0) return put("[]");
        put("[\n");
        v.forEach((x, n) => {
          put(inner);
          walk(x, inner);
          put(n + 1 < v.length ? ",\n" : "\n");
        });
        return put(indent + "]");
      }
      const keys = Object.keys(v);
      if (keys.length === 0) return put("{}");
      put("{\n");
      keys.forEach((k, n) => {
        put(inner);
        put(JSON.stringify(k), "j-key");
        put(": ");
        walk(v[k], inner);
        put(n + 1 < keys.length ? ",\n" : "\n");
      });
      return put(indent + "}");
    };
    walk(value, "");
    return frag;
  }

  // ---- Jobs --------------------------------------------------------------------------

  /** jid → {rows: Map(minion → <tr>), block, expected, got} */
  const jobs = new Map();
  /** jid → [return data] for returns seen before the job's block exists. */
  const early = new Map();

  async function runJob(ev) {
    ev.preventDefault();
    const err = $("job-error");
    hideLine(err);
    let args;
    try {
      args = parseArgs($("job-arg").value);
    } catch (e) {
      showLine(err, e.message);
      return;
    }
    const low = {
      client: "local_async",
      tgt: $("job-tgt").value.trim(),
      tgt_type: $("job-tgt-type").value,
      fun: $("job-fun").value.trim(),
      arg: args.arg,
      kwarg: args.kwarg,
    };
    const button = $("job-run");
    button.disabled = true;
    try {
      const r = await api("POST", "/", [low]);
      const ret = r && Array.isArray(r.return) ? r.return[0] : undefined;
      if (ret && typeof ret === "object" && !Array.isArray(ret) && ret.jid !== undefined) {
        addJob(String(ret.jid), Array.isArray(ret.minions) ? ret.minions.map(String) : [], low);
      } else if (ret && typeof ret === "object" && Object.keys(ret).length === 0) {
        showLine(err, `No minion matched ${low.tgt_type} target ${JSON.stringify(low.tgt)}.`);
      } else {
        const s = typeof ret === "string" ? ret : JSON.stringify(r);
        showLine(err, "Not a job: " + (s.length > 300 ? s.slice(0, 300) + "…" : s));
      }
    } catch (e) {
      showLine(err, e.line);
    } finally {
      button.disabled = false;
    }
  }

  function addJob(jid, minions, low) {
    const block = el("div", "job");
    block.dataset.jid = jid;
    const head = el("div", "job-head");
    const title = el("span", "job-title");
    title.append(el("code", "job-fun", low.fun), " on ", el("code", "", low.tgt));
    if (low.tgt_type !== "glob") title.append(el("span", "muted", ` (${low.tgt_type})`));
    const progress = el("span", "job-progress muted");
    const close = el("button", "job-close", "×");
    close.type = "button";
    close.title = "Remove";
    close.setAttribute("aria-label", "Remove this job");
    head.append(title, el("span", "spacer"), el("span", "job-jid muted", jid), progress, close);
    const table = el("table", "returns");
    const thead = el("thead");
    const hr = el("tr");
    hr.append(el("th", "", "Minion"), el("th", "", "Status"), el("th", "", "Return"));
    thead.append(hr);
    const tbody = el("tbody");
    table.append(thead, tbody);
    block.append(head, table);
    const job = { block, tbody, progress, rows: new Map(), expected: minions.length, got: 0 };
    for (const m of minions) addReturnRow(job, m, false);
    if (minions.length === 0) {
      const tr = el("tr", "empty");
      const td = el("td", "muted", "No minion was expected to answer.");
      td.colSpan = 3;
      tr.append(td);
      tbody.append(tr);
    }
    jobs.set(jid, job);
    const pane = $("job-returns");
    pane.prepend(block);
    while (pane.childElementCount > MAX_JOBS) {
      const last = pane.lastElementChild;
      jobs.delete(last.dataset.jid);
      last.remove();
    }
    for (const data of early.get(jid) || []) fillReturn(job, data);
    early.delete(jid);
    updateProgress(job);
  }

  function addReturnRow(job, minion, unexpected) {
    const tr = el("tr", "waiting" + (unexpected ? " unexpected" : ""));
    tr.dataset.minion = minion;
    const ret = el("td", "ret");
    tr.append(el("td", "minion", minion), el("td", "status", "waiting"), ret);
    job.tbody.append(tr);
    job.rows.set(minion, tr);
    return tr;
  }

  /** salt/job/<jid>/ret/<minion> fills a row of a shown job, or waits for its block. */
  function jobEvent(tag, data) {
    const m = /^salt\/job\/([^/]+)\/ret\/(.+)$/.exec(tag);
    if (!m || !data || typeof data !== "object") return;
    const jid = m[1];
    if (data.id === undefined) data = Object.assign({ id: m[2] }, data);
    const job = jobs.get(jid);
    if (job) {
      fillReturn(job, data);
      updateProgress(job);
      return;
    }
    const list = early.get(jid) || [];
    list.push(data);
    early.set(jid, list);
    while (early.size > MAX_EARLY_JOBS) early.delete(early.keys().next().value);
  }

  function fillReturn(job, data) {
    const id = String(data.id);
    let tr = job.rows.get(id);
    if (!tr) {
      tr = addReturnRow(job, id, true);
      tr.title = "Not in the minions the job was published to";
    }
    if (tr.classList.contains("waiting")) job.got++;
    const failed = data.success === false || (data.retcode !== undefined && data.retcode !== 0);
    tr.classList.remove("waiting");
    tr.classList.add(failed ? "failed" : "ok");
    let status = failed ? "failed" : "ok";
    if (data.retcode !== undefined && data.retcode !== 0) status += ` (retcode ${data.retcode})`;
    tr.querySelector(".status").textContent = status;
    const cell = tr.querySelector(".ret");
    const pre = el("pre", "json");
    // Text output (cmd.run) reads better as itself than as a quoted JSON string.
    if (typeof data.return === "string") pre.textContent = data.return;
    else pre.append(renderJson(data.return));
    cell.replaceChildren(pre);
  }

  function updateProgress(job) {
    const n = Math.max(job.expected, job.rows.size);
    job.progress.textContent = n ? `${job.got}/${n} returned` : "";
  }

  // ---- Arguments, as the salt CLI reads them -------------------------------------------

  // salt.utils.args.KWARG_REGEX: an identifier, '=', and not '=='.
  const KWARG = /^([\p{L}\p{M}_][\p{L}\p{M}\p{N}_.-]*)=(?!=)([\s\S]*)$/u;

  /** "a 'b c' k=v" → {arg: ["a", "b c"], kwarg: {k: "v"}}, each value YAML-coerced. */
  function parseArgs(text) {
    const arg = [];
    const kwarg = {};
    for (const word of splitWords(text)) {
      const m = KWARG.exec(word);
      if (m) defineKey(kwarg, m[1], yamlify(m[2]));
      else arg.push(yamlify(word));
    }
    return { arg, kwarg };
  }

  /** Shell-style words: spaces separate, '…' and "…" quote, a backslash escapes. */
  function splitWords(s) {
    const out = [];
    let cur = null;
    let i = 0;
    while (i < s.length) {
      const c = s[i];
      if (/\s/.test(c)) {
        if (cur !== null) out.push(cur);
        cur = null;
        i++;
        continue;
      }
      if (cur === null) cur = "";
      if (c === "'") {
        const j = s.indexOf("'", i + 1);
        if (j < 0) throw new Error("Arguments: a ' is not closed.");
        cur += s.slice(i + 1, j);
        i = j + 1;
      } else if (c === '"') {
        i++;
        while (i < s.length && s[i] !== '"') {
          if (s[i] === "\\" && i + 1 < s.length && '"\\$`'.includes(s[i + 1])) i++;
          cur += s[i++];
        }
        if (i >= s.length) throw new Error('Arguments: a " is not closed.');
        i++;
      } else if (c === "\\" && i + 1 < s.length) {
        cur += s[i + 1];
        i += 2;
      } else {
        cur += c;
        i++;
      }
    }
    if (cur !== null) out.push(cur);
    return out;
  }

  /** Sets a key even when it is "__proto__", which plain assignment would not. */
  function defineKey(obj, k, v) {
    Object.defineProperty(obj, k, { value: v, enumerable: true, writable: true, configurable: true });
  }

  // PyYAML's implicit resolvers (YAML 1.1), which salt.utils.args.yamlify_arg relies on.
  const Y_NULL = /^(?:~|null|Null|NULL|)$/;
  const Y_TRUE = /^(?:yes|Yes|YES|true|True|TRUE|on|On|ON)$/;
  const Y_FALSE = /^(?:no|No|NO|false|False|FALSE|off|Off|OFF)$/;
  const Y_INT =
    /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/;
  const Y_FLOAT =
    /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*)$/;

  /** A plain YAML scalar's value; a string when it is none of the implicit types. */
  function plainScalar(text) {
    if (Y_NULL.test(text)) return null;
    if (Y_TRUE.test(text)) return true;
    if (Y_FALSE.test(text)) return false;
    if (Y_INT.test(text)) return yamlInt(text);
    if (Y_FLOAT.test(text)) return yamlFloat(text);
    return text;
  }

  function yamlInt(text) {
    let s = text.replace(/_/g, "");
    let sign = 1;
    if (s[0] === "-" || s[0] === "+") {
      if (s[0] === "-") sign = -1;
      s = s.slice(1);
    }
    let n;
    if (s.startsWith("0b")) n = parseInt(s.slice(2), 2);
    else if (s.startsWith("0x")) n = parseInt(s.slice(2), 16);
    else if (s.includes(":")) n = s.split(":").reduce((acc, part) => acc * 60 + parseInt(part, 10), 0);
    // Salt's loader reads an unsigned 0-led number as decimal (010 is 10); signed, octal.
    else if (s.length > 1 && s[0] === "0") n = parseInt(s, text[0] === "0" ? 10 : 8);
    else n = parseInt(s, 10);
    // JSON numbers past 2^53 would arrive changed; the text is closer to what was meant.
    return Number.isSafeInteger(n) ? sign * n : text;
  }

  function yamlFloat(text) {
    const s = text.replace(/_/g, "");
    const n = s.includes(":")
      ? s.split(":").reduce((acc, part) => acc * 60 + parseFloat(part), 0)
      : parseFloat(s);
    return Number.isFinite(n) ? n : text;
  }

  /**
   * salt.utils.args.yamlify_arg: the value YAML gives a word, kept as the word itself when
   * that would lose something (a map or list not written in braces or brackets, a comment,
   * an empty or "#" value, digits with underscores).
   */
  function yamlify(word) {
    if (word.trim() === "") return word;
    if (word.includes("_") && /^[0-9_]+$/.test(word.trim())) return word;
    if (word === "None") return null;
    let text = word.trim();
    const hasComment = word.includes("#");
    if (hasComment) {
      const m = /(^|\s)#/.exec(text);
      if (m) text = text.slice(0, m.index).trim();
      if (text === "") return word;
    }
    let v;
    try {
      if (text[0] === "{" || text[0] === "[") v = parseFlow(text);
      else if (text[0] === '"' || text[0] === "'") v = parseFlow(text);
      else if (/^[!&*|>%@`]/.test(text) || /:(\s|$)/.test(text) || /^[-?](\s|$)/.test(text)) {
        // Tags, anchors, aliases, block scalars and block maps or lists: kept as written.
        return word;
      } else v = plainScalar(text);
    } catch (e) {
      return word;
    }
    if (hasComment && (typeof v === "string" || v === null)) return word;
    if (typeof v === "string" && text[0] !== '"' && text[0] !== "'") return word;
    return v;
  }

  /** A YAML flow value: {…}, […], a quoted or plain scalar. Throws on anything else. */
  function parseFlow(s) {
    let i = 0;
    const bad = () => {
      throw new SyntaxError("not a YAML flow value");
    };
    const ws = () => {
      while (i < s.length && /\s/.test(s[i])) i++;
    };
    const value = () => {
      ws();
      const c = s[i];
      if (c === "{") return mapping();
      if (c === "[") return sequence();
      if (c === '"') return doubleQuoted();
      if (c === "'") return singleQuoted();
      const start = i;
      while (i < s.length) {
        const ch = s[i];
        if (",[]{}".includes(ch)) break;
        if (ch === ":" && (i + 1 >= s.length || /[\s,[\]{}]/.test(s[i + 1]))) break;
        if (ch === "#" && i > start && /\s/.test(s[i - 1])) bad();
        i++;
      }
      return plainScalar(s.slice(start, i).trim());
    };
    const sequence = () => {
      i++;
      const out = [];
      for (;;) {
        ws();
        if (s[i] === "]") {
          i++;
          return out;
        }
        if (s[i] === ",") bad();
        out.push(value());
        ws();
        if (s[i] === ",") i++;
        else if (s[i] !== "]") bad();
      }
    };
    const mapping = () => {
      i++;
      const out = {};
      for (;;) {
        ws();
        if (s[i] === "}") {
          i++;
          return out;
        }
        if (s[i] === ",") bad();
        const k = value();
        if (k !== null && typeof k === "object") bad();
        // Salt's loader refuses a key given twice.
        if (Object.prototype.hasOwnProperty.call(out, String(k))) bad();
        ws();
        let v = null;
        if (s[i] === ":") {
          i++;
          v = value();
          ws();
        }
        defineKey(out, String(k), v);
        if (s[i] === ",") i++;
        else if (s[i] !== "}") bad();
      }
    };
    const singleQuoted = () => {
      let out = "";
      i++;
      for (;;) {
        if (i >= s.length) bad();
        if (s[i] === "'") {
          if (s[i + 1] === "'") {
            out += "'";
            i += 2;
            continue;
          }
          i++;
          return out;
        }
        out += s[i++];
      }
    };
    const ESC = { 0: "\0", a: "\x07", b: "\b", t: "\t", n: "\n", v: "\v", f: "\f", r: "\r", e: "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\", N: "\x85", _: "\xa0" };
    const doubleQuoted = () => {
      let out = "";
      i++;
      for (;;) {
        if (i >= s.length) bad();
        const c = s[i++];
        if (c === '"') return out;
        if (c !== "\\") {
          out += c;
          continue;
        }
        const e = s[i++];
        const hex = { x: 2, u: 4, U: 8 }[e];
        if (hex) {
          const h = s.slice(i, i + hex);
          if (!/^[0-9a-fA-F]+$/.test(h) || h.length !== hex) bad();
          out += String.fromCodePoint(parseInt(h, 16));
          i += hex;
        } else if (e in ESC) {
          out += ESC[e];
        } else bad();
      }
    };
    const v = value();
    ws();
    if (i !== s.length) bad();
    return v;
  }

  // ---- Keys --------------------------------------------------------------------------

  // Pending first: those are the ones waiting for someone.
  const KEY_LISTS = [
    ["minions_pre", "pending", ["accept", "reject", "delete"]],
    ["minions", "accepted", ["reject", "delete"]],
    ["minions_rejected", "rejected", ["accept", "delete"]],
    ["minions_denied", "denied", ["delete"]],
  ];
  let knownPending = new Set();
  let keysTimer = null;

  async function refreshKeys() {
    const err = $("keys-error");
    try {
      const r = await api("GET", "/keys");
      renderKeys(r && r.return && typeof r.return === "object" ? r.return : {});
      hideLine(err);
    } catch (e) {
      showLine(err, e.line);
    }
  }

  function renderKeys(lists) {
    const body = $("keys").tBodies[0];
    const rows = [];
    knownPending = new Set();
    for (const [field, state, actions] of KEY_LISTS) {
      const ids = Array.isArray(lists[field]) ? lists[field].map(String) : [];
      ids.sort();
      for (const id of ids) {
        if (state === "pending") knownPending.add(id);
        const tr = el("tr");
        tr.dataset.minion = id;
        tr.dataset.state = state;
        const acts = el("td", "actions");
        for (const a of actions) {
          const b = el("button", "key-" + a, a[0].toUpperCase() + a.slice(1));
          b.type = "button";
          b.dataset.act = a;
          acts.append(b);
        }
        const badge = el("td");
        badge.append(el("span", "badge " + state, state));
        tr.append(el("td", "minion", id), badge, acts);
        rows.push(tr);
      }
    }
    if (rows.length === 0) {
      const tr = el("tr", "empty");
      const td = el("td", "muted", "No keys.");
      td.colSpan = 3;
      tr.append(td);
      rows.push(tr);
    }
    body.replaceChildren(...rows);
  }

  /** fnmatch has no escape character; a one-member set matches a glob character itself. */
  function exactGlob(id) {
    return id.replace(/[*?[]/g, "[$&]");
  }

  async function keyAction(act, id, from) {
    if (act === "delete" && !window.confirm(`Delete the key of ${id}?`)) return;
    const low = { client: "wheel", fun: "key." + act, match: exactGlob(id) };
    // Salt's key.accept and key.reject leave keys in the other lists alone unless told.
    if (act === "accept" && from === "rejected") low.include_rejected = true;
    if (act === "reject" && from === "accepted") low.include_accepted = true;
    const err = $("keys-error");
    hideLine(err);
    try {
      const r = await api("POST", "/", [low]);
      const ret = r && Array.isArray(r.return) ? r.return[0] : undefined;
      const data = ret && ret.data;
      if (data && data.success === false) {
        const why = typeof data.return === "string" ? data.return : JSON.stringify(data.return);
        showLine(err, `key.${act} ${id}: ${why}`);
      }
    } catch (e) {
      showLine(err, e.line);
    }
    refreshKeys();
  }

  /** Key changes and new pending minions refresh the table (once for a burst). */
  function keyEvent(tag, data) {
    const pendingNew =
      tag === "salt/auth" && data && data.act === "pend" && !knownPending.has(String(data.id));
    if (tag !== "salt/key" && !pendingNew) return;
    clearTimeout(keysTimer);
    keysTimer = setTimeout(refreshKeys, 300);
  }

  // ---- Wiring ------------------------------------------------------------------------

  async function boot() {
    $("login-form").addEventListener("submit", login);
    $("login-eauth").addEventListener("change", () => {
      const other = $("login-eauth").value === "";
      $("login-eauth-other-row").hidden = !other;
      if (other) $("login-eauth-other").focus();
    });
    $("logout").addEventListener("click", logout);
    $("job-form").addEventListener("submit", runJob);
    $("job-returns").addEventListener("click", (e) => {
      const b = e.target.closest(".job-close");
      if (!b) return;
      const block = b.closest(".job");
      jobs.delete(block.dataset.jid);
      block.remove();
    });
    $("keys-refresh").addEventListener("click", refreshKeys);
    $("keys").addEventListener("click", (e) => {
      const b = e.target.closest("button[data-act]");
      if (!b) return;
      const tr = b.closest("tr");
      keyAction(b.dataset.act, tr.dataset.minion, tr.dataset.state);
    });
    $("event-filter").addEventListener("input", applyFilter);
    $("event-pause").addEventListener("click", () => setPaused(!paused));
    $("event-clear").addEventListener("click", () => {
      $("events").replaceChildren();
      held.length = 0;
      incoming.length = 0;
      updateCount();
    });
    const events = $("events");
    events.addEventListener("click", (e) => {
      const head = e.target.closest(".ev-head");
      // A drag that selected text is reading, not a click.
      if (head && String(window.getSelection()) === "") toggleEvent(head);
    });
    events.addEventListener("keydown", (e) => {
      const head = e.target.closest(".ev-head");
      if (head && (e.key === "Enter" || e.key === " ")) {
        e.preventDefault();
        toggleEvent(head);
      }
    });
    updateCount();

    // GET /login with the cookie says who is logged in (it needs no permission, unlike
    // GET /keys); without a live session it answers "Please log in".
    try {
      const r = await api("GET", "/login");
      const who = r && Array.isArray(r.return) ? r.return[0] : null;
      if (!who || !who.user) {
        forgetSession();
        showLogin("");
        return;
      }
      let keys = {};
      try {
        const k = await api("GET", "/keys");
        keys = k && k.return && typeof k.return === "object" ? k.return : {};
      } catch (e) {
        // No wheel permission: the keys pane says so when it is refreshed.
      }
      enterApp({ user: who.user, eauth: who.eauth, perms: who.perms }, keys);
    } catch (e) {
      forgetSession();
      showLogin(e.status === 401 ? "" : e.line);
    }
  }

  // Exposed for the page's own tests in a browser console; nothing else uses them.
  window.brineConsole = { parseArgs, compileGlob, yamlify };

  document.addEventListener("DOMContentLoaded", boot);
})();
