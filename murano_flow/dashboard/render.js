// What the dashboard and a report draw alike, from a deployment's nodes and events:
// the graph coloured by state, a timeline of every action per host, the failures.
// Text from actions and hosts is always set as text, never as markup.
"use strict";

const MF = {};

MF.el = function (tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k.startsWith("data-")) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const c of children) node.append(c instanceof Node ? c : String(c));
  return node;
};

MF.time = function (ts) {
  return ts ? new Date(ts * 1000).toLocaleTimeString() : "";
};

// The SVG laid out by the server, its nodes coloured by status (class st-STATUS).
MF.colour = function (svgRoot, statuses) {
  for (const g of svgRoot.querySelectorAll("g.node")) {
    const status = statuses[g.id];
    if (status === undefined) continue;
    g.setAttribute("class", "node st-" + status);
    g.setAttribute("data-status", status);
  }
};

MF.placeSvg = function (container, svgText, statuses) {
  const doc = new DOMParser().parseFromString(svgText, "image/svg+xml");
  const svg = document.importNode(doc.documentElement, true);
  for (const s of svg.querySelectorAll("script, foreignObject")) s.remove();
  container.replaceChildren(svg);
  MF.colour(svg, statuses);
  return svg;
};

// Segments of the timeline: each attempt (running), undo (undoing) or wait, per node,
// from the event that starts it to the next event of that node.
const STARTS = { running: "run", undoing: "undo", waiting: "wait" };

MF.segments = function (events) {
  const open = {}, out = [];
  for (const e of events) {
    if (!e.node) continue;
    const current = open[e.node];
    if (current) { current.end = e.ts; current.outcome = e.status; delete open[e.node]; }
    if (STARTS[e.kind]) {
      const seg = { node: e.node, kind: STARTS[e.kind], attempt: e.attempt, start: e.ts,
                    end: null, outcome: "" };
      open[e.node] = seg;
      out.push(seg);
    }
  }
  return out;
};

MF.timeline = function (container, nodes, events, now) {
  const segs = MF.segments(events);
  const hosts = {};
  for (const n of nodes) hosts[n.name] = n.host || "(no host)";
  if (!segs.length) { container.replaceChildren(MF.el("p", {}, "nothing has run yet")); return; }
  const t0 = Math.min(...segs.map(s => s.start));
  const t1 = Math.max(now, ...segs.map(s => s.end || now));
  const span = Math.max(t1 - t0, 0.001);
  const rows = {};
  for (const s of segs) (rows[hosts[s.node] || "(no host)"] ||= []).push(s);
  const table = MF.el("div", { class: "gantt" });
  for (const host of Object.keys(rows).sort()) {
    const lane = MF.el("div", { class: "lane" });
    for (const s of rows[host]) {
      const end = s.end || now;
      const bar = MF.el("div", {
        class: `bar ${s.kind} out-${s.outcome || "open"}${s.attempt > 1 ? " retry" : ""}`,
        title: `${s.node} ${s.kind} attempt ${s.attempt}: ${(end - s.start).toFixed(2)} s` +
               (s.outcome ? ` (${s.outcome})` : " (going on)"),
        "data-node": s.node,
      });
      bar.style.left = `${(100 * (s.start - t0)) / span}%`;
      bar.style.width = `${Math.max((100 * (end - s.start)) / span, 0.4)}%`;
      lane.append(bar);
    }
    table.append(MF.el("div", { class: "row" }, MF.el("div", { class: "host" }, host), lane));
  }
  table.append(MF.el("div", { class: "scale" }, `0 s`, MF.el("span", {}, `${span.toFixed(1)} s`)));
  container.replaceChildren(table);
};

MF.failures = function (container, nodes) {
  const failed = nodes.filter(n => ["failed", "undo_failed", "in_doubt"].includes(n.status));
  if (!failed.length) { container.replaceChildren(MF.el("p", {}, "no failure")); return; }
  container.replaceChildren(...failed.map(n => MF.el("div", { class: "failure" },
    MF.el("h3", {}, `${n.name} — ${n.status}${n.host ? " on " + n.host : ""}`),
    MF.el("p", {}, n.reason || ""),
    ...(n.stderr_tail ? [MF.el("pre", { class: "stderr" }, n.stderr_tail)] : []),
    ...(n.stdout_tail ? [MF.el("pre", { class: "stdout" }, n.stdout_tail)] : []))));
};

MF.eventRow = function (e) {
  return MF.el("tr", { "data-seq": String(e.seq) },
    MF.el("td", {}, MF.time(e.ts)), MF.el("td", {}, e.kind), MF.el("td", {}, e.node || ""),
    MF.el("td", {}, e.status), MF.el("td", {}, e.message));
};
