// The dashboard page: built once, then changed in place from the server's push (/api/events).
// No library and no build step. Every update touches only the nodes whose value changed, so a
// text selection or whatever a person reads stays where it is (a whole-table redraw wiped it).
"use strict";

const token = document.querySelector('meta[name="hippodrome-token"]').content;
const $ = id => document.getElementById(id);
const state = {status: {}, stack: {}, rows: {}, received: {}, round: null, logSeqs: new Set(), lastSeq: 0};
const LOG_LIMIT = 5000;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v == null) continue;
    node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c != null) node.append(c);
  return node;
}
// Change a node only when its value changed: an unchanged text node keeps any selection in it.
function setText(node, text) { if (node.textContent !== text) node.textContent = text; }
function setAttr(node, name, value) {
  if (value == null) { if (node.hasAttribute(name)) node.removeAttribute(name); }
  else if (node.getAttribute(name) !== String(value)) node.setAttribute(name, value);
}
const fmtUptime = s => s == null ? "" : s < 60 ? `${Math.floor(s)}s` : s < 3600 ? `${Math.floor(s/60)}m${Math.floor(s%60)}s`
  : `${Math.floor(s/3600)}h${Math.floor(s%3600/60)}m`;
const secs = s => s == null ? "–" : `${s.toFixed(2)} s`;

// --- control ----------------------------------------------------------------------------------

async function control(action, service, buttons = []) {
  setText($("error"), "");
  buttons.forEach(b => b.disabled = true);
  try {
    const r = await fetch(`/api/control/${action}`, {
      method: "POST",
      headers: {"Content-Type": "application/json", "X-Hippodrome-Token": token},
      body: JSON.stringify({service}),
    });
    if (!r.ok) setText($("error"), (await r.json().catch(() => ({}))).error || `HTTP ${r.status}`);
  } catch (e) {
    setText($("error"), action === "shutdown" ? "" : `control ${action} failed: ${e}`);
  } finally {
    buttons.forEach(b => b.disabled = false);
  }
}

const STACK_QUESTIONS = {
  restart: "Restart every service? They stop in reverse layer order, then start layer by layer.",
  stop: "Stop every service, in reverse layer order? The dashboard stays up.",
  shutdown: "Shut the stack down? Every service stops and the supervisor (and this page) goes away.",
};

function confirmThen(action) {
  const dialog = $("confirm");
  setText($("confirm-text"), STACK_QUESTIONS[action]);
  setText($("confirm-ok"), {restart: "Restart all", stop: "Stop all", shutdown: "Shut down"}[action]);
  dialog.returnValue = "";
  dialog.onclose = () => { if (dialog.returnValue === "ok") control(action, null); };
  dialog.showModal();
}

for (const b of document.querySelectorAll("[data-stack-action]")) b.addEventListener("click", () => confirmThen(b.dataset.stackAction));

// Controls that fit the state: no "stop" on a stopped service, no "start" on a running one.
function actionsFor(s) {
  switch (s.status) {
    case "running": case "starting": return ["restart", "stop"];
    case "stopped": case "failed": return ["start"];
    default: return [];
  }
}

// --- services table -----------------------------------------------------------------------------

function buildRow(name) {
  const r = {};
  r.tr = el("tr", {"data-service": name});
  r.link = el("a", {class: "svc-link"}, name);
  r.health = el("a", {class: "health", title: "its health check"}, "health");
  r.nb = el("span", {class: "nb"});
  r.pill = el("span", {class: "pill"});
  r.forward = el("span", {class: "forward"});
  r.statusTd = el("td", {class: "status"}, r.pill, r.forward);
  r.port = el("a", {});
  r.restarts = el("td", {class: "restarts"});
  r.uptime = el("td", {class: "uptime"});
  r.text = el("span", {class: "text"});
  r.flags = el("ul", {class: "flags"});
  r.buttons = {};
  r.logs = null;
  const controls = el("div", {class: "controls"});
  for (const action of ["restart", "stop", "start"]) {
    const b = el("button", {type: "button", "data-action": action, "data-service": name, "aria-label": `${action} ${name}`}, action);
    b.addEventListener("click", () => control(action, name, [b]));
    r.buttons[action] = b;
    controls.append(b);
  }
  const logs = el("button", {type: "button", "data-action": "logs", "data-service": name, "aria-label": `logs of ${name}`}, "logs");
  logs.addEventListener("click", () => { $("log-service").value = name; selectLogService(); $("log").focus(); });
  controls.append(logs);
  r.logs = logs;
  r.tr.append(el("td", {class: "name"}, r.link, r.health, r.nb), r.statusTd, el("td", {class: "port"}, r.port),
              r.restarts, r.uptime, el("td", {class: "msg"}, r.text, r.flags), el("td", {class: "ctl"}, controls));
  return r;
}

function layoutRows() {
  // Rows are created once; they are only moved when the set of services or their layers change.
  const body = $("services");
  const byLayer = {};
  for (const [name, s] of Object.entries(state.status)) (byLayer[s.layer] ??= []).push(name);
  const wanted = [];
  for (const layer of Object.keys(byLayer).sort((a, b) => a - b)) {
    wanted.push(`layer:${layer}`);
    for (const name of byLayer[layer]) wanted.push(name);
  }
  const key = wanted.join(",");
  if (body.dataset.layout === key) return;
  body.dataset.layout = key;
  const nodes = wanted.map(item => {
    if (item.startsWith("layer:")) return el("tr", {class: "layer"}, el("td", {colspan: "7"}, `Layer ${item.slice(6)}`));
    return (state.rows[item] ??= buildRow(item)).tr;
  });
  body.replaceChildren(...nodes);
  for (const name of Object.keys(state.rows)) if (!(name in state.status)) delete state.rows[name];
  refreshLogServices();
}

function renderService(name) {
  const s = state.status[name], r = state.rows[name];
  if (!s || !r) return;
  const h = (state.stack.health || {})[name] || {};
  const tone = h.tone || (s.status === "running" && s.ready ? "ok" : s.status === "failed" ? "bad" : "warn");
  setAttr(r.tr, "data-tone", tone);
  setAttr(r.statusTd, "data-status", s.status);
  setAttr(r.pill, "class", `pill tone-${tone}`);
  setText(r.pill, h.label || s.status + (s.status === "running" && !s.ready ? " (not ready)" : ""));
  setAttr(r.link, "href", s.url);
  setAttr(r.health, "href", h.healthUrl || null);
  r.health.hidden = !h.healthUrl;
  setText(r.nb, s.blocking === false ? "non-blocking" : "");
  setText(r.port, String(s.port));
  setAttr(r.port, "href", s.url);
  setText(r.restarts, String(s.restarts));
  setText(r.text, s.message || "");
  const flags = h.flags || [];
  if (r.flags.dataset.flags !== flags.join("\n")) {
    r.flags.dataset.flags = flags.join("\n");
    r.flags.replaceChildren(...flags.map(f => el("li", {}, f)));
  }
  setAttr(r.tr, "data-flagged", flags.length ? "true" : null);
  const allowed = (state.stack.features || {}).control || ["restart", "stop", "start"];
  const fit = actionsFor(s);
  for (const [action, b] of Object.entries(r.buttons)) b.hidden = !(fit.includes(action) && allowed.includes(action));
  r.logs.hidden = !(state.stack.features || {}).logs;
  const fwd = ((state.stack.forwards || {}).forwards || {})[name];
  setText(r.forward, fwd ? `port-forward: ${fwd.state}${fwd.reconnects ? ` (${fwd.reconnects} reconnects)` : ""}` : "");
  tickUptime(name);
}

function tickUptime(name) {
  const s = state.status[name], r = state.rows[name];
  if (!s || !r) return;
  const base = s.uptime, at = state.received[name];
  setText(r.uptime, base == null ? "" : fmtUptime(base + (Date.now() - at) / 1000));
}

// Both engines' spellings (local /api/stack, the custom resource's status.phase).
const PHASE_TONES = {running: "ok", Ready: "ok", degraded: "bad", Degraded: "bad", failed: "bad", Failed: "bad",
                     stopped: "off"};

function renderStack() {
  const st = state.stack;
  if (!st.name) return;
  const phase = st.phase || "";
  const bits = [st.name, st.engine, st.profile && `profile ${st.profile}`, st.cell && `cell ${st.cell}`,
                `${st.ready}/${st.services} ready`, st.tablePrefix && `tables ${st.tablePrefix}*`, "phase"];
  setText($("stack-text"), bits.filter(Boolean).join(" · ") + (st.failure ? ` — ${st.failure}` : "") + (st.error ? ` — ${st.error}` : ""));
  setAttr($("stack"), "data-phase", phase);
  setText($("phase"), phase);
  setAttr($("phase"), "class", `pill tone-${PHASE_TONES[phase] || "warn"}`);
  const allowed = (st.features || {}).control || [];
  for (const b of document.querySelectorAll("[data-stack-action]")) b.hidden = !allowed.includes(b.dataset.stackAction);
  $("logs-section").hidden = !(st.features || {}).logs;
  $("timeline-section").hidden = !(st.features || {}).timings;
}

// --- waterfall ----------------------------------------------------------------------------------

function renderTimings() {
  const t = state.stack.timings;
  const select = $("round"), box = $("waterfall");
  if (!t || !t.rounds || !t.rounds.length) { select.replaceChildren(); box.replaceChildren(); setText($("figures"), ""); return; }
  const label = r => `${r.kind} #${r.id} · ${new Date(r.startedAt * 1000).toLocaleTimeString()}` +
    (r.kind === "up" ? "" : ` · ${r.services.map(s => s.name).join(", ")}`);
  const options = t.rounds.slice().reverse().map(r => el("option", {value: String(r.id)}, label(r)));
  const key = t.rounds.map(r => r.id).join(",");
  if (select.dataset.rounds !== key) {
    const keep = state.round;
    select.dataset.rounds = key;
    select.replaceChildren(...options);
    if (keep != null && t.rounds.some(r => r.id === keep)) select.value = String(keep);
    else select.value = String(t.lastUp ?? t.rounds[t.rounds.length - 1].id);
  }
  const round = t.rounds.find(r => String(r.id) === select.value) || t.rounds[t.rounds.length - 1];
  drawRound(round);
}

function drawRound(round) {
  const f = round.figures;
  setText($("figures"), f.total == null
    ? `in progress · critical path so far ${secs(f.criticalPath)}`
    : `total ${secs(f.total)} · critical path ${secs(f.criticalPath)} (${round.criticalPath.join(" → ")}) · overhead ${secs(f.overhead)}`);
  const now = Date.now() / 1000 - round.startedAt;
  const end = Math.max(f.total || 0, ...round.services.map(s => s.healthy ?? (s.outcome === "starting" ? now : s.spawn ?? 0)), 0.001);
  const nodes = [];
  let layer = null;
  for (const s of round.services) {
    if (s.layer !== layer) { layer = s.layer; nodes.push(el("div", {class: "wf-layer"}, `Layer ${layer}`)); }
    const start = s.spawn ?? 0, stop = s.healthy ?? (s.outcome === "starting" ? now : start);
    const bar = el("div", {class: "wf-bar", title: `${s.name}: spawned at +${secs(start)}, healthy at +${secs(s.healthy)}`});
    bar.style.left = `${(start / end) * 100}%`;
    bar.style.width = `${Math.max(0, (stop - start) / end) * 100}%`;
    const what = s.outcome === "healthy" ? secs(s.seconds) : s.outcome;
    nodes.push(el("div", {class: `wf-row ${s.critical ? "critical" : ""} ${s.outcome}`, "data-service": s.name,
                          "data-critical": s.critical ? "true" : "false"},
      el("span", {class: "wf-name"}, s.name, s.critical ? el("span", {class: "wf-crit"}, " ★ critical") : null),
      el("div", {class: "wf-track"}, bar),
      el("span", {class: "wf-time"}, what + (s.spawns > 1 ? ` (${s.spawns} spawns)` : ""))));
  }
  $("waterfall").replaceChildren(...nodes);
}

$("round").addEventListener("change", () => { state.round = Number($("round").value); renderTimings(); });

// --- logs ---------------------------------------------------------------------------------------

const ERROR_RE = /\b(error|exception|traceback|fatal|critical|failed)\b/i;
const WARN_RE = /\bwarn(ing)?\b/i;

function refreshLogServices() {
  const select = $("log-service");
  const names = Object.keys(state.status);
  if (select.dataset.names === names.join(",")) return;
  select.dataset.names = names.join(",");
  const keep = select.value;
  select.replaceChildren(el("option", {value: ""}, "all services"), ...names.map(n => el("option", {value: n}, n)));
  select.value = names.includes(keep) ? keep : "";
}

function lineNode(x) {
  const cls = ERROR_RE.test(x.text) ? "line err" : WARN_RE.test(x.text) ? "line warn" : "line";
  return el("div", {class: cls, "data-seq": String(x.seq), "data-service": x.service},
            el("span", {class: "svc"}, `${x.service} │ `), el("span", {class: "text"}, x.text));
}

function addLines(lines) {
  const box = $("log");
  for (const x of lines) {
    if (state.logSeqs.has(x.seq)) continue;
    state.logSeqs.add(x.seq);
    const node = lineNode(x);
    applyFilter(node);
    if (x.seq > state.lastSeq) { box.append(node); state.lastSeq = x.seq; }
    else {  // an older line (history fetched after the stream started): keep the order by seq
      let next = box.firstChild;
      while (next && Number(next.dataset.seq) < x.seq) next = next.nextSibling;
      box.insertBefore(node, next);
    }
  }
  while (box.childElementCount > LOG_LIMIT) { state.logSeqs.delete(Number(box.firstChild.dataset.seq)); box.firstChild.remove(); }
  updateCount();
  if (following()) box.scrollTop = box.scrollHeight;
}

// Follow pauses while text is selected in the pane: new lines still arrive, nothing scrolls away.
function following() {
  const sel = document.getSelection();
  const selecting = sel && !sel.isCollapsed && $("log").contains(sel.anchorNode);
  return $("log-follow").checked && !selecting;
}

function matcher() {
  const q = $("log-search").value;
  if (!q) return null;
  const m = /^\/(.+)\/([a-z]*)$/.exec(q);
  if (m) { try { return new RegExp(m[1], m[2].includes("i") ? "i" : ""); } catch { /* as plain text */ } }
  const lower = q.toLowerCase();
  return {test: s => s.toLowerCase().includes(lower)};
}

let currentMatcher = null;
function applyFilter(node) {
  const service = $("log-service").value;
  const text = node.lastChild.textContent;
  const show = (!service || node.dataset.service === service) && (!$("log-errors").checked || node.classList.contains("err"))
    && (!currentMatcher || currentMatcher.test(text));
  node.hidden = !show;
  node.classList.toggle("match", Boolean(currentMatcher) && show);
}

function refilter() {
  currentMatcher = matcher();
  for (const node of $("log").children) applyFilter(node);
  updateCount();
  if (following()) $("log").scrollTop = $("log").scrollHeight;
}

function updateCount() {
  const total = $("log").childElementCount;
  const shown = $("log").querySelectorAll(".line:not([hidden])").length;
  setText($("log-count"), currentMatcher ? `${shown} matching of ${total} lines` : `${shown} of ${total} lines`);
}

async function fetchLogs(service) {
  try {
    const r = await fetch(service ? `/api/logs/${encodeURIComponent(service)}?n=2000` : "/api/logs?n=2000");
    if (r.ok) addLines((await r.json()).entries || []);
  } catch { /* the stream carries on; history can be fetched again */ }
}

function selectLogService() {
  const service = $("log-service").value;
  const link = $("log-file");
  link.hidden = !service;
  if (service) link.href = `/api/logs/${encodeURIComponent(service)}/file`;
  refilter();
  if (service) fetchLogs(service);  // more of this one service than the interleaved history holds
}

$("log-service").addEventListener("change", selectLogService);
$("log-search").addEventListener("input", refilter);
$("log-errors").addEventListener("change", refilter);
// Scrolling up to read stops following; scrolling back to the bottom resumes it.
$("log").addEventListener("scroll", () => {
  const box = $("log");
  $("log-follow").checked = box.scrollHeight - box.scrollTop - box.clientHeight < 30;
});
$("log-follow").addEventListener("change", () => { if (following()) $("log").scrollTop = $("log").scrollHeight; });

// --- the stream ---------------------------------------------------------------------------------

function applyStatus(changed, removed = []) {
  const now = Date.now();
  for (const name of removed) delete state.status[name];
  for (const [name, entry] of Object.entries(changed)) { state.status[name] = entry; state.received[name] = now; }
  layoutRows();
}

function applyStack(changes) {
  Object.assign(state.stack, changes);
  renderStack();
  if ("timings" in changes) renderTimings();
}

function connect() {
  const source = new EventSource("/api/events?logs=1");
  source.addEventListener("open", () => { $("live").className = "live on"; setText($("live"), "live"); });
  source.addEventListener("error", () => { $("live").className = "live off"; setText($("live"), "reconnecting…"); });
  source.addEventListener("snapshot", e => {
    const data = JSON.parse(e.data);
    state.stack = {};
    applyStatus(data.status, Object.keys(state.status).filter(n => !(n in data.status)));
    applyStack(data.stack);
    renderTimings();
    for (const name of Object.keys(state.status)) renderService(name);
    if ((data.stack.features || {}).logs) fetchLogs($("log-service").value);
  });
  source.addEventListener("status", e => {
    const data = JSON.parse(e.data);
    applyStatus(data.changed, data.removed);
    for (const name of Object.keys(data.changed)) renderService(name);
  });
  source.addEventListener("stack", e => {
    const changes = JSON.parse(e.data);
    applyStack(changes);
    if ("health" in changes || "features" in changes || "forwards" in changes) for (const name of Object.keys(state.status)) renderService(name);
  });
  source.addEventListener("log", e => addLines(JSON.parse(e.data).lines));
  source.addEventListener("reset", () => { source.close(); setTimeout(connect, 200); });
}

setInterval(() => {
  for (const name of Object.keys(state.status)) tickUptime(name);
  const t = state.stack.timings;
  if (t && t.rounds && t.rounds.some(r => r.figures.total == null && String(r.id) === $("round").value)) renderTimings();
}, 1000);

connect();
