// Link chart: persons, groups and incidents as nodes; typed, weighted ties (WebGL, sigma.js + graphology).
// Click a node for its page and to expand it; click a tie for its score and evidence.
"use strict";

const NODE_COLORS = { group: "#d62728", person: "#1f77b4", incident: "#8c8c8c" };
const EDGE_COLORS = { member: "#5b9bd5", group_tie: "#d62728", involved: "#9467bd", linked: "#bcbd22", attributed: "#d9d9d9", person_tie: "#17becf" };
const EDGE_WORDS = { member: "membership claim", group_tie: "tie between groups", involved: "took part in", linked: "incident link", attributed: "incident linked to group", person_tie: "tie between persons" };

CG.chartState = { hidden: new Set(["attributed"]) };

function addToGraph(graph, data) {
  const n = graph.order;
  data.nodes.forEach((node, i) => {
    if (graph.hasNode(node.id)) return;
    const angle = (2 * Math.PI * (n + i)) / Math.max(8, data.nodes.length + n);
    const radius = node.kind === "group" ? 10 : 40 + Math.random() * 40;
    graph.addNode(node.id, { ...node, label: node.label, x: radius * Math.cos(angle), y: radius * Math.sin(angle),
      size: node.kind === "group" ? 14 : node.kind === "person" ? 5 : 3, color: NODE_COLORS[node.kind] || "#333" });
  });
  for (const edge of data.edges) {
    if (!graph.hasNode(edge.source) || !graph.hasNode(edge.target) || graph.hasEdge(edge.id)) continue;
    const size = edge.kind === "group_tie" ? 2 + Math.min(8, edge.weight) : edge.kind === "linked" ? 1 + 2 * edge.weight : 1;
    graph.addEdgeWithKey(edge.id, edge.source, edge.target, { ...edge, size, color: EDGE_COLORS[edge.kind] || "#999" });
  }
}

function layout(graph, iterations) {
  const { forceAtlas2 } = window.CGV;
  const settings = forceAtlas2.inferSettings(graph);
  forceAtlas2.assign(graph, { iterations, settings: { ...settings, barnesHutOptimize: graph.order > 500 } });
}

function edgeWhy(graph, edge) {
  const e = graph.getEdgeAttributes(edge);
  if (e.kind === "group_tie") return CG.why.tie(e.pair[0], e.pair[1]);
  if (e.kind === "linked") return CG.why.link(e.link_id);
  if (e.kind === "member") return CG.why.claimById(e.claim_id, e.source.slice("person:".length));
  const [kind, key] = e.target.split(/:(.*)/s);
  return CG.why.open(EDGE_WORDS[e.kind] || e.kind, CG.kv([["from", e.source], ["to", e.target], ["tie kind", e.tie_kind], ["shared events", e.events], ["role", e.role], ["via", e.via], ["weight", e.weight]]),
    kind === "incident" ? CG.el("a", { href: `#/incident/${key.split("/").map(encodeURIComponent).join("/")}` }, "open the incident") : null);
}

function nodeWhy(graph, node, expand) {
  const a = graph.getNodeAttributes(node);
  const [kind, key] = node.split(/:(.*)/s);
  const href = kind === "incident" ? `#/incident/${key.split("/").map(encodeURIComponent).join("/")}` : `#/${kind}/${encodeURIComponent(key)}`;
  CG.why.open(`${kind} ${a.label}`, CG.kv([["id", key], ["ties shown", graph.degree(node)], ["offence", a.offence], ["date", a.date && CG.day(a.date)]]),
    CG.el("p", {}, CG.el("a", { href }, `open the ${kind}`), " ", CG.el("button", { type: "button", onclick: () => expand(node) }, "expand")));
}

CG.views.chart = async function chart(view, params) {
  const { Graph, Sigma } = window.CGV || {};
  const groups = params.getAll("group");
  const box = CG.el("div", { id: "graph", class: "graph" });
  const info = CG.el("span", { class: "info", role: "status" });
  const toggles = CG.el("div", { class: "toggles" }, Object.keys(EDGE_COLORS).map((kind) => {
    const input = CG.el("input", { type: "checkbox", checked: !CG.chartState.hidden.has(kind), "data-kind": kind });
    input.addEventListener("change", () => { if (input.checked) CG.chartState.hidden.delete(kind); else CG.chartState.hidden.add(kind); CG.chartState.renderer?.refresh(); });
    const swatch = CG.el("span", { class: "swatch" });
    swatch.style.background = EDGE_COLORS[kind];
    return CG.el("label", {}, input, swatch, EDGE_WORDS[kind]);
  }));
  view.replaceChildren(CG.el("h1", {}, "Link chart", groups.length ? CG.el("small", {}, ` ${groups.join(", ")}`) : ""), toggles, info, box);
  if (!Sigma) return box.replaceChildren(CG.el("p", { class: "error" }, "the chart library is not built (run scripts/setup)"));
  const data = await CG.api(`/api/graph${CG.qs({ group: groups, ...CG.periodParams(), limit: 5000 })}`);
  const notes = Object.entries(data.notes || {}).map(([t, n]) => CG.el("p", { class: "note" }, CG.el("strong", {}, "stage not run: "), `${t}: ${n}`));
  view.insertBefore(CG.el("div", {}, notes), box);
  const graph = new Graph({ multi: false, type: "undirected" });
  addToGraph(graph, data);
  layout(graph, graph.order > 2000 ? 40 : 120);
  let renderer;
  try {
    renderer = new Sigma(graph, box, { enableEdgeEvents: true, labelRenderedSizeThreshold: 6, zIndex: true,
      edgeReducer: (edge, attrs) => (CG.chartState.hidden.has(attrs.kind) ? { ...attrs, hidden: true } : attrs) });
  } catch (error) {
    return box.replaceChildren(CG.el("p", { class: "error" }, `this browser cannot draw the chart (WebGL): ${error.message}`));
  }
  CG.chartState.renderer = renderer;
  CG.chartState.graph = graph;
  CG.cleanup.push(() => { renderer.kill(); CG.chartState.renderer = null; });
  const count = () => { info.textContent = `${graph.order} nodes, ${graph.size} ties${data.truncated ? " (first 5,000 nodes)" : ""}`; };
  const expand = async (node) => {
    const more = await CG.api(`/api/graph/expand${CG.qs({ node, limit: 500 })}`);
    addToGraph(graph, more);
    layout(graph, 30);
    count();
  };
  renderer.on("clickNode", ({ node }) => nodeWhy(graph, node, expand));
  renderer.on("doubleClickNode", ({ node, event }) => { event.preventSigmaDefault(); expand(node); });
  renderer.on("clickEdge", ({ edge }) => edgeWhy(graph, edge));
  CG.chartState.edgeWhy = (edge) => edgeWhy(graph, edge);
  count();
};
