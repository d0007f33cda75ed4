// The dashboard page: one Server-Sent Events stream carries every change; views are rendered
// from the state it builds. Approval decisions are POSTs with the session's CSRF token.
"use strict";
(function () {
  const CSRF = document.querySelector('meta[name="csrf-token"]').content;
  const state = {
    servers: new Map(), threads: new Map(), approvals: new Map(), charts: null,
    transcript: null, // {key, items: Map, turns: {}}
    selected: new Set(),
  };
  let source = null, streamKey = undefined, renderQueued = false;
  // What changed since the last frame: only the views that show it are drawn again.
  const stale = new Set(["servers", "threads", "approvals", "charts", "transcript"]);

  const $ = (selector) => document.querySelector(selector);
  const esc = (value) => String(value == null ? "" : value).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const ago = (seconds) => {
    if (!seconds) return "—";
    const d = Math.max(0, Date.now() / 1000 - seconds);
    return d < 60 ? Math.round(d) + " s ago" : d < 3600 ? Math.round(d / 60) + " min ago" : d < 86400 ? Math.round(d / 3600) + " h ago" : new Date(seconds * 1000).toLocaleString();
  };
  const when = (seconds) => (seconds ? new Date(seconds * 1000).toLocaleTimeString() : "—");

  function route() {
    const hash = location.hash.replace(/^#\/?/, "");
    if (hash.startsWith("thread/")) return { view: "thread", key: decodeURIComponent(hash.slice(7)) };
    return { view: ["threads", "approvals", "audit"].includes(hash) ? hash : "overview" };
  }

  // ---------------------------------------------------------------- the stream

  function open(threadKey) {
    if (source && streamKey === threadKey) return;
    if (source) source.close();
    streamKey = threadKey;
    state.transcript = null;
    source = new EventSource("/api/stream" + (threadKey ? "?thread=" + encodeURIComponent(threadKey) : ""));
    source.onopen = () => { $("#live").className = "live on"; $("#live").textContent = "live"; };
    source.onerror = () => { $("#live").className = "live off"; $("#live").textContent = "reconnecting…"; };
    source.onmessage = (event) => receive(JSON.parse(event.data));
  }

  function setRows(map, rows) {
    for (const row of rows) {
      if (row.removed) map.delete(row.key); else map.set(row.key, row);
    }
  }

  function receive(message) {
    if (message.type === "snapshot") {
      state.servers.clear(); state.threads.clear(); state.approvals.clear();
      setRows(state.servers, message.servers); setRows(state.threads, message.threads); setRows(state.approvals, message.approvals);
      state.charts = message.charts;
      for (const part of ["servers", "threads", "approvals", "charts", "transcript"]) stale.add(part);
      if (message.transcript) {
        const t = message.transcript;
        state.transcript = { key: t.key, items: new Map(t.items.map((item) => [item.id, item])), turns: t.turns };
      }
    } else {
      const rows = message.rows || {};
      for (const part of ["servers", "threads", "approvals"]) {
        if (rows[part]) { setRows(state[part], rows[part]); stale.add(part); }
      }
      if (message.charts) { state.charts = message.charts; stale.add("charts"); }
      if (message.ops && state.transcript) { for (const op of message.ops) step(op); stale.add("transcript"); }
      // A decision was just made or seen: the audit log has a new row.
      if (rows.approvals && route().view === "audit") renderAudit();
    }
    for (const key of [...state.selected]) {
      const approval = state.approvals.get(key);
      if (!approval || approval.answeredBy) state.selected.delete(key);
    }
    scheduleRender();
  }

  function step(op) {
    const t = state.transcript;
    if (op.op === "item") t.items.set(op.item.id, op.item);
    else if (op.op === "turn") t.turns[op.turnId] = op.status;
    else if (op.op === "delta") {
      const item = t.items.get(op.itemId);
      if (item) item[op.field] = (item[op.field] || "") + op.delta;
      if (window.__dashboardProbe) window.__dashboardProbe(op);
    }
  }

  function scheduleRender() {
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(() => { renderQueued = false; render(); });
  }

  // ---------------------------------------------------------------- views

  function render() {
    const current = route();
    for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== "view-" + current.view;
    for (const link of document.querySelectorAll("nav a")) link.classList.toggle("current", link.dataset.view === current.view);
    const pending = [...state.approvals.values()].filter((a) => !a.answeredBy).length;
    $("#pending-count").textContent = pending;
    $("#pending-count").classList.toggle("zero", pending === 0);
    if (current.view === "overview" && (stale.has("servers") || stale.has("charts"))) renderOverview();
    else if (current.view === "threads" && stale.has("threads")) renderThreads();
    else if (current.view === "thread" && (stale.has("transcript") || stale.has("threads"))) renderThread(current.key);
    else if (current.view === "approvals" && stale.has("approvals")) renderApprovals();
    else return;
    stale.clear();
  }
  function redraw() {
    for (const part of ["servers", "threads", "approvals", "charts", "transcript"]) stale.add(part);
    scheduleRender();
  }

  function renderOverview() {
    $("#servers tbody").innerHTML = [...state.servers.values()].map((s) => `
      <tr data-server="${esc(s.name)}">
        <td><b>${esc(s.name)}</b><div class="meta mono">${esc(s.url)}</div></td>
        <td class="state-${esc(s.state)}">${esc(s.state)}${s.error ? `<div class="meta">${esc(s.error)}</div>` : ""}</td>
        <td class="mono">${esc(s.version || "—")}</td>
        <td>${s.clients == null ? `<span class="meta" title="the server does not offer server/diagnostics">n/a</span>` : esc(s.clients)}</td>
        <td>${esc(s.activeTurns)}</td>
        <td>${esc(s.threads)}</td>
      </tr>`).join("");
    const charts = state.charts;
    if (!charts) return;
    DashboardCharts.stackedBars($("#chart-tokens-model"), charts.tokensByModel, "tokens");
    DashboardCharts.stackedBars($("#chart-tokens-server"), charts.tokensByServer, "tokens");
    DashboardCharts.stackedBars($("#chart-turns"), charts.turns, "turns");
    DashboardCharts.groupedBars($("#chart-approvals"), charts.approvals);
  }

  function renderThreads() {
    const select = $("#thread-server");
    const names = [...state.servers.keys()];
    if (select.options.length !== names.length + 1) {
      const chosen = select.value;
      select.innerHTML = `<option value="">all servers</option>` + names.map((n) => `<option>${esc(n)}</option>`).join("");
      select.value = chosen;
    }
    const search = $("#thread-search").value.trim().toLowerCase();
    const server = select.value, status = $("#thread-status").value;
    const rows = [...state.threads.values()]
      .filter((t) => (!server || t.server === server) && (!status || t.status === status))
      .filter((t) => !search || [t.name, t.preview, t.cwd, t.model, t.source, t.id].some((v) => v && String(v).toLowerCase().includes(search)))
      .sort((a, b) => b.lastActivity - a.lastActivity);
    $("#threads tbody").innerHTML = rows.map((t) => `
      <tr class="clickable thread-row" data-key="${esc(t.key)}">
        <td>${esc(t.server)}</td>
        <td>${esc(t.name || t.preview || "(no message yet)")}<div class="meta mono">${esc(t.id)}</div></td>
        <td class="mono">${esc(t.cwd)}</td>
        <td>${esc(t.source)}</td>
        <td>${esc(t.model || "—")}</td>
        <td class="status-${esc(t.status)}">${esc(t.status)}</td>
        <td title="${esc(when(t.lastActivity))}">${esc(ago(t.lastActivity))}</td>
      </tr>`).join("");
  }

  // An added or deleted file's "diff" is its content (the protocol's shape); an update's is a
  // unified diff.
  function diffHtml(kind, diff) {
    let lines = String(diff || "").replace(/\n$/, "").split("\n");
    if (kind === "add") lines = lines.map((line) => "+" + line);
    else if (kind === "delete") lines = lines.map((line) => "-" + line);
    return lines.map((line) => {
      const cls = line.startsWith("+") && !line.startsWith("+++") ? "add" : line.startsWith("-") && !line.startsWith("---") ? "del" : "";
      return `<span class="${cls}">${esc(line)}</span>`;
    }).join("\n");
  }

  function itemHtml(item) {
    const label = (text) => `<div class="label">${esc(text)}</div>`;
    switch (item.type) {
      case "userMessage": {
        const text = (item.content || []).map((c) => c.text || "").join("\n");
        return label("user") + `<div class="agent-text">${esc(text)}</div>`;
      }
      case "agentMessage":
        return label("agent") + `<div class="agent-text">${esc(item.text)}</div>`;
      case "commandExecution":
        return label(`command · ${item.status}${item.exitCode != null ? " · exit " + item.exitCode : ""}`) +
          `<div class="mono command">$ ${esc(item.command)}</div><pre class="command-output">${esc(item.aggregatedOutput || "")}</pre>`;
      case "fileChange":
        return label(`file change · ${item.status}`) + (item.changes || []).map((c) => {
          const kind = c.kind && c.kind.type ? c.kind.type : String(c.kind);
          return `<div class="mono">${esc(kind)} ${esc(c.path)}${c.kind && c.kind.move_path ? " → " + esc(c.kind.move_path) : ""}</div>` +
            `<pre class="diff">${diffHtml(kind, c.diff)}</pre>`;
        }).join("");
      case "reasoning":
        return label("reasoning") + `<div class="meta">${esc((item.summary || []).join(" "))}</div>`;
      default:
        return label(item.type) + `<pre>${esc(JSON.stringify(item, null, 1)).slice(0, 2000)}</pre>`;
    }
  }

  function renderThread(key) {
    const thread = state.threads.get(key);
    $("#thread-title").textContent = thread ? (thread.name || thread.preview || thread.id) : key;
    $("#thread-meta").textContent = thread
      ? `${thread.server} · ${thread.cwd} · ${thread.model || "model unknown"} · ${thread.status} · last activity ${ago(thread.lastActivity)}`
      : "";
    const t = state.transcript;
    if (!t || t.key !== key) { $("#transcript").innerHTML = `<p class="meta">loading…</p>`; return; }
    const parts = [];
    let turn = null;
    for (const item of t.items.values()) {
      if (item.turnId !== turn) {
        turn = item.turnId;
        parts.push(`<div class="turn" data-turn-id="${esc(turn)}">turn ${esc(turn)} · <span class="turn-status">${esc(t.turns[turn] || "")}</span></div>`);
      }
      parts.push(`<div class="item ${esc(item.type)}" data-item-id="${esc(item.id)}">${itemHtml(item)}</div>`);
    }
    $("#transcript").innerHTML = parts.join("") || `<p class="meta">no items yet</p>`;
  }

  function renderApprovals() {
    const all = [...state.approvals.values()];
    const pending = all.filter((a) => !a.answeredBy).sort((a, b) => a.askedAt - b.askedAt);
    const answered = all.filter((a) => a.answeredBy).sort((a, b) => b.answeredAt - a.answeredAt);
    $("#approvals tbody").innerHTML = pending.map((a) => `
      <tr class="approval" data-key="${esc(a.key)}">
        <td><input type="checkbox" class="pick" ${state.selected.has(a.key) ? "checked" : ""}></td>
        <td>${esc(a.server)}</td>
        <td><a href="#/thread/${encodeURIComponent(a.threadKey)}">${esc(a.threadId.slice(0, 13))}…</a></td>
        <td>${esc(a.kind)}</td>
        <td class="mono">${esc(a.subject)}${a.reason ? `<div class="meta">${esc(a.reason)}</div>` : ""}</td>
        <td>${esc(ago(a.askedAt))}</td>
        <td><button type="button" class="approve">Approve</button> <button type="button" class="decline danger">Decline</button></td>
      </tr>`).join("") || `<tr><td colspan="7" class="meta">nothing waits for an answer</td></tr>`;
    $("#answered tbody").innerHTML = answered.map((a) => `
      <tr class="answered" data-key="${esc(a.key)}">
        <td>${esc(a.server)}</td><td class="mono">${esc(a.threadId.slice(0, 13))}…</td><td>${esc(a.kind)}</td>
        <td class="mono">${esc(a.subject)}</td><td class="decision">${esc(a.decision || "…")}</td>
        <td class="answered-by">${esc(a.answeredBy)}</td><td>${esc(when(a.answeredAt))}</td>
      </tr>`).join("");
    $("#select-all").checked = pending.length > 0 && pending.every((a) => state.selected.has(a.key));
  }

  async function renderAudit() {
    const response = await fetch("/api/audit", { credentials: "same-origin" });
    const body = await response.json();
    $("#audit tbody").innerHTML = body.decisions.map((d) => `
      <tr class="audit-row"><td>${esc(new Date(d.at * 1000).toLocaleString())}</td><td>${esc(d.server)}</td>
      <td class="mono">${esc(d.thread_id.slice(0, 13))}…</td><td>${esc(d.kind)}</td><td class="mono">${esc(d.subject)}</td>
      <td class="decision">${esc(d.decision)}</td><td>${esc(d.decided_by)}</td></tr>`).join("") ||
      `<tr><td colspan="7" class="meta">no decisions yet</td></tr>`;
  }

  // ---------------------------------------------------------------- actions

  async function decide(keys, decision) {
    if (!keys.length) { $("#approval-message").textContent = "select approvals first"; return; }
    const response = await fetch("/api/approvals", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": CSRF },
      body: JSON.stringify({ keys, decision }),
    });
    const body = await response.json();
    if (!response.ok) { $("#approval-message").textContent = body.error; return; }
    const late = Object.values(body.results).filter((r) => r !== "answered").length;
    $("#approval-message").textContent = `${keys.length - late} answered` + (late ? `, ${late} already answered elsewhere` : "");
    for (const key of keys) state.selected.delete(key);
  }

  document.addEventListener("click", (event) => {
    const target = event.target;
    const row = target.closest("tr");
    if (target.matches("button.approve, button.decline") && row) {
      decide([row.dataset.key], target.matches(".approve") ? "accept" : "decline");
    } else if (target.matches("input.pick") && row) {
      if (target.checked) state.selected.add(row.dataset.key); else state.selected.delete(row.dataset.key);
    } else if (target.id === "select-all") {
      const pending = [...state.approvals.values()].filter((a) => !a.answeredBy);
      for (const a of pending) if (target.checked) state.selected.add(a.key); else state.selected.delete(a.key);
      redraw();
    } else if (target.id === "bulk-accept" || target.id === "bulk-decline") {
      decide([...state.selected], target.id === "bulk-accept" ? "accept" : "decline");
    } else if (row && row.classList.contains("thread-row")) {
      location.hash = "#/thread/" + encodeURIComponent(row.dataset.key);
    }
  });
  for (const id of ["#thread-search", "#thread-server", "#thread-status"]) $(id).addEventListener("input", redraw);

  function navigate() {
    const current = route();
    open(current.view === "thread" ? current.key : null);
    if (current.view === "audit") renderAudit();
    redraw();
  }
  window.addEventListener("hashchange", navigate);
  navigate();
  setInterval(redraw, 5000); // "… ago" labels
})();
