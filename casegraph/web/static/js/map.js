// Map: incidents, series, a group's area over time, hot spot classes, open near-repeat alerts (their zones).
// Offline: no tile server; the plain background carries area boundaries derived from the data. Coordinates
// are the store's projected metres (a circle's radius too: the CRS is Simple).
"use strict";

const OFFENCE_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"];
const HOT_COLORS = { "new hot spot": "#ff0000", "consecutive hot spot": "#ff6a00", "intensifying hot spot": "#b30000",
  "persistent hot spot": "#7f0000", "diminishing hot spot": "#ff9e9e", "sporadic hot spot": "#ffc000", "oscillating hot spot": "#ff5fc8",
  "historical hot spot": "#996633", "new cold spot": "#0050ff", "consecutive cold spot": "#3a7bff", "persistent cold spot": "#002d8f",
  "sporadic cold spot": "#7fb2ff" };
const ll = (x, y) => window.CGV.L.latLng(y, x);

CG.views.map = async function map(view, params) {
  const L = window.CGV && window.CGV.L;
  const group = params.get("group");
  const series = params.get("series");
  const alertId = params.get("alert");
  const box = CG.el("div", { id: "map", class: "map" });
  const legend = CG.el("div", { class: "legend" });
  const info = CG.el("p", { class: "info", role: "status" });
  view.replaceChildren(CG.el("h1", {}, "Map", CG.el("small", {}, [group && ` group ${group}`, series && ` series ${series}`].filter(Boolean).join(""))), info, box, legend);
  if (!L) return box.replaceChildren(CG.el("p", { class: "error" }, "the map library is not built (run scripts/setup)"));
  const m = L.map(box, { crs: L.CRS.Simple, minZoom: -8, maxZoom: 4, preferCanvas: true, attributionControl: false });
  CG.cleanup.push(() => m.remove());
  CG.mapState = { map: m };
  const renderer = L.canvas({ padding: 0.5 });
  const [areas, points, hot, risk] = await Promise.all([
    CG.api("/api/map/areas"),
    CG.api(`/api/map/points${CG.qs({ group, series, ...CG.periodParams(), limit: 20000 })}`),
    CG.api("/api/hotspots"),
    alertId ? CG.api(`/api/alerts/${encodeURIComponent(alertId)}`).then((a) => ({ items: [a] }))
      : CG.api(`/api/alerts${CG.qs({ kind: "near_repeat", status: "open", limit: 500 })}`),
  ]);
  const overlays = {};
  overlays["Area boundaries (from the data)"] = L.layerGroup(areas.items.map((a) => L.polygon(a.ring.map(([x, y]) => ll(x, y)),
    { color: "#888", weight: 1, fill: true, fillColor: "#f2f2f2", fillOpacity: 0.6, renderer })
    .bindTooltip(a.area, { permanent: true, direction: "center", className: "area-label" }))).addTo(m);  // "reached D07" is findable
  overlays.Incidents = incidentLayer(L, points, renderer, legend).addTo(m);
  overlays["Hot spot classes"] = hotLayer(L, hot, renderer, legend);
  if (!group && !series) overlays["Hot spot classes"].addTo(m);
  if (group) overlays[`Area of ${group} over time`] = (await groupAreaLayer(L, group, renderer, legend)).addTo(m);
  if (series) overlays[`Series ${series}`] = (await seriesLayer(L, series)).addTo(m);
  overlays["Near-repeat alerts (open)"] = riskLayer(L, risk, legend).addTo(m);
  L.control.layers(null, overlays, { collapsed: false }).addTo(m);
  const all = areas.items.flatMap((a) => a.ring).concat(points.rows.map((r) => [r[points.columns.indexOf("x")], r[points.columns.indexOf("y")]]));
  const focus = alertId && risk.items[0] && risk.items[0].detail;
  if (focus) m.fitBounds(L.latLngBounds([ll(focus.x - 2 * focus.radius_m, focus.y - 2 * focus.radius_m), ll(focus.x + 2 * focus.radius_m, focus.y + 2 * focus.radius_m)]));
  else if (all.length) m.fitBounds(L.latLngBounds(all.map(([x, y]) => ll(x, y))));
  else m.setView([0, 0], 0);
  info.replaceChildren(CG.note(points) || "", `${points.shown || 0} of ${points.total || 0} incidents shown`,
    hot.note ? CG.el("span", { class: "note" }, ` · hot spots: ${hot.status}: ${hot.note}`) : "");
};

function incidentLayer(L, points, renderer, legend) {
  const col = Object.fromEntries(points.columns.map((c, i) => [c, i]));
  const offences = [...new Set(points.rows.map((r) => r[col.offence]))].sort();
  const color = Object.fromEntries(offences.map((o, i) => [o, OFFENCE_COLORS[i % OFFENCE_COLORS.length]]));
  legend.append(CG.el("div", {}, CG.el("strong", {}, "offences: "), offences.map((o) => swatch(color[o], o))));
  return L.layerGroup(points.rows.map((r) => L.circleMarker(ll(r[col.x], r[col.y]), { radius: 3, weight: 0, fillOpacity: 0.75,
    fillColor: color[r[col.offence]], renderer }).bindPopup(() => CG.el("div", {},
    CG.el("a", { href: `#/incident/${encodeURIComponent(r[col.agency])}/${encodeURIComponent(r[col.incident_id])}` }, r[col.incident_id]),
    ` ${r[col.offence]} · ${r[col.day]} · ${r[col.area] || ""}`, r[col.series_id] ? [" · ", CG.el("a", { href: `#/series/${encodeURIComponent(r[col.series_id])}` }, r[col.series_id])] : ""))));
}

function hotLayer(L, hot, renderer, legend) {
  const classes = [...new Set(hot.items.map((c) => c.class))];
  if (classes.length) legend.append(CG.el("div", {}, CG.el("strong", {}, "hot spot classes: "), classes.map((c) => swatch(HOT_COLORS[c] || "#999", c))));
  return L.layerGroup(hot.items.map((c) => L.rectangle([ll(c.x - c.cell_m / 2, c.y - c.cell_m / 2), ll(c.x + c.cell_m / 2, c.y + c.cell_m / 2)],
    { weight: 0, fillColor: HOT_COLORS[c.class] || "#999", fillOpacity: 0.45, renderer }).bindTooltip(`${c.class} · ${c.incidents} incidents · last z ${CG.fmt(c.last_z)}`)));
}

function riskLayer(L, risk, legend) {
  // one circle per zone of each alert (a radius and its last day), the widest faintest
  const zones = (risk.items || []).filter((a) => a.detail && a.detail.zone_radius_m).flatMap((a) =>
    a.detail.zone_radius_m.map((r, i) => L.circle(ll(a.detail.x, a.detail.y), { radius: r, color: "#c51b7d", weight: 1,
      fillColor: "#c51b7d", fillOpacity: 0.06 + 0.06 * i })
      .bindTooltip(`${a.title} · within ${r} m until ${a.detail.zone_until[i]}`)
      .on("click", () => { location.hash = `#/alerts/${encodeURIComponent(a.alert_id)}`; })));
  if (zones.length) legend.append(CG.el("div", {}, swatch("#c51b7d", `near-repeat alert zones (${(risk.items || []).length} alerts)`)));
  return L.layerGroup(zones);
}

async function groupAreaLayer(L, group, renderer, legend) {
  // Every quarter's hull at once overlaps into a tangle: the first quarter (dashed) and the latest are drawn, and
  // each quarter in the legend toggles its own hull.
  const data = await CG.api(`/api/groups/${encodeURIComponent(group)}/areas?period=quarter`);
  const n = data.items.length;
  const layer = L.layerGroup();
  const hulls = data.items.map((p, i) => L.polygon(p.ring.map(([x, y]) => ll(x, y)),
    { color: shade(i, n), weight: 2, fillOpacity: 0.08, dashArray: i === 0 && n > 1 ? "6 4" : null, renderer })
    .bindTooltip(`${group} ${CG.day(p.period)}: ${p.incidents} incidents in ${p.areas.join(", ")}`));
  const toggle = (i, item) => {
    if (layer.hasLayer(hulls[i])) layer.removeLayer(hulls[i]); else layer.addLayer(hulls[i]);
    item.classList.toggle("off", !layer.hasLayer(hulls[i]));
  };
  const items = data.items.map((p, i) => {
    const item = swatch(shade(i, n), `${CG.day(p.period)} (${p.incidents}; ${p.areas.join(", ")})`);
    item.classList.add("toggle");
    item.title = "show or hide this quarter's area";
    item.addEventListener("click", () => toggle(i, item));
    if (i === 0 || i === n - 1) layer.addLayer(hulls[i]); else item.classList.add("off");
    return item;
  });
  legend.append(CG.el("div", {}, CG.el("strong", {}, `${group}'s area per quarter (click to show): `), CG.note(data) || "", items));
  return layer;
}

async function seriesLayer(L, series) {
  const data = await CG.api(`/api/series/${encodeURIComponent(series)}`);
  const path = data.members.filter((m) => m.x !== null).map((m) => ll(m.x, m.y));
  return L.layerGroup([L.polyline(path, { color: "#000", weight: 2, dashArray: "4 4" }),
    ...path.map((p, i) => L.circleMarker(p, { radius: 6, color: "#000", fillColor: "#ffeb3b", fillOpacity: 1 }).bindTooltip(`${i + 1}. ${data.members[i].incident_id}`))]);
}

function shade(i, n) {
  const t = n > 1 ? i / (n - 1) : 1;
  return `hsl(${280 - 240 * t}, 70%, ${65 - 25 * t}%)`;
}

function swatch(color, label) {
  const s = CG.el("span", { class: "swatch" });
  s.style.background = color;
  return CG.el("span", { class: "legend-item" }, s, label, " ");
}
