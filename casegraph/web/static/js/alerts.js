// Alerts inbox: new and growing ties between groups, spread to new areas, rising activity, the near-repeat
// risk after a recent incident (it expires by itself). An analyst acknowledges (or dismisses) an alert with a
// note; the change is audited by the safeguards.
"use strict";

CG.views.alerts = async function alerts(view, params, rest) {
  if (rest.length) return CG.views.alert(view, params, rest);
  const status = params.get("status") || "open";
  const tabs = CG.el("div", { class: "tabs" }, ["open", "acknowledged", "dismissed", "expired", "all"].map((s) =>
    CG.el("a", { href: `#/alerts?status=${s}`, class: s === status ? "active" : null }, s)));
  const kind = params.get("kind");
  const data = await CG.api(`/api/alerts${CG.qs({ status: status === "all" ? null : status, kind, limit: 200 })}`);
  // near-repeat alerts come by the dozen after each burst: a kind filter keeps the group alerts in reach
  const kinds = CG.el("div", { class: "tabs kinds" }, "kind: ", [null, ...new Set([kind, ...data.items.map((a) => a.kind)].filter(Boolean))].map((k) =>
    CG.el("a", { href: `#/alerts${CG.qs({ status, kind: k })}`, class: k === kind ? "active" : null }, k || "all")));
  const count = CG.el("small", {}, data.total !== undefined ? ` ${data.total} ${status === "all" ? "" : status}` : "");
  const inbox = CG.el("ul", { class: "inbox" }, data.items.map((a) => alertItem(a)));
  const empty = data.items.length || data.note ? "" : CG.el("p", {}, `no ${status} alerts`);
  view.replaceChildren(CG.el("h1", {}, "Alerts", count), tabs, kinds, CG.note(data) || "", empty, inbox);
  if (status === "open" || status === "all") watchInbox(data, { status: status === "all" ? null : status, kind }, inbox, count, empty, status);
};

CG.pollMs = 3000;

function alertItem(a, fresh) {
  return CG.el("li", { class: `alert ${a.severity || ""}${fresh ? " new" : ""}` },
    CG.el("a", { href: `#/alerts/${encodeURIComponent(a.alert_id)}`, class: "alert-title" }, a.title),
    CG.el("span", { class: "meta" }, `${fresh ? "new · " : ""}${a.kind} · ${a.stage} · onset ${CG.day(a.onset)}${a.expires ? ` · until ${CG.day(a.expires)}` : ""} · ${a.severity || ""} · ${a.status}`));
}

// New alerts without a reload: ask every few seconds for the alerts first raised since the newest one shown
// (a cheap read), and put them at the top of the open inbox, marked new.
function watchInbox(data, filters, inbox, count, empty, status) {
  let latest = data.latest || "1970-01-01T00:00:00";
  let total = data.total || 0;
  let asking = false;
  const timer = setInterval(async () => {
    if (asking || document.hidden) return;
    asking = true;
    try {
      const fresh = await CG.api(`/api/alerts${CG.qs({ ...filters, since: latest, limit: 200 })}`);
      if (fresh.latest) latest = fresh.latest;
      if (fresh.items && fresh.items.length) {
        inbox.prepend(...fresh.items.map((a) => alertItem(a, true)));
        total += fresh.total;
        count.textContent = ` ${total} ${status === "all" ? "" : status}`;
        if (empty && empty.remove) empty.remove();
      }
    } catch (error) {
      /* the workspace is busy or restarting: ask again at the next tick */
    } finally {
      asking = false;
    }
  }, CG.pollMs);
  CG.cleanup.push(() => clearInterval(timer));
}

function groupsOf(alert) {
  const d = alert.detail || {};
  if (Array.isArray(d.groups)) return d.groups;
  if (d.group_a && d.group_b) return [d.group_a, d.group_b];
  return String(alert.subject || "").split(/[|~,]| and |-(?=G)/).map((s) => s.trim()).filter(Boolean);
}

CG.views.alert = async function alert(view, params, rest) {
  const a = await CG.api(`/api/alerts/${encodeURIComponent(rest[0])}`);
  const groups = groupsOf(a);
  const isTie = /tie/.test(a.kind) && groups.length >= 2;
  const note = CG.el("textarea", { name: "note", rows: 3, maxlength: 4000, placeholder: "what you checked or decided" }, a.note || "");
  const choice = CG.el("select", { name: "status" }, ["acknowledged", "dismissed", "open"].map((s) => CG.el("option", { value: s, selected: s === "acknowledged" }, s)));
  const result = CG.el("span", { class: "result", role: "status" });
  const ack = CG.el("form", { class: "ack" }, CG.el("h2", {}, "Acknowledge"), choice, note,
    CG.el("button", { type: "submit" }, "save"), result);
  ack.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const saved = await CG.api(`/api/alerts/${encodeURIComponent(a.alert_id)}/acknowledge`, { method: "POST", body: { status: choice.value, note: note.value } });
      result.textContent = `${saved.status} by ${saved.acknowledged_by} (recorded in the audit log)`;
    } catch (error) { result.textContent = error.message; }
  });
  view.replaceChildren(
    CG.el("p", {}, CG.el("a", { href: "#/alerts" }, "← alerts")),
    CG.el("h1", {}, a.title),
    CG.kv([["kind", a.kind], ["raised by", a.stage], ["severity", a.severity], ["onset", CG.day(a.onset)],
      ["until", a.expires ? CG.day(a.expires) : undefined], ["status", a.status],
      ["acknowledged by", a.acknowledged_by], ["note", a.note]]),
    CG.el("p", { class: "actions" },
      isTie ? CG.el("button", { type: "button", class: "primary", id: "open-tie", onclick: () => CG.why.tie(groups[0], groups[1]) }, `Why are ${groups[0]} and ${groups[1]} tied?`) : null,
      groups.length ? CG.el("a", { href: `#/chart${CG.qs({ group: groups })}` }, "show on the link chart") : null, " ",
      groups.length ? CG.el("a", { href: `#/timeline${CG.qs({ group: groups[0] })}` }, "timeline") : null, " ",
      groups.length ? CG.el("a", { href: `#/map${CG.qs({ group: groups[0] })}` }, "map") : null,
      a.kind === "near_repeat" ? CG.el("a", { href: `#/map${CG.qs({ alert: a.alert_id })}` }, "show on the map") : null, " ",
      CG.el("button", { type: "button", onclick: () => CG.why.alert(a) }, "why this alert?")),
    CG.el("h2", {}, `Evidence (${(a.evidence_records || []).length} records)`),
    CG.table(a.evidence_records || [], [
      { key: "item", label: "record", render: (r) => CG.evidenceLink(r) }, { key: "agency" }, { key: "what" },
      { key: "at", label: "when", render: (r) => CG.day(r.at) }, { key: "area" }, { key: "about" }], { rowClass: (r) => (r.found === false ? "missing" : null) }),
    CG.el("div", {}, a.detail ? [CG.el("h2", {}, "Numbers behind it"), CG.kv(Object.entries(a.detail).filter(([, v]) => typeof v !== "object" || Array.isArray(v)).map(([k, v]) => [CG.label(k), CG.plain(v)]))] : null),
    ack);
};
