"""Link-chart benchmark (issue 9: "smooth at 5,000 nodes"): the web workspace's chart in headless Chromium.

What it does, as an analyst would: `casegraph serve` over a synthetic city of 100,000 incidents (built once by
`casegraph demo`, every stage run, cached in bench/results/demo-100000), sign in, open the link chart (`#/chart`, the
chart fetching /api/graph itself) for a few group selections chosen so the chart holds about 1,000, 2,500 and
5,000 nodes (the API caps the chart at 5,000), plus two rows whose data is INJECTED (marked in the table): a
10-node control (the frame rate of a nearly empty chart, the renderer's floor) and 10,000 nodes (the real
5,000-node answer twice, side by side, because the API cannot return more). For each it measures:

- opening: the /api/graph fetch (resource timing), JSON parse + graph build, sigma's constructor with its first
  draw, the first animation frame after it and the one after that (the chart is drawn at once, on its initial
  rings; the page's thread waits for the WebGL drawing when that frame is committed), then the layout: ForceAtlas2
  runs in a web worker on a copy of the graph and the chart moves once when it is done (`#graph` gets
  `data-layout="N iterations"`). While it runs: the animation frames the page still got, the longest gap between
  two of them, and the page's long tasks (PerformanceObserver 'longtask', over 50 ms); whether the chart's graph
  stayed still until the layout was done, how many nodes moved then and how long that frame took; the time to lay
  out on the page's own thread is only reported if the chart fell back to it (no worker);
- after the layout is done, frame rate while the camera pans and zooms (sigma's camera.animate, 6 s):
  requestAnimationFrame intervals and sigma's own draw time per frame (main-thread JavaScript; the GPU work is not
  in it); above 1,000 nodes the chart hides edges and labels while the camera moves, so these frames are lighter;
- sigma draws per second while the mouse drags the chart and the wheel zooms (real input events through
  Chromium), and how long Chromium takes to handle each mouse move;
- hover a node, click it (the "why" panel), double-click it (expand: /api/graph/expand, the new neighbours placed
  around the node, the next draw). The node is, of the first 12 on screen (biggest first), the one whose
  /api/graph/expand answer adds the most nodes the chart does not show yet: asked from the page beforehand, so the
  double-click's request is the server's second answer to it, as the chart's /api/graph request is.

Nothing in casegraph is changed: the timers wrap library functions (sigma's constructor and render, ForceAtlas2's
worker supervisor and its page-thread fallback) from this script, in the benchmark's page only, and the chart's
own CG.chartState is read. Headless Chromium has no GPU: WebGL runs in SwiftShader (the CPU); the renderer string
is printed, and a real GPU would draw faster. Without WebGL the benchmark says so and exits 2 (no number is made
up). The frame rate is capped by the display rate (60 Hz).

Run: python bench/web/run.py            (or bench/run web; about 3 minutes once the store exists; building
                                          it, the first time, took 2 minutes more on 2 cores)
     python bench/web/run.py --repeat 3 --no-injected --incidents 50000
Results are also written to bench/results/web/web.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from statistics import median
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from bench.common import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    casegraph_cli,
    demo_store,
    free_port,
    percentile,
    signed_in,
)

CACHE = ROOT / "bench" / "results" / "web"
VIEWPORT = {"width": 1400, "height": 900}
PURPOSE = "benchmark: link chart smoothness (issue 9)"
TARGETS = (1000, 2500)  # group selections chosen to come closest to these node counts; then all groups
JANK_MS = 1000 / 30
LAYOUT_WAIT_MS = 60_000  # the chart's own budget is 6 s; past this the layout is reported as never finished
ASK_AT_MOST = 12  # nodes on screen asked /api/graph/expand; the one adding the most is double-clicked

# -- the store and the server ---------------------------------------------------------------------------------


def serve(store: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    """`casegraph serve` over the store, in its own process, signed in with the link it prints; (process, base
    url, the session's headers)."""
    import httpx

    port = free_port()
    log = (CACHE / "server.log").open("w")
    proc = subprocess.Popen(
        [casegraph_cli(), "--store", str(store), "serve", "--port", str(port)],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(1200):
        if proc.poll() is not None:
            raise SystemExit(f"casegraph serve exited: see {CACHE / 'server.log'}")
        try:
            if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                return proc, base, signed_in(base, (CACHE / "server.log").read_text(), PURPOSE)
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.terminate()
    raise SystemExit("casegraph serve did not answer in 120 s")


def api_get(base: str, headers: dict[str, str], path: str, params: Any = None) -> Any:
    import httpx

    response = httpx.get(f"{base}{path}", params=params, headers=headers, timeout=300)
    response.raise_for_status()
    return response.json()


# -- the charts to open -----------------------------------------------------------------------------------------


def plan_runs(
    base: str, token: dict[str, str], injected: bool
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Group selections (G01; G01, G02; ...) whose /api/graph comes closest to each target, then all groups, and
    (if `injected`) the control and doubled charts with their bodies. Asking the API here also warms the server
    for the chart's own request of the same graph."""
    groups = sorted(g["group_id"] for g in api_get(base, token, "/api/groups", {"limit": 100})["items"])
    counts: list[tuple[list[str], int]] = []
    for k in range(1, len(groups)):
        n = len(api_get(base, token, "/api/graph", {"group": groups[:k], "limit": 5000})["nodes"])
        counts.append((groups[:k], n))
        if n >= max(TARGETS) * 1.3:
            break
    plan: list[dict[str, Any]] = []
    for target in TARGETS:
        chosen, n = min(counts, key=lambda c: abs(c[1] - target))
        if all(s["groups"] != chosen for s in plan):
            plan.append({"name": f"~{target:,}", "groups": chosen, "api_nodes": n, "injected": False})
    everything = api_get(base, token, "/api/graph", {"limit": 5000})
    plan.append(
        {
            "name": "all groups",
            "groups": [],
            "api_nodes": len(everything["nodes"]),
            "injected": False,
            "truncated": everything["truncated"],
        }
    )
    if not injected:
        return plan, {}
    small, big = tiny(everything), doubled(everything)
    plan.insert(0, {"name": "control", "groups": [], "api_nodes": len(small["nodes"]), "injected": True})
    name = f"{len(big['nodes']):,}"
    plan.append({"name": name, "groups": [], "api_nodes": len(big["nodes"]), "injected": True})
    return plan, {"control": json.dumps(small), name: json.dumps(big)}


def tiny(data: dict[str, Any], n: int = 10) -> dict[str, Any]:
    keep = {node["id"] for node in data["nodes"][:n]}
    edges = [e for e in data["edges"] if e["source"] in keep and e["target"] in keep]
    return {**data, "nodes": data["nodes"][:n], "edges": edges, "truncated": False, "notes": {}}


def doubled(data: dict[str, Any]) -> dict[str, Any]:
    """The real graph and a copy of it with every id suffixed "~2": twice the nodes and ties, same structure."""
    nodes = data["nodes"] + [{**n, "id": f"{n['id']}~2"} for n in data["nodes"]]
    copies = [
        {**e, "id": f"{e['id']}~2", "source": f"{e['source']}~2", "target": f"{e['target']}~2"}
        for e in data["edges"]
    ]
    return {**data, "nodes": nodes, "edges": data["edges"] + copies, "truncated": False, "notes": {}}


# -- in the page ----------------------------------------------------------------------------------------------

INSTRUMENT = """() => {
  const B = (window.__cgb = { renders: [], inits: [], assigns: [], workers: [], longtasks: [], frames: null });
  const { Sigma, forceAtlas2, FA2Layout } = window.CGV;
  const timed = (obj, name, log) => {
    const f = obj[name];
    obj[name] = function (...args) {
      const t = performance.now();
      try { return f.apply(this, args); } finally { log(t, performance.now(), this, args); }
    };
  };
  const worker = (self) => B.workers.find((w) => w.self === self);
  timed(Sigma.prototype, "render", (s, e) => B.renders.push([s, e]));
  // the chart's fallback when there is no worker: ForceAtlas2 on the page's own thread
  timed(forceAtlas2, "assign", (s, e, _, [g, o]) => B.assigns.push({ start: s, end: e, order: g.order, iterations: o?.iterations }));
  if (FA2Layout) {  // the worker's supervisor: when it starts and is killed, and its message handling on this thread
    timed(FA2Layout.prototype, "start", (s, e, self) => {
      if (!worker(self)) B.workers.push({ self, start: s, order: self.graph.order, messages: 0, message_ms: 0, message_max_ms: 0 });
    });
    timed(FA2Layout.prototype, "handleMessage", (s, e, self) => {
      const w = worker(self);
      if (w) { w.messages += 1; w.message_ms += e - s; w.message_max_ms = Math.max(w.message_max_ms, e - s); }
    });
    timed(FA2Layout.prototype, "kill", (s, e, self) => { const w = worker(self); if (w && w.end === undefined) w.end = s; });
  }
  window.CGV.Sigma = class extends Sigma {  // constructor (WebGL set-up and the first draw)
    constructor(...args) { const t = performance.now(); super(...args); B.inits.push([t, performance.now()]); }
  };
  const lt = new PerformanceObserver((list) => { for (const e of list.getEntries()) B.longtasks.push([e.startTime, e.duration]); });
  lt.observe({ type: "longtask" });
  B.flush = () => { for (const e of lt.takeRecords()) B.longtasks.push([e.startTime, e.duration]); };
  B.nextFrame = () => new Promise((resolve) => requestAnimationFrame(() => resolve(performance.now())));
  B.record = () => {
    const frames = (B.frames = []);
    B.from = performance.now();
    const tick = (t) => { if (B.frames === frames) { frames.push(t); requestAnimationFrame(tick); } };
    requestAnimationFrame(tick);
  };
  B.stop = () => {
    const frames = B.frames || [];
    B.frames = null;
    return { frames, ms: performance.now() - B.from, renders: B.renders.filter(([s]) => s >= B.from).map(([s, e]) => e - s) };
  };
}"""

WEBGL = """() => {
  const gl = document.createElement("canvas").getContext("webgl2") || document.createElement("canvas").getContext("webgl");
  if (!gl) return null;
  const info = gl.getExtension("WEBGL_debug_renderer_info");
  return { version: gl.getParameter(gl.VERSION),
           renderer: info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER),
           vendor: info ? gl.getParameter(info.UNMASKED_VENDOR_WEBGL) : gl.getParameter(gl.VENDOR) };
}"""

OPEN = """async ([hash, waitMs]) => {
  // hash change -> the view ready -> the next animation frame ("first frame": it starts) -> the one after (the first
  // is drawn) -> #graph[data-layout] -> three frames more; animation frames recorded throughout; ms from the hash change.
  const B = window.__cgb;
  for (const list of [B.renders, B.inits, B.assigns, B.workers, B.longtasks]) list.length = 0;
  performance.clearResourceTimings();
  const view = document.getElementById("view");
  const seen = (test) => new Promise((resolve) => {
    const mo = new MutationObserver(() => { if (test()) { mo.disconnect(); resolve(performance.now()); } });
    mo.observe(view, { attributes: true, subtree: true, attributeFilter: ["data-ready", "data-layout"] });
  });
  const ready = seen(() => view.dataset.ready === "chart" || view.dataset.ready === "error");
  const laidOut = seen(() => document.querySelector("#graph[data-layout]"));
  const info = () => view.querySelector(".info")?.textContent ?? null;
  const t0 = performance.now();
  B.record();
  window.location.hash = hash;
  const tReady = await ready;
  const tFrame = await B.nextFrame();
  const tDrawn = await B.nextFrame();
  const error = view.querySelector(".error")?.textContent ?? null;
  const g = error ? null : CG.chartState.graph, r = CG.chartState.renderer;
  const xy = () => g.mapNodes((n, a) => [a.x, a.y]);
  const first = g ? xy() : [], infoFirst = info();
  const tLaid = g ? await Promise.race([laidOut, new Promise((resolve) => setTimeout(() => resolve(null), waitMs))]) : null;
  const rendersThen = B.renders.length;
  for (let i = 0; i < 3; i += 1) await B.nextFrame();
  const rec = B.stop();
  B.flush();
  const rel = (t) => (t == null ? null : t - t0);
  const f = performance.getEntriesByType("resource").find((e) => e.name.includes("/api/graph?"));
  const kinds = {};
  g?.forEachNode((n, a) => { kinds[a.kind] = (kinds[a.kind] || 0) + 1; });
  const box = document.getElementById("graph");
  return {
    ready: rel(tReady), frame: rel(tFrame), drawn: rel(tDrawn), layout_done: rel(tLaid), layout: box?.dataset.layout ?? null,
    fetch: f ? { start: f.startTime - t0, server: f.responseStart - f.requestStart, end: f.responseEnd - t0,
                 bytes: f.encodedBodySize } : null,
    inits: B.inits.map(([s, e]) => [s - t0, e - t0]), renders: B.renders.map(([s, e]) => [s - t0, e - t0]),
    renders_until_layout_done: rendersThen,
    assigns: B.assigns.map((a) => ({ ...a, start: a.start - t0, end: a.end - t0 })),
    workers: B.workers.map(({ self, ...w }) => ({ ...w, start: w.start - t0, end: rel(w.end) })),
    longtasks: B.longtasks.map(([s, d]) => [s - t0, d]), frames: rec.frames.map(rel),
    moved: g ? xy().filter(([x, y], i) => x !== first[i][0] || y !== first[i][1]).length : null,
    error, nodes: g?.order ?? null, edges: g?.size ?? null, kinds,
    drawn_edges: g ? g.filterEdges((e, a) => !CG.chartState.hidden.has(a.kind)).length : null,
    info_first: infoFirst, info: info(),
    hide_on_move: r ? { edges: r.getSetting("hideEdgesOnMove"), labels: r.getSetting("hideLabelsOnMove") } : null,
    canvas: box ? [box.clientWidth, box.clientHeight] : null, dpr: window.devicePixelRatio,
    heap_mb: performance.memory ? performance.memory.usedJSHeapSize / 2 ** 20 : null,
  };
}"""

IDLE = """async (ms) => {
  const B = window.__cgb;
  B.record();
  await new Promise((r) => setTimeout(r, ms));
  return B.stop();
}"""

CAMERA = """async () => {
  const B = window.__cgb;
  const camera = CG.chartState.renderer.getCamera();
  camera.setState({ x: 0.5, y: 0.5, ratio: 1, angle: 0 });
  await B.nextFrame();
  await B.nextFrame();
  B.record();
  const steps = [{ x: 0.35, y: 0.4, ratio: 1 }, { x: 0.35, y: 0.4, ratio: 0.3 }, { x: 0.65, y: 0.6, ratio: 0.3 },
                 { x: 0.5, y: 0.5, ratio: 1.6 }, { x: 0.5, y: 0.5, ratio: 1 }];
  for (const step of steps) await camera.animate(step, { duration: 1200, easing: "quadraticInOut" });
  await B.nextFrame();
  return B.stop();
}"""

PICK = """async ([want, askAtMost]) => {
  // want = a node id: that node where it is now (the open why panel narrows the chart). want = null: close the why
  // panel, centre the camera, ask /api/graph/expand for the first `askAtMost` nodes on screen and on top (biggest
  // first; not the injected copy's "~2" ids, unknown to the API): the one whose answer adds the most nodes.
  const B = window.__cgb, r = CG.chartState.renderer, g = CG.chartState.graph;
  if (want === null) {
    document.getElementById("why").hidden = true;
    r.getCamera().setState({ x: 0.5, y: 0.5, ratio: 1, angle: 0 });
  }
  r.refresh();
  await B.nextFrame();
  await B.nextFrame();
  const box = document.getElementById("graph").getBoundingClientRect();
  const at = (node) => {  // on screen, and on top at its centre (rounded, as mouse events are) and 2 px around it
    const p = r.graphToViewport(g.getNodeAttributes(node)), x = Math.round(p.x), y = Math.round(p.y);
    if (x < 30 || y < 30 || x > box.width - 30 || y > box.height - 30) return null;
    for (const [dx, dy] of [[0, 0], [-2, 0], [2, 0], [0, -2], [0, 2]]) if (r.getNodeAtPosition({ x: x + dx, y: y + dy }) !== node) return null;
    return { node, kind: g.getNodeAttribute(node, "kind"), x: box.left + x, y: box.top + y };
  };
  if (want !== null) return at(want);
  const nodes = g.filterNodes((n) => !n.endsWith("~2")).sort((a, b) => g.getNodeAttribute(b, "size") - g.getNodeAttribute(a, "size"));
  let asked = 0, best = null;
  for (const node of nodes) {
    const hit = at(node);
    if (!hit) continue;
    const more = await CG.api(`/api/graph/expand${CG.qs({ node, limit: 500 })}`);
    const fresh = more.nodes.filter((m) => !g.hasNode(m.id)).length;
    if (!best || fresh > best.fresh) best = { ...hit, fresh };
    if ((asked += 1) >= askAtMost) break;
  }
  return best && { ...best, asked };
}"""

ARM_HOVER = """() => {
  const B = window.__cgb;
  const h = (B.hover = {});
  document.getElementById("graph").addEventListener("mousemove", (e) => { h.move ??= e.timeStamp; }, { capture: true });
  const r = CG.chartState.renderer;
  const onEnter = ({ node }) => {
    r.off("enterNode", onEnter);
    h.enter = performance.now();
    h.node = node;
    requestAnimationFrame(() => requestAnimationFrame(() => { h.painted = performance.now(); }));
  };
  r.on("enterNode", onEnter);
}"""

ARM_CLICK = """() => {
  const B = window.__cgb;
  const c = (B.click = {});
  const why = document.getElementById("why");
  why.hidden = true;
  document.getElementById("graph").addEventListener("mousedown", (e) => { c.down ??= e.timeStamp; }, { capture: true });
  const mo = new MutationObserver(() => {
    if (why.hidden || c.shown) return;
    c.shown = performance.now();
    c.title = document.querySelector("#why-body h2")?.textContent ?? null;
    mo.disconnect();
    requestAnimationFrame(() => requestAnimationFrame(() => { c.painted = performance.now(); }));
  });
  mo.observe(why, { attributes: true, attributeFilter: ["hidden"] });
}"""

ARM_EXPAND = """() => {
  // the second click of the double-click (the one sigma expands on), the last node or tie added, sigma's first draw
  // after it and the animation frame after that draw (the page's thread waits for the WebGL drawing in between);
  // every position before, to count the nodes already drawn that moved
  const B = window.__cgb, g = CG.chartState.graph;
  const x = (B.expand = { order: g.order, size: g.size, xy: new Map(g.mapNodes((n, a) => [n, [a.x, a.y]])) });
  performance.clearResourceTimings();
  const changed = () => { x.changed = performance.now(); };
  g.on("nodeAdded", changed);
  g.on("edgeAdded", changed);
  document.getElementById("graph").addEventListener("click", (e) => { if (e.detail >= 2) x.dbl ??= e.timeStamp; }, { capture: true });
  const watch = () => {
    x.render = x.changed !== undefined && B.renders.find(([s]) => s >= x.changed);
    if (!x.render) return requestAnimationFrame(watch);
    g.off("nodeAdded", changed);
    g.off("edgeAdded", changed);
    requestAnimationFrame(() => { x.painted = performance.now(); });
  };
  requestAnimationFrame(watch);
}"""

EXPAND_DONE = """() => {
  const B = window.__cgb, x = B.expand, g = CG.chartState.graph;
  if (x.painted === undefined || x.dbl === undefined) return null;
  const f = performance.getEntriesByType("resource").find((e) => e.name.includes("/api/graph/expand"));
  let moved = 0;
  for (const [n, [px, py]] of x.xy) { const a = g.getNodeAttributes(n); if (a.x !== px || a.y !== py) moved += 1; }
  return { total: x.painted - x.dbl, drawn: x.render[1] - x.dbl, fetch: f ? f.responseEnd - f.startTime : null,
           draw: x.render[1] - x.render[0], added_nodes: g.order - x.order, added_edges: g.size - x.size, moved,
           order: x.order };
}"""


# -- measuring ----------------------------------------------------------------------------------------------


def frame_stats(rec: dict[str, Any]) -> dict[str, Any]:
    frames = rec["frames"]
    gaps = [b - a for a, b in itertools.pairwise(frames)]
    span = frames[-1] - frames[0] if len(frames) > 1 else 0.0
    return {
        "frames": len(frames),
        "seconds": round(rec["ms"] / 1000, 2),
        "fps": (len(frames) - 1) / span * 1000 if span else None,
        "frame_p50_ms": median(gaps) if gaps else None,
        "frame_p95_ms": percentile(gaps, 95),
        "frame_max_ms": max(gaps) if gaps else None,
        "over_33ms_share": sum(g > JANK_MS for g in gaps) / len(gaps) if gaps else None,
        "sigma_draws": len(rec["renders"]),
        "draws_per_s": len(rec["renders"]) / (rec["ms"] / 1000) if rec["ms"] else None,
        "draw_p50_ms": median(rec["renders"]) if rec["renders"] else None,
        "draw_p95_ms": percentile(rec["renders"], 95),
    }


def while_laying_out(o: dict[str, Any]) -> dict[str, Any] | None:
    """The page from the first frame drawn to the layout done: the animation frames it got, the longest gap
    between two (from the frame before the window; not the gap after its last frame, which may be the frame that
    draws the moved chart: a frame's time is its start), its long tasks, sigma's draws (none expected: the layout
    works on a copy); then the frame that draws the moved chart (the longest gap from the last frame before the
    layout done)."""
    t1, t2, frames = o["drawn"], o["layout_done"], o["frames"]
    if t2 is None:
        return None
    inside = [f for f in frames if t1 < f <= t2]
    span = [f for f in frames if f <= t1][-1:] + inside
    after = [f for f in frames if f <= t2][-1:] + [f for f in frames if f > t2]
    tasks = [d for s, d in o["longtasks"] if s < t2 and s + d > t1]
    end = o["workers"][0]["end"] if o["workers"] else None
    draw = next((r for r in o["renders"] if end is not None and r[0] >= end), None)
    return {
        "ms": t2 - t1,
        "frames": len(inside),
        "fps": len(inside) / (t2 - t1) * 1000 if t2 > t1 else None,
        "max_gap_ms": max((b - a for a, b in itertools.pairwise(span)), default=None),
        "longtasks": len(tasks),
        "longtask_ms": sum(tasks),
        "longtask_max_ms": max(tasks, default=None),
        "sigma_draws": sum(1 for s, _ in o["renders"][: o["renders_until_layout_done"]] if s > o["frame"]),
        "move_draw_ms": draw[1] - draw[0] if draw else None,
        "move_frame_ms": max((b - a for a, b in itertools.pairwise(after)), default=None),
    }


def sign_in(browser: Any, base: str, headers: dict[str, str]) -> Any:
    """A page in the session the benchmark signed in with (the server's link works once)."""
    context = browser.new_context(viewport=VIEWPORT)
    sid = headers["Cookie"].split("=", 1)[1]
    context.add_cookies([{"name": "cg_session", "value": sid, "url": base}])
    page = context.new_page()
    page.errors = []
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(f"{base}/")
    page.wait_for_selector("#view[data-ready]", timeout=60_000)
    page.evaluate(INSTRUMENT)
    return page


def drag_and_wheel(page: Any, seconds: float = 3.0) -> dict[str, Any]:
    """Real input: drag the chart in a circle for `seconds` (a move every 1/60 s at most), then four wheel zooms.
    Each page.mouse.move returns when Chromium has handled the event: its time is the input latency."""
    page.evaluate("() => { document.getElementById('why').hidden = true; window.__cgb.record(); }")
    box = page.locator("#graph").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    page.mouse.down()
    handled, started = [], time.perf_counter()
    while time.perf_counter() - started < seconds:
        a = 2 * math.pi * len(handled) / 120
        t = time.perf_counter()
        page.mouse.move(cx + 150 * math.sin(a), cy + 100 * (1 - math.cos(a)))
        handled.append((time.perf_counter() - t) * 1000)
        time.sleep(max(0.0, 1 / 60 - (time.perf_counter() - t)))
    page.mouse.up()
    for dy in (-300, -300, 300, 300):
        page.mouse.wheel(0, dy)
        time.sleep(0.4)
    stats = frame_stats(page.evaluate("() => window.__cgb.stop()"))
    return stats | {
        "moves": len(handled),
        "move_p50_ms": median(handled),
        "move_p95_ms": percentile(handled, 95),
    }


def pointer(page: Any) -> dict[str, Any]:
    """Hover, click (the why panel) and double-click (expand) a node whose expansion adds nodes."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    target = page.evaluate(PICK, [None, ASK_AT_MOST])
    if target is None:
        return {"error": "no node on screen to point at"}
    out: dict[str, Any] = {k: target[k] for k in ("node", "kind", "asked", "fresh")}
    page.mouse.move(target["x"] - 60, target["y"] - 60)
    page.wait_for_timeout(300)
    page.evaluate(ARM_HOVER)
    page.mouse.move(target["x"], target["y"])
    page.wait_for_function("() => window.__cgb.hover.painted !== undefined", timeout=30_000)
    h = page.evaluate("() => window.__cgb.hover")
    out |= {
        "hover_ms": h["enter"] - h["move"],
        "hover_painted_ms": h["painted"] - h["move"],
        "hovered": h["node"],
    }
    page.evaluate(ARM_CLICK)
    page.mouse.click(target["x"], target["y"])
    page.wait_for_function("() => window.__cgb.click.painted !== undefined", timeout=30_000)
    c = page.evaluate("() => window.__cgb.click")
    out |= {
        "why_ms": c["shown"] - c["down"],
        "why_painted_ms": c["painted"] - c["down"],
        "why_title": c["title"],
    }
    if not target["fresh"]:
        out["expand"] = {"error": f"not measured: none of the {target['asked']} nodes asked would add a node"}
        return out
    page.wait_for_timeout(800)  # past sigma's double-click window
    again = page.evaluate(PICK, [target["node"], 0])
    if again is None:
        out["expand"] = {"error": f"{target['node']} is not on top after the why panel opened"}
        return out
    page.evaluate(ARM_EXPAND)
    page.mouse.dblclick(again["x"], again["y"])
    try:
        out["expand"] = page.wait_for_function(EXPAND_DONE, timeout=30_000).json_value()
    except PlaywrightTimeout:
        out["expand"] = {"error": "nothing added and drawn within 30 s of the double-click"}
    return out


def measure(
    browser: Any, base: str, token: dict[str, str], sc: dict[str, Any], injected: str | None
) -> dict[str, Any]:
    """Open the chart in a fresh signed-in page (its /api/graph answer replaced by `injected` if given), wait for
    its layout, then idle, camera, drag and pointer measurements on it."""
    page = sign_in(browser, base, token)
    try:
        if injected is not None:
            page.route(
                lambda url: "/api/graph?" in url,
                lambda route: route.fulfill(status=200, content_type="application/json", body=injected),
            )
        query = "&".join(f"group={g}" for g in sc["groups"])
        opened = page.evaluate(OPEN, [f"#/chart{'?' + query if query else ''}", LAYOUT_WAIT_MS])
        result: dict[str, Any] = {"scenario": sc, "open": opened, "laying_out": while_laying_out(opened)}
        if opened["error"] or not opened["nodes"]:
            result["error"] = opened["error"] or "the chart shows no graph"
            return result
        page.wait_for_timeout(500)
        result["idle"] = frame_stats(page.evaluate(IDLE, 1000))
        result["camera"] = frame_stats(page.evaluate(CAMERA))
        result["drag"] = drag_and_wheel(page)
        result["pointer"] = pointer(page)
        result["page_errors"] = list(page.errors)
        return result
    finally:
        page.context.close()


# -- the tables ---------------------------------------------------------------------------------------------


def _ms(v: float | None) -> str:
    return "–" if v is None else f"{v:,.0f}"


def _f(v: float | None, digits: int = 1) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def _name(sc: dict[str, Any]) -> str:
    return sc["name"] + (" INJECTED" if sc["injected"] else "")


def opening_row(r: dict[str, Any]) -> dict[str, str]:
    o, sc, w = r["open"], r["scenario"], r["laying_out"] or {}
    fetch, init = o["fetch"], (o["inits"] or [None])[0]
    iters = (o["layout"] or "").split()[0] if o["layout"] else "–"
    return {
        "chart": _name(sc),
        "groups": ", ".join(sc["groups"]) or "all",
        "nodes": f"{o['nodes']:,}",
        "ties drawn / in graph": f"{o['drawn_edges']:,} / {o['edges']:,}",
        "fetch ms": "injected" if sc["injected"] else _ms(fetch["end"] - fetch["start"] if fetch else None),
        "parse+build ms": _ms(init[0] - fetch["end"] if (fetch and init) else None),
        "sigma init ms": _ms(init[1] - init[0] if init else None),
        "open->first frame ms": _ms(o["frame"]),
        "first frame drawn ms": _ms(o["drawn"]),
        "open->layout done ms": _ms(o["layout_done"]) if o["layout_done"] is not None else "NEVER",
        "iter.": iters + (" PAGE THREAD" if o["assigns"] else ""),
        "frames while laying out": f"{w['frames']} ({_f(w['fps'], 0)} fps)" if w else "–",
        "longest frame gap ms": _ms(w.get("max_gap_ms")),
        "long tasks n / max ms": f"{w['longtasks']} / {_ms(w['longtask_max_ms'])}" if w else "–",
        "move frame ms": _ms(w.get("move_frame_ms")),
        "JS heap MB": _ms(o.get("heap_mb")),
    }


def interacting_row(r: dict[str, Any]) -> dict[str, str]:
    cam, drag, p, hide = r["camera"], r["drag"], r["pointer"], r["open"]["hide_on_move"] or {}
    ex = p.get("expand") or {}
    return {
        "chart": _name(r["scenario"]),
        "nodes": f"{r['open']['nodes']:,}",
        "edges+labels hidden moving": "/".join("yes" if hide.get(k) else "no" for k in ("edges", "labels")),
        "pan/zoom fps": _f(cam["fps"]),
        "frame p50 / p95 ms": f"{_f(cam['frame_p50_ms'])} / {_f(cam['frame_p95_ms'])}",
        "frames >33ms": f"{cam['over_33ms_share']:.0%}" if cam["over_33ms_share"] is not None else "–",
        "sigma draw p50 / p95 ms": f"{_f(cam['draw_p50_ms'])} / {_f(cam['draw_p95_ms'])}",
        "drag draws/s": _f(drag["draws_per_s"]),
        "drag move handled p50 / p95 ms": f"{_ms(drag['move_p50_ms'])} / {_ms(drag['move_p95_ms'])}",
        "hover ms": _ms(p.get("hover_painted_ms")),
        "click->why ms": _ms(p.get("why_painted_ms")),
        "expand ms": "failed" if "error" in ex else _ms(ex.get("total")),
        "+nodes / +ties": "–" if "error" in ex else f"{ex['added_nodes']} / {ex['added_edges']}",
    }


def print_table(rows: list[dict[str, str]]) -> None:
    cols = list(rows[0])
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in cols}
    print("  ".join(c.rjust(widths[c]) for c in cols))
    print("  ".join("-" * widths[c] for c in cols))
    for r in rows:
        print("  ".join(r[c].rjust(widths[c]) for c in cols))


def details(r: dict[str, Any]) -> str:
    """One paragraph per chart: what it said, the layout (worker or page thread), what was pointed at, expand."""
    o, p, w = r["open"], r["pointer"], r["laying_out"]
    ex = p.get("expand") or {}
    f = o["fetch"] if not r["scenario"]["injected"] else None
    lines = [
        f"{_name(r['scenario'])}: chart said {o['info_first']!r} at the first frame, then {o['info']!r}; "
        f"kinds {o['kinds']}"
        + (
            f"; /api/graph {_ms(f['bytes'] / 1024)} KB, server {_ms(f['server'])} ms to first byte"
            if f
            else ""
        )
    ]
    for wk in o["workers"]:
        lines.append(
            f"  worker: ForceAtlas2 on {wk['order']:,} nodes from {_ms(wk['start'])} to {_ms(wk['end'])} ms "
            f"after opening; {wk['messages']} messages handled on the page's thread, "
            f"{_ms(wk['message_ms'])} ms in all, longest {_f(wk['message_max_ms'])} ms"
        )
    for a in o["assigns"]:
        lines.append(
            f"  FALLBACK: ForceAtlas2 ran on the page's thread: {a['iterations']} iterations on "
            f"{a['order']:,} nodes took {_ms(a['end'] - a['start'])} ms (page frozen)"
        )
    if w:
        lines.append(
            f"  while laying out ({_ms(w['ms'])} ms from the first frame drawn): {w['longtasks']} long "
            f"tasks, {_ms(w['longtask_ms'])} ms in all; sigma draws {w['sigma_draws']}; then {o['moved']:,} "
            f"of {o['nodes']:,} nodes moved, sigma's draw {_f(w['move_draw_ms'])} ms, that frame "
            f"{_ms(w['move_frame_ms'])} ms"
        )
    else:
        lines.append(f"  LAYOUT NEVER FINISHED: no data-layout on #graph within {LAYOUT_WAIT_MS // 1000} s")
    lines.append(
        f"  pointed at {p.get('node')} ({p.get('kind')}; /api/graph/expand asked first for {p.get('asked')} "
        f"nodes on screen, this one adds the most: {p.get('fresh')}); hovered {p.get('hovered')}"
        + (" (NOT the node pointed at)" if p.get("hovered") != p.get("node") else "")
        + "; why panel "
        f"{p.get('why_title')!r}; expand: "
        + (
            ex["error"]
            if "error" in ex
            else f"+{ex['added_nodes']} nodes +{ex['added_edges']} ties to {ex['order']:,}, fetch "
            f"{_ms(ex['fetch'])} ms, sigma's draw {_f(ex['draw'])} ms ending {_ms(ex['drawn'])} ms after the click, "
            f"{ex['moved']} nodes already drawn moved"
        )
    )
    if r["page_errors"]:
        lines.append(f"  PAGE ERRORS: {r['page_errors']}")
    return "\n".join(lines)


NOTES = """\
opening: fetch = the chart's /api/graph request to its last byte (the server had answered the same query once
  before); parse+build = fetch end to sigma's constructor (JSON parse + graphology graph + initial ring positions);
  sigma init = sigma's constructor with its first draw's JavaScript; open->first frame = hash change to the first
  animation frame after the view is ready (the chart is drawn on its rings, not laid out yet; the earlier bench's
  "open->first frame" measured the same point); first frame drawn = hash change to the animation frame after that
  one: the page's thread is blocked until Chromium has read the WebGL canvas back (software compositing here), so
  this is when the chart is on screen. open->layout done = hash change to #graph[data-layout] (ForceAtlas2 in a
  web worker on a copy of the graph, 150 iterations below 2,000 nodes, 100 above, stopped at 6 s: iter. = what
  ran; "PAGE THREAD" if the chart fell back to laying out on the page's thread, see the lines below). From the
  first frame drawn to layout done: the animation frames the page got (60 fps = not blocked), the longest gap
  between two animation frames, long tasks (over 50 ms, PerformanceObserver 'longtask'). move frame = the longest
  animation-frame gap from the last frame before the layout done: the frame that draws the moved chart (the page's
  thread waits for it). Ties drawn leave out "incident linked to group" (off by default).
interacting (after the layout is done): edges+labels hidden moving = sigma's hideEdgesOnMove / hideLabelsOnMove
  (the chart sets them above 1,000 nodes); pan/zoom = 6 s of sigma camera.animate (pan, zoom in to labels, pan,
  zoom out); frame = requestAnimationFrame interval; >33ms = share of frames slower than 30 fps; sigma draw =
  render()'s JavaScript time per frame (the WebGL rasterisation happens after it, in the GPU process: here
  SwiftShader on the CPU, and the page's thread waits for it when the frame is committed); drag = 3 s of mouse
  drag (then 4 wheel zooms): sigma draws per second and how long Chromium took to handle each mouse move; hover =
  mousemove to the second animation frame after sigma's enterNode; click->why = mousedown to the second animation
  frame after the why panel opened; expand = the double-click's second click to the animation frame after sigma's
  first draw after the last node or tie added (the new neighbours are placed around the node, nothing is laid out
  again); the node pointed at is, of the first 12 on screen (biggest first), the one whose /api/graph/expand
  answer adds the most nodes, asked beforehand (so the double-click's request is the server's second answer).
INJECTED rows are not the API's answer to the chart: "control" is 10 nodes of a real answer (the frame rate of a
  nearly empty chart: the renderer's floor); the largest is the real all-groups answer twice, side by side (the API
  caps the chart at 5,000 nodes)."""


def report(
    version: str,
    gl: dict[str, Any],
    store: Path,
    n: int,
    load: tuple[float, ...],
    results: list[dict[str, Any]],
) -> None:
    first = results[0]["open"]
    print(
        f"\nLink chart (sigma.js 3 + graphology ForceAtlas2 in a web worker) in headless Chromium {version} over "
        f"`casegraph serve`, store {store.parent.name} ({n:,} incidents, every stage run), viewport "
        f"{VIEWPORT['width']}x{VIEWPORT['height']}, chart canvas {first['canvas'][0]}x{first['canvas'][1]} px, "
        f"devicePixelRatio {first['dpr']}"
    )
    print(f"WebGL: {gl['version']}; renderer: {gl['renderer']} (vendor {gl['vendor']})")
    if "swiftshader" in gl["renderer"].lower():
        print("  -> software rendering on the CPU (no GPU in this headless browser): a real GPU draws faster")
    idle = [r["idle"]["fps"] for r in results if r.get("idle", {}).get("fps")]
    print(
        f"machine: {os.cpu_count()} cores ({platform.machine()}), load average {'/'.join(f'{x:.2f}' for x in load)} "
        f"(1/5/15 min) before the run; idle frame rate with the chart open "
        f"{min(idle, default=0):.0f}-{max(idle, default=0):.0f} fps (the display cap)"
    )
    print("\nopening the chart")
    print_table([opening_row(r) for r in results])
    print("\ninteracting (after the layout is done)")
    print_table([interacting_row(r) for r in results])
    print()
    for r in results:
        print(details(r))
    print()
    print(NOTES)


# -- main ---------------------------------------------------------------------------------------------------


def run_browser(
    base: str, token: dict[str, str], plan: list[dict[str, Any]], bodies: dict[str, str], repeat: int
) -> tuple[str, dict[str, Any] | None, list[dict[str, Any]]]:
    """(Chromium version, WebGL info or None when there is no WebGL, one result per chart opened)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = sign_in(browser, base, token)
            gl = page.evaluate(WEBGL)
            page.context.close()
            results: list[dict[str, Any]] = []
            if gl is None:
                return browser.version, None, results
            for sc, _ in itertools.product(plan, range(repeat)):
                print(f"measuring {_name(sc)} ...", file=sys.stderr, flush=True)
                results.append(
                    measure(browser, base, token, sc, bodies.get(sc["name"]) if sc["injected"] else None)
                )
                if results[-1].get("error"):
                    break
            return browser.version, gl, results
        finally:
            browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--incidents", type=int, default=100_000, help="size of the synthetic city (cached)")
    parser.add_argument("--repeat", type=int, default=1, help="open each chart this many times (fresh page)")
    parser.add_argument(
        "--no-injected", action="store_true", help="skip the injected rows (control, 2 x 5,000)"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    if not CHROMIUM.exists():
        print(f"no Chromium at {CHROMIUM} (apt-get install chromium): nothing measured", file=sys.stderr)
        return 2
    store = demo_store(args.incidents)
    load = os.getloadavg()
    proc, base, token = serve(store)
    try:
        plan, bodies = plan_runs(base, token, not args.no_injected)
        version, gl, results = run_browser(base, token, plan, bodies, args.repeat)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    if gl is None:
        print(
            "WebGL is not available in this headless Chromium: the link chart cannot be drawn; nothing measured",
            file=sys.stderr,
        )
        return 2
    if results and results[-1].get("error"):
        print(f"the chart failed ({_name(results[-1]['scenario'])}): {results[-1]['error']}", file=sys.stderr)
        return 1
    report(version, gl, store, args.incidents, load, results)
    wall = time.perf_counter() - started
    CACHE.mkdir(parents=True, exist_ok=True)
    (CACHE / "web.json").write_text(
        json.dumps(
            {
                "chromium": version,
                "webgl": gl,
                "store": str(store),
                "load": load,
                "wall_s": wall,
                "results": results,
            },
            indent=1,
            default=str,
        )
    )
    print(
        f"\nwall time {wall:.0f} s; load average {'/'.join(f'{x:.2f}' for x in os.getloadavg())} after; "
        f"details in {CACHE / 'web.json'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
