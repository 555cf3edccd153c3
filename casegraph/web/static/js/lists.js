// List and detail views: incidents, series, groups, persons, status.
"use strict";

const incidentHref = (agency, id) => `#/incident/${encodeURIComponent(agency)}/${encodeURIComponent(id)}`;

CG.views.incidents = async function incidents(view, params) {
  const form = CG.el("form", { class: "filters" },
    CG.el("label", {}, "offence ", CG.el("input", { name: "offence", value: params.get("offence") || "" })),
    CG.el("label", {}, "area ", CG.el("input", { name: "area", value: params.get("area") || "" })),
    CG.el("label", {}, "group ", CG.el("input", { name: "group", value: params.get("group") || "" })),
    CG.el("label", {}, "narrative ", CG.el("input", { name: "q", value: params.get("q") || "" })),
    CG.el("button", { type: "submit" }, "filter"),
    CG.el("button", { type: "button", onclick: () => exportCsv(filters()) }, "export CSV…"));
  const out = CG.el("div", {});
  view.replaceChildren(CG.el("h1", {}, "Incidents"), form, out);
  const filters = () => Object.fromEntries(Array.from(new FormData(form)).filter(([, v]) => v));
  form.addEventListener("submit", (e) => { e.preventDefault(); window.location.hash = `#/incidents${CG.qs(filters())}`; });
  const load = async (offset) => {
    const data = await CG.api(`/api/incidents${CG.qs({ ...filters(), ...CG.periodParams(), offset, limit: 50 })}`);
    out.replaceChildren(CG.note(data) || "", CG.pager(data, load) || "", CG.table(data.items, [
      { key: "incident_id", label: "incident", render: (r) => CG.el("a", { href: incidentHref(r.agency, r.incident_id) }, r.incident_id) },
      { key: "agency" }, { key: "offence" }, { key: "occurred_from", label: "from", render: (r) => String(r.occurred_from).replace("T", " ") },
      { key: "area" }, { key: "premises" }, { key: "mo_entry", label: "entry" }, { key: "status" },
    ]));
  };
  await load(0);
};

async function exportCsv(filters) {
  const recipient = window.prompt("Recipient of this export (person, unit, agency):");
  const purpose = recipient && window.prompt("Purpose (need and right to know):");
  if (!recipient || !purpose) return;
  const response = await fetch(`/api/exports/incidents${CG.qs({ ...filters, ...CG.periodParams() })}`, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": CG.state.csrf || "" },
    body: JSON.stringify({ recipient, purpose }),
  });
  if (!response.ok) { window.alert((await response.json()).detail); return; }
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url; link.download = "incidents.csv"; link.click();
  URL.revokeObjectURL(url);
}

CG.views.incident = async function incident(view, params, rest) {
  const [agency, id] = rest;
  const data = await CG.api(`/api/incidents/${encodeURIComponent(id)}${CG.qs({ agency })}`);
  const inc = data.incident;
  const similar = CG.el("div", {}, CG.el("p", {}, "loading similar incidents…"));
  view.replaceChildren(
    CG.el("h1", {}, `Incident ${inc.incident_id}`, CG.el("small", {}, ` ${inc.agency} · ${inc.offence}`)),
    CG.kv([["occurred", `${String(inc.occurred_from).replace("T", " ")} – ${String(inc.occurred_to || "").replace("T", " ")}`],
      ["area", inc.area], ["premises", inc.premises], ["entry", inc.mo_entry], ["target", inc.mo_target], ["weapon", inc.weapon],
      ["property taken", inc.property_taken], ["vehicle", inc.vehicle], ["suspects", inc.suspect_count], ["status", inc.status]]),
    CG.el("h2", {}, "Narrative"), CG.el("p", { class: "narrative" }, inc.narrative || "–"),
    CG.el("h2", {}, "Series"), data.series.length ? CG.el("ul", {}, data.series.map((s) => CG.el("li", {},
      CG.el("a", { href: `#/series/${encodeURIComponent(s.series_id)}` }, s.series_id), ` · ${s.size} incidents · belongs ${CG.fmt(s.confidence)}`)))
      : CG.el("p", {}, data.notes.series || "in no series"),
    CG.el("h2", {}, "Groups linked"), data.groups.length ? CG.table(data.groups, [
      { key: "group_id", label: "group", render: (r) => CG.el("a", { href: `#/group/${encodeURIComponent(r.group_id)}` }, `${r.group_id} ${r.name || ""}`) },
      { key: "via" }, { key: "evidence", label: "why (evidence)" }]) : CG.el("p", {}, data.notes.group_incidents || "linked to no group"),
    CG.el("h2", {}, "People involved"), peopleTable(data.people),
    (data.items || []).length ? CG.el("div", {}, CG.el("h2", {}, "Items taken"), CG.table(data.items, [{ key: "sighting", label: "item" },
      { key: "identifier", label: "identifier (its path)", render: (r) => (r.identifier ? CG.el("a", { href: `#/item/${encodeURIComponent(r.identifier)}` }, r.identifier) : "–") }])) : "",
    CG.el("h2", {}, "Similar incidents"), similar);
  const sim = await CG.api(`/api/incidents/${encodeURIComponent(id)}/similar${CG.qs({ agency, k: 10 })}`);
  similar.replaceChildren(CG.note(sim) || "", CG.table(sim.items, [
    { key: "other_id", label: "incident", render: (r) => CG.el("a", { href: incidentHref(r.other_agency, r.other_id) }, r.other_id) },
    { key: "probability" },
    { key: "why", render: (r) => CG.el("button", { type: "button", onclick: () => CG.why.link(r.link_id) }, "why?") }]));
};

// The people of an incident or contact: role, the record cited (and its agency when another's), name, person.
function peopleTable(people) {
  return CG.table(people, [{ key: "role" },
    { key: "record_id", label: "record", render: (r) => (r.record_agency ? `${r.record_agency}/${r.record_id}` : r.record_id) },
    { key: "name", render: (r) => [r.given_name, r.family_name].filter(Boolean).join(" ") || "(no name recorded)" },
    { key: "person_id", label: "person", render: (r) => CG.personLink(r.person_id, r.person_id ? null : "(record: not resolved)", `${r.record_agency}/${r.record_id}`) }]);
}

CG.views.contact = async function contact(view, params, rest) {
  const [agency, id] = rest;
  const data = await CG.api(`/api/contacts/${encodeURIComponent(id)}${CG.qs({ agency: agency || undefined })}`);
  const c = data.contact;
  view.replaceChildren(
    CG.el("h1", {}, `Contact ${c.contact_id}`, CG.el("small", {}, ` ${c.agency} · ${c.kind}`)),
    CG.kv([["when", String(c.occurred_at).replace("T", " ")], ["area", c.area], ["description", c.description]]),
    CG.el("h2", {}, "People who took part"), peopleTable(data.people));
};

// A stolen item's path: where it was taken, then every sighting of its identifier (pawned, sold, found on a
// person, recovered), oldest first, each with its incident and the seller's or holder's record.
CG.views.item = async function item(view, params, rest) {
  const data = await CG.api(`/api/items/${encodeURIComponent(rest.join("/"))}`);
  view.replaceChildren(CG.el("h1", {}, `Item ${data.identifier}`),
    CG.el("p", {}, `${data.sightings.length} sightings of this identifier, oldest first · `,
      CG.el("a", { href: `#/map${CG.qs({ item: data.identifier })}`, id: "item-on-map" }, "its path on the map")),
    itemTimeline(data.sightings),
    CG.table(data.sightings, [{ key: "occurred_at", label: "when", render: (r) => String(r.occurred_at || "").replace("T", " ") },
      { key: "sighting_kind", label: "what" }, { key: "agency" }, { key: "place", label: "where" },
      { key: "incident_id", label: "incident", render: (r) => (r.incident_id ? CG.el("a", { href: incidentHref(r.agency, r.incident_id) }, r.incident_id) : "–") },
      { key: "record_id", label: "seller or holder", render: (r) => (r.record_id ? CG.personLink(null, `${r.agency}/${r.record_id}`, `${r.agency}/${r.record_id}`) : "–") },
      { key: "sighting", label: "record" }]));
};

// The sightings on a time axis (first to last), one labelled mark each: how long the item took to surface.
function itemTimeline(sightings) {
  const ns = "http://www.w3.org/2000/svg";
  const dated = sightings.filter((s) => s.occurred_at);
  const t = dated.map((s) => Date.parse(String(s.occurred_at).slice(0, 10)));
  const [t0, t1] = [Math.min(...t), Math.max(...t)];
  const width = 760, pad = 70, at = (v) => pad + (t1 > t0 ? ((v - t0) / (t1 - t0)) * (width - 2 * pad) : (width - 2 * pad) / 2);
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "item-timeline");
  svg.setAttribute("viewBox", `0 0 ${width} 70`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "the item's sightings in time");
  const add = (tag, attrs, text) => {
    const node = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    svg.append(node);
    return node;
  };
  add("line", { x1: pad, x2: width - pad, y1: 30, y2: 30, stroke: "#888" });
  dated.forEach((s, i) => {
    const x = at(t[i]);
    add("circle", { cx: x, cy: 30, r: 6, class: `stop ${s.sighting_kind}` }).append(document.createElementNS(ns, "title"));
    svg.lastChild.firstChild.textContent = `${s.sighting_kind} ${CG.day(s.occurred_at)} ${s.place || ""}`;
    add("text", { x, y: i % 2 ? 58 : 14, "text-anchor": "middle", class: "stop-label" }, `${s.sighting_kind} ${CG.day(s.occurred_at)}`);
  });
  return svg;
}

CG.views.series = async function series(view, params, rest) {
  const data = await CG.api(`/api/series/${encodeURIComponent(rest[0])}`);
  view.replaceChildren(CG.el("h1", {}, `Series ${data.series_id}`),
    data.formerly ? CG.el("p", { class: "note" }, `${data.formerly} was merged into ${data.series_id} by a later linkage run`) : "",
    CG.el("p", {}, CG.el("a", { href: `#/map?series=${encodeURIComponent(data.series_id)}` }, "show on the map")),
    CG.table(data.members, [
      { key: "incident_id", label: "incident", render: (r) => CG.el("a", { href: incidentHref(r.agency, r.incident_id) }, r.incident_id) },
      { key: "occurred_from", label: "when", render: (r) => CG.day(r.occurred_from) }, { key: "offence" }, { key: "area" },
      { key: "confidence", label: "belongs" }, { key: "mo_entry", label: "entry" }]),
    CG.el("h2", {}, "Links among its incidents"), CG.table(data.links.slice(0, 100), [
      { key: "pair", render: (r) => `${r.incident_a} ↔ ${r.incident_b}` }, { key: "probability" },
      { key: "why", render: (r) => CG.el("button", { type: "button", onclick: () => CG.why.link(r.link_id) }, "why?") }]));
};

CG.views.groups = async function groups(view) {
  const data = await CG.api("/api/groups");
  view.replaceChildren(CG.el("h1", {}, "Groups"), CG.note(data) || "", CG.table(data.items, [
    { key: "group_id", label: "group", render: (r) => CG.el("a", { href: `#/group/${encodeURIComponent(r.group_id)}` }, `${r.group_id} ${r.name}`) },
    { key: "kind" }, { key: "members" }, { key: "incidents" }, { key: "trend" }, { key: "new_areas", label: "new areas" },
    { key: "views", render: (r) => [CG.el("a", { href: `#/timeline?group=${encodeURIComponent(r.group_id)}` }, "timeline"), " ",
      CG.el("a", { href: `#/map?group=${encodeURIComponent(r.group_id)}` }, "map"), " ",
      CG.el("a", { href: `#/chart?group=${encodeURIComponent(r.group_id)}` }, "chart")] }]));
};

CG.views.group = async function group(view, params, rest) {
  const data = await CG.api(`/api/groups/${encodeURIComponent(rest[0])}`);
  const gid = data.group.group_id;
  const ties = await CG.api(`/api/ties${CG.qs({ group: gid })}`);
  view.replaceChildren(CG.el("h1", {}, `${gid} ${data.group.name}`, CG.el("small", {}, ` ${data.group.kind || ""}`)),
    CG.el("p", {}, data.group.description || ""),
    CG.el("p", {}, CG.el("a", { href: `#/timeline?group=${encodeURIComponent(gid)}` }, "timeline"), " · ",
      CG.el("a", { href: `#/map?group=${encodeURIComponent(gid)}` }, "map"), " · ",
      CG.el("a", { href: `#/chart?group=${encodeURIComponent(gid)}` }, "link chart"), " · ",
      CG.el("a", { href: `#/incidents?group=${encodeURIComponent(gid)}` }, "incidents")),
    CG.el("h2", {}, "Members"), CG.el("p", { class: "hint" }, data.rule),
    CG.table(data.members, [
      { key: "record_id", label: "record", render: (r) => CG.el("a", { href: `#/person/${encodeURIComponent(r.person_id || `${r.agency}/${r.record_id}`)}` }, `${r.agency}/${r.record_id}`) },
      { key: "name", render: (r) => `${r.given_name || ""} ${r.family_name || ""}` }, { key: "criteria", render: (r) => (r.criteria || []).length },
      { key: "evidence", render: (r) => (r.evidence || []).length },
      { key: "why", render: (r) => CG.el("button", { type: "button", onclick: () => CG.why.claim({ ...r, group_id: gid, group_name: data.group.name }) }, "why?") }]),
    CG.el("h2", {}, "Ties to other groups"), CG.note(ties) || "", CG.table(ties.items, [
      { key: "pair", render: (r) => r.pair.join(" ↔ ") }, { key: "strength" }, { key: "p_value", label: "p-value" },
      { key: "onset", render: (r) => CG.day(r.onset) },
      { key: "why", render: (r) => CG.el("button", { type: "button", onclick: () => CG.why.tie(r.pair[0], r.pair[1]) }, "why?") }]),
    CG.el("div", {}, data.trend ? [CG.el("h2", {}, "Growth"), CG.kv([["trend", data.trend.trend], ["Mann-Kendall p", data.trend.mk_p],
      ["change points", data.trend.change_points], ["weekly rate before → after", `${CG.fmt(data.trend.rate_before)} → ${CG.fmt(data.trend.rate_after)}`],
      ["baseline areas", data.trend.baseline_areas], ["new areas", data.trend.new_areas]])] : CG.el("p", { class: "note" }, data.notes.group_trends || "")));
};

CG.views.person = async function person(view, params, rest) {
  const id = rest.join("/");
  const data = await CG.api(`/api/persons/${encodeURIComponent(id)}`);
  const first = data.records[0];
  view.replaceChildren(CG.el("h1", {}, `Person ${data.person_id}`), CG.note(data) || "",
    data.formerly ? CG.el("p", { class: "note" }, `${data.formerly} was merged into ${data.person_id} by a later resolve run`) : "",
    CG.el("h2", {}, "Source records (never merged)"), CG.table(data.records, [
      { key: "record", render: (r) => `${r.agency}/${r.record_id}` }, { key: "given_name", label: "given" }, { key: "family_name", label: "family" },
      { key: "alias" }, { key: "dob" }, { key: "match_weight", label: "match weight" },
      { key: "why", render: (r) => (first && r !== first ? CG.el("button", { type: "button",
        onclick: () => CG.why.identity(data.person_id, `${first.agency}/${first.record_id}`, `${r.agency}/${r.record_id}`) }, `why same as ${first.record_id}?`) : "") }]),
    CG.el("h2", {}, "Membership claims"), CG.table(data.claims, [{ key: "group_id", label: "group" }, { key: "criteria" },
      { key: "why", render: (r) => CG.el("button", { type: "button", onclick: () => CG.why.claim(r) }, "why?") }]),
    CG.el("h2", {}, "Incidents"), CG.table(data.incidents, [{ key: "role" },
      { key: "incident_id", render: (r) => CG.el("a", { href: incidentHref(r.agency, r.incident_id) }, r.incident_id) },
      { key: "offence" }, { key: "occurred_from", render: (r) => CG.day(r.occurred_from) }, { key: "area" }]));
};

CG.views.status = async function status(view) {
  const data = await CG.api("/api/status");
  view.replaceChildren(CG.el("h1", {}, "What this store holds"),
    CG.kv([["user", `${data.user.user_id} (${data.user.role}, ${data.user.agency})`], ["sees agencies", data.user.sees_agencies],
      ["purpose", data.user.purpose]]),
    CG.table(data.stages, [{ key: "stage" }, { key: "state" }, { key: "last_run", render: (r) => (r.last_run ? `${r.last_run.status} ${CG.day(r.last_run.finished_at)}` : "–") }]),
    CG.table(data.tables, [{ key: "table" }, { key: "stage" }, { key: "rows", render: (r) => (r.rows === null ? "not built" : r.rows) }]));
};
