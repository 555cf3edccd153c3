// Map: incidents, series, a group's area over time and where its stolen items went, a stolen item's path, hot
// spot classes, open near-repeat alerts (their zones).
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
  const item = params.get("item");
  const box = CG.el("div", { id: "map", class: "map" });
  const legend = CG.el("div", { class: "legend" });
  const info = CG.el("p", { class: "info", role: "status" });
  view.replaceChildren(CG.el("h1", {}, "Map", CG.el("small", {}, [group && ` group ${group}`, series && ` series ${series}`, item && ` item ${item}`].filter(Boolean).join(""))), info, box, legend);
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
  const far = [];  // items surface in other cities: the view takes them in
  if (group) overlays[`Where ${group}'s stolen items went`] = (await flowLayer(L, group, legend, far)).addTo(m);
  if (item) overlays[`Path of ${item}`] = (await itemLayer(L, item, legend, far)).addTo(m);
  overlays["Near-repeat alerts (open)"] = riskLayer(L, risk, legend).addTo(m);
  L.control.layers(null, overlays, { collapsed: false }).addTo(m);
  const all = areas.items.flatMap((a) => a.ring).concat(points.rows.map((r) => [r[points.columns.indexOf("x")], r[points.columns.indexOf("y")]]));
  const focus = alertId && risk.items[0] && risk.items[0].detail;
  if (focus) m.fitBounds(L.latLngBounds([ll(focus.x - 2 * focus.radius_m, focus.y - 2 * focus.radius_m), ll(focus.x + 2 * focus.radius_m, focus.y + 2 * focus.radius_m)]));
  else if (item && far.length) m.fitBounds(L.latLngBounds(far.map(([x, y]) => ll(x, y))).pad(0.2));
  else if (all.length || far.length) m.fitBounds(L.latLngBounds(all.concat(far).map(([x, y]) => ll(x, y))));
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

const SIGHTING_COLORS = { taken: "#d62728", pawned: "#ff7f0e", sold: "#9467bd", found_on_person: "#1f77b4",
  recovered: "#2ca02c", carrier_report: "#17becf" };

async function itemLayer(L, identifier, legend, far) {
  // The item's path in time order: where it was taken, then each sighting (SVG, so each part is a DOM element).
  const data = await CG.api(`/api/items/${encodeURIComponent(identifier)}`);
  const placed = data.sightings.filter((s) => s.x !== null && s.y !== null);
  far.push(...placed.map((s) => [s.x, s.y]));
  const svg = L.svg();
  const path = placed.map((s) => ll(s.x, s.y));
  const kinds = [...new Set(placed.map((s) => s.sighting_kind))];
  legend.append(CG.el("div", {}, CG.el("strong", {}, `path of ${identifier}: `), kinds.map((k) => swatch(SIGHTING_COLORS[k] || "#555", k)),
    `${placed.length} of ${data.sightings.length} sightings placed`, data.map_note ? CG.el("span", { class: "note" }, ` · ${data.map_note}`) : ""));
  return L.layerGroup([L.polyline(path, { color: "#333", weight: 3, dashArray: "8 6", className: "item-path", renderer: svg }),
    ...placed.map((s, i) => L.circleMarker(path[i], { radius: 7, color: "#000", weight: 1, fillColor: SIGHTING_COLORS[s.sighting_kind] || "#555",
      fillOpacity: 1, className: "item-stop", renderer: svg })
      .bindTooltip(`${i + 1}. ${s.sighting_kind} · ${CG.day(s.occurred_at)} · ${s.place || s.agency}`)
      .bindPopup(() => CG.el("div", {}, `${i + 1}. ${s.sighting_kind} ${CG.day(s.occurred_at)} `,
        s.incident_id ? CG.el("a", { href: `#/incident/${encodeURIComponent(s.agency)}/${encodeURIComponent(s.incident_id)}` }, s.incident_id) : s.sighting)))]);
}

async function flowLayer(L, group, legend, far) {
  // One arrow-like line per sighting of an item taken in the group's incidents: theft -> where it surfaced.
  const data = await CG.api(`/api/groups/${encodeURIComponent(group)}/item-flows`);
  const flows = data.items.filter((f) => f.from.x !== null && f.to.x !== null);
  far.push(...flows.map((f) => [f.to.x, f.to.y]));
  const cities = [...new Set(flows.map((f) => f.city))].sort();
  const color = Object.fromEntries(cities.map((c, i) => [c, OFFENCE_COLORS[(i + 3) % OFFENCE_COLORS.length]]));
  const svg = L.svg();
  if (data.items.length) legend.append(CG.el("div", {}, CG.el("strong", {}, `where ${group}'s stolen items surfaced: `),
    cities.map((c) => swatch(color[c], `${c} (${flows.filter((f) => f.city === c).length})`)), CG.note(data) || ""));
  return L.layerGroup(flows.flatMap((f) => [
    L.polyline([ll(f.from.x, f.from.y), ll(f.to.x, f.to.y)], { color: color[f.city], weight: 2, opacity: 0.7, className: "item-flow", renderer: svg })
      .bindTooltip(`${f.item_id}: taken in ${f.incident_id} (${f.theft_area || "?"}) → ${f.kind} ${CG.day(f.occurred_at)} at ${f.dealer || "?"}, ${f.city}`),
    L.circleMarker(ll(f.to.x, f.to.y), { radius: 4, color: color[f.city], weight: 1, fillOpacity: 0.9, renderer: svg }),
  ]));
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
