// A report: the dashboard's drawings from the data embedded in the file, nothing fetched.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const data = JSON.parse(document.getElementById("mf-data").textContent);
  const dep = data.deployment, $ = (sel) => document.querySelector(sel);
  $("#dep-id").textContent = dep.id;
  $("#dep-blueprint").textContent = dep.stored
    ? `${dep.blueprint} version ${dep.stored.version}` : dep.blueprint;
  $("#dep-state").textContent = dep.state;
  $("#dep-state").className = `st-${dep.state}`;
  $("#dep-reason").textContent = dep.reason;
  const statuses = Object.fromEntries(data.nodes.map(n => [n.name, n.status]));
  if (data.svg) MF.placeSvg($("#graph"), data.svg, statuses);
  else $("#graph").textContent = data.graph_note;
  const last = data.events.length ? data.events[data.events.length - 1].ts : dep.updated;
  MF.timeline($("#timeline"), data.nodes, data.events, last);
  MF.failures($("#failures"), data.nodes);
  $("#events tbody").replaceChildren(...data.events.slice().reverse().map(MF.eventRow));
  $("#generated").textContent = `${data.events.length} events; state as of ` +
    new Date(dep.updated * 1000).toISOString();
});
