// casegraph workspace: shared helpers. Every value from the store is written with textContent (never as
// HTML), so a narrative holding <script> shows as text.
"use strict";
const CG = (window.CG = { state: { me: null, csrf: null, period: null }, views: {}, cleanup: [] });

CG.el = function el(tag, attrs, ...kids) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = String(value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "href") node.setAttribute("href", CG.safeHref(value));
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false) continue;
    node.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return node;
};

CG.safeHref = (href) => (/^(#|\/)/.test(String(href)) ? String(href) : "#");

class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
  }
}
CG.ApiError = ApiError;

CG.qs = function qs(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value === null || value === undefined || value === "") continue;
    for (const v of Array.isArray(value) ? value : [value]) search.append(key, v);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
};

CG.api = async function api(path, opts = {}) {
  const method = opts.method || "GET";
  const headers = { Accept: "application/json" };
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRF-Token"] = CG.state.csrf || "";
  const response = await fetch(path, {
    method, headers, credentials: "same-origin",
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  if (response.status === 401) {
    window.location.assign("/login");
    throw new ApiError(401, "signed out");
  }
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) throw new ApiError(response.status, (data && data.detail) || data);
  return data;
};

// The selected period (from the timeline) filters every other view.
CG.periodParams = () => (CG.state.period ? { from: CG.state.period.from, to: CG.state.period.to } : {});

CG.setPeriod = function setPeriod(period) {
  CG.state.period = period;
  const box = document.getElementById("period");
  box.replaceChildren();
  box.hidden = !period;
  if (period) {
    box.append(`period ${period.from} – ${period.to} `,
      CG.el("button", { type: "button", onclick: () => { CG.setPeriod(null); CG.route(); } }, "clear"));
  }
};

// A plain note when a stage behind a view has not run: never made-up data.
CG.note = function note(data) {
  if (!data || !data.note || data.status === "ok") return null;
  return CG.el("p", { class: "note", role: "status" }, CG.el("strong", {}, `${data.status}: `), data.note);
};

CG.fail = function fail(where, error) {
  where.replaceChildren(CG.el("p", { class: "error", role: "alert" }, `${error.status || ""} ${error.message}`));
};

CG.fmt = function fmt(value, digits = 3) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : value.toPrecision(digits);
  if (Array.isArray(value)) return value.join(", ");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
};

CG.day = (value) => (value ? String(value).slice(0, 10) : "–");

CG.table = function table(rows, columns, opts = {}) {
  const head = CG.el("tr", {}, columns.map((c) => CG.el("th", {}, c.label || c.key)));
  const body = rows.map((row) => CG.el("tr", { class: opts.rowClass ? opts.rowClass(row) : null },
    columns.map((c) => CG.el("td", {}, c.render ? c.render(row) : CG.fmt(row[c.key])))));
  return CG.el("table", { class: "grid" }, CG.el("thead", {}, head), CG.el("tbody", {}, body));
};

CG.evidenceLink = function evidenceLink(rec) {
  const label = `${rec.kind}:${rec.id}`;
  if (rec.found === false) return CG.el("span", { class: "missing", title: "not in the store or not visible to you" }, label);
  if (rec.kind === "incident") return CG.el("a", { href: `#/incident/${encodeURIComponent(rec.agency)}/${encodeURIComponent(rec.id)}` }, label);
  if (rec.kind === "series") return CG.el("a", { href: `#/series/${encodeURIComponent(rec.id)}` }, label);
  if (rec.kind === "contact") return CG.el("a", { href: `#/contact/${encodeURIComponent(rec.agency || "")}/${encodeURIComponent(rec.id)}` }, label);
  if (rec.kind === "property_event" && rec.identifier) return CG.el("a", { href: `#/item/${encodeURIComponent(rec.identifier)}`, title: "the item's path" }, label);
  if (rec.kind === "arrest" && rec.incident_id) return CG.el("a", { href: `#/incident/${encodeURIComponent(rec.agency)}/${encodeURIComponent(rec.incident_id)}`, title: "the incident of this arrest" }, label);
  return CG.el("span", {}, label);
};

// A person as a link showing their name (the id in the tooltip); an unresolved record links to its record.
CG.personLink = function personLink(personId, name, fallback) {
  const target = personId || fallback;
  const text = name || personId || fallback || "(unknown)";
  return target ? CG.el("a", { href: `#/person/${encodeURIComponent(target)}`, title: personId || "" }, text) : text;
};

// The workspace shows readable labels: "first_at" -> "first at", midnight timestamps as their day.
const LABELS = { persons_a: "people of the first group", persons_b: "people of the second group", first_at: "first evidence",
  last_at: "latest evidence", detected_at: "significant since", p_value: "p-value", q_value: "q-value (all pairs)",
  expected: "expected by chance", ratio: "observed / expected" };
CG.label = (key) => LABELS[key] || String(key).replaceAll("_", " ");
CG.plain = (value) => (typeof value === "string" && /^\d{4}-\d{2}-\d{2}[ T]00:00:00$/.test(value) ? value.slice(0, 10) : value);

CG.kv = function kv(pairs) {
  return CG.el("dl", { class: "kv" }, pairs.filter(([, v]) => v !== undefined)
    .map(([k, v]) => [CG.el("dt", {}, k), CG.el("dd", {}, v instanceof Node ? v : CG.fmt(v))]));
};

CG.pager = function pager(data, go) {
  if (data.total === undefined) return null;
  const from = data.total ? data.offset + 1 : 0;
  const to = data.offset + data.items.length;
  return CG.el("div", { class: "pager" }, `${from}–${to} of ${data.total}${data.total_exact === false ? "+" : ""} `,
    data.offset > 0 ? CG.el("button", { type: "button", onclick: () => go(Math.max(0, data.offset - data.limit)) }, "previous") : null,
    data.next_offset !== undefined ? CG.el("button", { type: "button", onclick: () => go(data.next_offset) }, "next") : null);
};
