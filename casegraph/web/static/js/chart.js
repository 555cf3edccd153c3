// Link chart: persons, groups and incidents as nodes; typed, weighted ties (WebGL, sigma.js + graphology).
// Click a node for its page and to expand it; click a tie for its score and evidence.
"use strict";

const NODE_COLORS = { group: "#d62728", person: "#1f77b4", incident: "#8c8c8c" };
const EDGE_COLORS = { member: "#5b9bd5", group_tie: "#d62728", involved: "#9467bd", linked: "#bcbd22", attributed: "#d9d9d9", person_tie: "#17becf" };
const WEAK_TIE_COLOR = "#f0c4c4";
const EDGE_WORDS = { member: "membership claim", group_tie: "tie between groups (pale: not significant against chance)", involved: "took part in", linked: "incident link", attributed: "incident linked to group", person_tie: "tie between persons" };

CG.chartState = { hidden: new Set(["attributed"]) };

const LARGE = 1000; // nodes above which edges and labels are hidden while the camera moves (software WebGL)

// New nodes go on a ring: around the whole chart, or around the node being expanded (`anchor`), so an expansion
// adds its neighbours where the analyst is looking instead of moving every node again.
function addToGraph(graph, data, anchor) {
  const fresh = data.nodes.filter((node) => !graph.hasNode(node.id));
  const centre = anchor ? graph.getNodeAttributes(anchor) : { x: 0, y: 0 };
  const reach = anchor ? Math.max(5, spread(graph) / 12) : 0;
  fresh.forEach((node, i) => {
    const angle = (2 * Math.PI * i) / Math.max(8, fresh.length);
    const radius = anchor ? reach * (1 + (i % 3) / 3) : node.kind === "group" ? 10 : 40 + Math.random() * 40;
    graph.addNode(node.id, { ...node, label: node.label, anchor, x: centre.x + radius * Math.cos(angle), y: centre.y + radius * Math.sin(angle),
      size: node.kind === "group" ? 14 : node.kind === "person" ? 5 : 3, color: NODE_COLORS[node.kind] || "#333" });
  });
  for (const edge of data.edges) {
    if (!graph.hasNode(edge.source) || !graph.hasNode(edge.target) || graph.hasEdge(edge.id)) continue;
    // A tie between groups that the null model does not call significant is drawn pale and thin: it is a few
    // shared events, not a finding (its why panel gives the q-value).
    const weak = edge.kind === "group_tie" && edge.significant === false;
    const size = edge.kind === "group_tie" ? (weak ? 1.5 : 2 + Math.min(8, edge.weight)) : edge.kind === "linked" ? 1 + 2 * edge.weight : 1;
    const color = weak ? WEAK_TIE_COLOR : EDGE_COLORS[edge.kind] || "#999";
    graph.addEdgeWithKey(edge.id, edge.source, edge.target, { ...edge, size, color, label: weak ? "not significant" : undefined });
  }
}

function spread(graph) {
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  graph.forEachNode((_, a) => { x0 = Math.min(x0, a.x); x1 = Math.max(x1, a.x); y0 = Math.min(y0, a.y); y1 = Math.max(y1, a.y); });
  return Number.isFinite(x0) ? Math.hypot(x1 - x0, y1 - y0) : 100;
}

function layoutSettings(graph) {
  return { ...window.CGV.forceAtlas2.inferSettings(graph), barnesHutOptimize: graph.order > 500 };
}

// ForceAtlas2 on a copy of the graph in a web worker, so the page stays responsive while it runs (at 5,000 nodes
// the same work on the page's thread froze it for 1.3-1.7 s); the chart moves once, when the layout is done.
// Resolves with the iterations run; without a worker (or if it fails to start) the layout runs on this thread.
function layout(graph, iterations, budgetMs) {
  const { forceAtlas2, FA2Layout } = window.CGV;
  // on this thread, as many iterations as it can afford without freezing the page for seconds
  const here = () => {
    const affordable = Math.min(iterations, graph.order > 2000 ? 40 : 120);
    forceAtlas2.assign(graph, { iterations: affordable, settings: layoutSettings(graph) });
    return affordable;
  };
  if (typeof Worker === "undefined" || !FA2Layout) return Promise.resolve(here());
  const shadow = graph.copy();
  return new Promise((resolve) => {
    let rounds = 0;
    let settled = false;
    const fa2 = new FA2Layout(shadow, { settings: layoutSettings(shadow) });
    const finish = (failed) => {
      if (settled) return;
      settled = true;
      fa2.kill();
      clearTimeout(timer);
      if (failed) return resolve(here());
      // nodes an expand added meanwhile are not in the copy: they keep their place around the node they were
      // expanded from, which moves, scaled as the whole chart was
      const before = {};
      graph.forEachNode((node, a) => { before[node] = [a.x, a.y]; });
      const scale = spread(shadow) / spread(graph);
      graph.updateEachNodeAttributes((node, a) => {
        if (shadow.hasNode(node)) return { ...a, x: shadow.getNodeAttribute(node, "x"), y: shadow.getNodeAttribute(node, "y") };
        let from = a.anchor;
        while (from && !shadow.hasNode(from)) from = graph.getNodeAttribute(from, "anchor");
        if (!from) return a;
        const [x0, y0] = before[from];
        return { ...a, x: shadow.getNodeAttribute(from, "x") + (a.x - x0) * scale, y: shadow.getNodeAttribute(from, "y") + (a.y - y0) * scale };
      }, { attributes: ["x", "y"] });
      resolve(rounds);
    };
    // the event fires inside the supervisor's message handler: stop now, kill after the handler has returned
    shadow.on("eachNodeAttributesUpdated", () => { rounds += 1; if (rounds >= iterations) { fa2.stop(); setTimeout(() => finish(false)); } });
    fa2.worker.addEventListener("error", () => finish(true));
    const timer = setTimeout(() => finish(false), budgetMs);
    CG.cleanup.push(() => { settled = true; fa2.kill(); clearTimeout(timer); });
    fa2.start();
  });
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
  const large = graph.order > LARGE;
  let renderer;
  try {
    renderer = new Sigma(graph, box, { enableEdgeEvents: true, labelRenderedSizeThreshold: 6, zIndex: true,
      hideEdgesOnMove: large, hideLabelsOnMove: large,
      edgeReducer: (edge, attrs) => (CG.chartState.hidden.has(attrs.kind) ? { ...attrs, hidden: true } : attrs) });
  } catch (error) {
    return box.replaceChildren(CG.el("p", { class: "error" }, `this browser cannot draw the chart (WebGL): ${error.message}`));
  }
  CG.chartState.renderer = renderer;
  CG.chartState.graph = graph;
  CG.cleanup.push(() => { renderer.kill(); CG.chartState.renderer = null; });
  let state = "laying out";
  const count = () => {
    info.textContent = `${graph.order} nodes, ${graph.size} ties${data.truncated ? " (first 5,000 nodes)" : ""}${state ? ` (${state})` : ""}`;
  };
  const expand = async (node) => {
    const more = await CG.api(`/api/graph/expand${CG.qs({ node, limit: 500 })}`);
    addToGraph(graph, more, node);
    count();
  };
  renderer.on("clickNode", ({ node }) => nodeWhy(graph, node, expand));
  renderer.on("doubleClickNode", ({ node, event }) => { event.preventSigmaDefault(); expand(node); });
  renderer.on("clickEdge", ({ edge }) => edgeWhy(graph, edge));
  CG.chartState.edgeWhy = (edge) => edgeWhy(graph, edge);
  count();
  CG.chartState.laidOut = layout(graph, graph.order > 2000 ? 100 : 150, 6000).then((rounds) => {
    state = "";
    box.dataset.layout = `${rounds} iterations`;
    count();
    return rounds;
  });
};
