// The dashboard: deployments, and per deployment its live graph, timeline, events and
// failures, with the operator's buttons. The token stays in this tab's session storage
// and goes in the Authorization header, never in a cookie.
"use strict";

const state = { token: sessionStorage.getItem("mf-token") || "", stop: null };
const $ = (sel) => document.querySelector(sel);

function headers(extra) {
  return { Authorization: `Bearer ${state.token}`, ...(extra || {}) };
}

async function api(method, path, body) {
  const r = await fetch(path, {
    method, headers: headers(body === undefined ? {} : { "Content-Type": "application/json" }),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (r.status === 401) { logout("the token was refused: give a valid one"); throw new Error("401"); }
  const type = r.headers.get("content-type") || "";
  const data = type.includes("json") ? await r.json() : await r.text();
  if (!r.ok) throw Object.assign(new Error(data.detail || r.statusText), { problem: data });
  return data;
}

function say(text, bad) {
  const box = $("#message");
  box.textContent = text;
  box.className = bad ? "bad" : "good";
}

function logout(why) {
  sessionStorage.removeItem("mf-token");
  state.token = "";
  show();
  if (why) say(why, true);
}

// Server-Sent Events over fetch (EventSource cannot send the token): resumes after the
// last event seen whenever the connection drops, on whichever server answers.
async function follow(path, after, onEvent, signal) {
  while (!signal.aborted) {
    try {
      const r = await fetch(`${path}?after=${after}`, { headers: headers(), signal });
      if (r.status === 401) { logout("the token was refused"); return; }
      if (!r.ok) throw new Error(String(r.status));
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const data = buffer.slice(0, cut).split("\n").filter(l => l.startsWith("data:"))
            .map(l => l.slice(5).trimStart()).join("\n");
          buffer = buffer.slice(cut + 2);
          if (data) { const e = JSON.parse(data); after = e.seq; onEvent(e); }
        }
      }
    } catch (err) {
      if (signal.aborted) return;
    }
    $("#live").textContent = "reconnecting…";
    await new Promise(done => setTimeout(done, 1000));
  }
}

async function listView() {
  const controller = new AbortController();
  state.stop = () => controller.abort();
  await listDeployments();
  const blueprints = await api("GET", "/v1/blueprints");
  $("#new-blueprint").replaceChildren(...blueprints.map(b =>
    MF.el("option", { value: b.name }, `${b.name} (version ${b.version})`)));
  const newest = (await (await fetch("/healthz")).json()).newest_event;
  let queued = null;  // at most one refresh a second, however many events come
  follow("/v1/events/stream", newest, () => {
    queued ||= setTimeout(() => { queued = null; listDeployments(); }, 1000);
  }, controller.signal);
}

async function listDeployments() {
  const deps = await api("GET", "/v1/deployments");
  const rows = deps.map(d => MF.el("tr", { "data-id": d.id },
    MF.el("td", {}, MF.el("a", { href: `#/d/${encodeURIComponent(d.id)}` }, d.id)),
    MF.el("td", {}, d.blueprint), MF.el("td", { class: `st-${d.state}` }, d.state),
    MF.el("td", {}, MF.time(d.updated)), MF.el("td", {}, d.reason)));
  $("#deployments tbody").replaceChildren(...rows);
}

async function create(event) {
  event.preventDefault();
  let params;
  try { params = JSON.parse($("#new-params").value || "{}"); }
  catch (err) { say(`parameters: not JSON (${err.message})`, true); return; }
  const body = { blueprint: $("#new-blueprint").value, params };
  if ($("#new-id").value) body.id = $("#new-id").value;
  try {
    const done = await api("POST", "/v1/deployments", body);
    say(done.message);
    location.hash = `#/d/${encodeURIComponent(done.deployment)}`;
  } catch (err) { say(err.message, true); }
}

async function deploymentView(id) {
  const controller = new AbortController();
  state.stop = () => controller.abort();
  const dep = await api("GET", `/v1/deployments/${encodeURIComponent(id)}`);
  const nodes = Object.fromEntries(dep.nodes.map(n => [n.name, n]));
  const events = [];
  $("#dep-id").textContent = dep.id;
  $("#dep-blueprint").textContent = dep.stored ? `${dep.blueprint} version ${dep.stored.version}`
    : dep.blueprint;
  $("#events tbody").replaceChildren();
  const statuses = () => Object.fromEntries(Object.values(nodes).map(n => [n.name, n.status]));
  let svg = null;
  try {
    svg = MF.placeSvg($("#graph"), await api("GET", `/v1/deployments/${encodeURIComponent(id)}/graph`),
                      statuses());
  } catch (err) { $("#graph").textContent = `no graph: ${err.message}`; }
  const redraw = () => {
    $("#dep-state").textContent = dep.state;
    $("#dep-state").className = `st-${dep.state}`;
    if (svg) MF.colour(svg, statuses());
    MF.timeline($("#timeline"), Object.values(nodes), events, Date.now() / 1000);
    MF.failures($("#failures"), Object.values(nodes));
  };
  redraw();
  $("#live").textContent = "following";
  const path = `/v1/deployments/${encodeURIComponent(id)}/events/stream`;
  let pending = false;
  follow(path, 0, (e) => {
    events.push(e);
    $("#events tbody").prepend(MF.eventRow(e));
    $("#live").textContent = "following";
    if (e.node && nodes[e.node]) nodes[e.node].status = e.status;
    if (e.kind === "deployment") dep.state = e.status;
    if (e.kind === "failed" || e.kind === "deployment") refreshNodes();
    if (!pending) { pending = true; requestAnimationFrame(() => { pending = false; redraw(); }); }
  }, controller.signal);

  async function refreshNodes() {  // reasons and log tails come with the node rows
    const fresh = await api("GET", `/v1/deployments/${encodeURIComponent(id)}`);
    for (const n of fresh.nodes) nodes[n.name] = n;
    dep.state = fresh.state;
    redraw();
  }
}

async function operate(what) {
  const id = $("#dep-id").textContent;
  const body = what === "signal" ? signalBody() : {};
  if (body === null) return;
  try {
    const done = await api("POST", `/v1/deployments/${encodeURIComponent(id)}/${what}`, body);
    say(done.message);
  } catch (err) { say(err.message, true); }
}

function signalBody() {
  const stateName = $("#signal-state").value;
  try { return { state: stateName, data: JSON.parse($("#signal-data").value || "{}") }; }
  catch (err) { say(`signal data: not JSON (${err.message})`, true); return null; }
}

async function show() {
  if (state.stop) { state.stop(); state.stop = null; }
  const match = location.hash.match(/^#\/d\/(.+)$/);
  $("#login").hidden = Boolean(state.token);
  $("#list").hidden = !state.token || Boolean(match);
  $("#deployment").hidden = !state.token || !match;
  if (!state.token) return;
  try {
    if (match) await deploymentView(decodeURIComponent(match[1]));
    else await listView();
  } catch (err) { if (err.message !== "401") say(err.message, true); }
}

document.addEventListener("DOMContentLoaded", () => {
  $("#login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    state.token = $("#token").value.trim();
    sessionStorage.setItem("mf-token", state.token);
    $("#token").value = "";
    show();
  });
  $("#logout").addEventListener("click", () => logout(""));
  $("#new-form").addEventListener("submit", create);
  for (const what of ["pause", "resume", "cancel", "rollback", "signal"]) {
    $(`#${what}`).addEventListener("click", () => operate(what));
  }
  window.addEventListener("hashchange", show);
  show();
});
