// "Why" on every score: the panel beside each view explains a link, an identity, a claim, a tie or an alert.
"use strict";
CG.why = {};

CG.why.open = function open(title, ...body) {
  const panel = document.getElementById("why");
  document.getElementById("why-body").replaceChildren(CG.el("h2", {}, title), CG.el("div", {}, body));
  panel.hidden = false;
};

CG.why.load = async function load(title, fetcher, render) {
  CG.why.open(title, CG.el("p", {}, "loading…"));
  try {
    const data = await fetcher();
    CG.why.open(title, ...[].concat(render(data)));
  } catch (error) {
    CG.why.open(title, CG.el("p", { class: "error" }, error.message));
  }
};

// Signed bars: each feature's contribution to the log-odds, scaled to the largest.
CG.why.bars = function bars(items, valueKey, labelKey, extra) {
  const top = Math.max(1e-9, ...items.map((i) => Math.abs(i[valueKey] || 0)));
  return CG.el("div", { class: "bars" }, items.map((item) => {
    const value = item[valueKey] || 0;
    const bar = CG.el("span", { class: value >= 0 ? "bar pos" : "bar neg" });
    bar.style.width = `${(50 * Math.abs(value)) / top}%`;
    return CG.el("div", { class: "bar-row" }, CG.el("span", { class: "bar-label" }, item[labelKey]),
      CG.el("span", { class: "bar-track" }, bar), CG.el("span", { class: "bar-value" }, CG.fmt(value)),
      extra ? CG.el("span", { class: "bar-extra" }, extra(item)) : null);
  }));
};

CG.why.link = (linkId) => CG.why.load("Why these incidents are linked", () => CG.api(`/api/links/${encodeURIComponent(linkId)}`), (link) => [
  CG.kv([["incidents", `${link.incident_a} ↔ ${link.incident_b}`], ["probability", link.probability],
    ["log-odds", link.log_odds], ["model base (typical unlinked pair)", link.base], ["model", link.model_id]]),
  CG.el("h3", {}, "Per-feature contribution to the log-odds"),
  CG.why.bars(link.why || [], "contribution", "feature", (i) => `value ${CG.fmt(i.value)}`),
  CG.el("p", { class: "hint" }, "Base + contributions (+ interactions) = the pair's log-odds. Positive bars push towards a link."),
  CG.el("p", {}, CG.el("a", { href: `#/incident/${encodeURIComponent(link.agency_a)}/${encodeURIComponent(link.incident_a)}` }, `open ${link.incident_a}`), " · ",
    CG.el("a", { href: `#/incident/${encodeURIComponent(link.agency_b)}/${encodeURIComponent(link.incident_b)}` }, `open ${link.incident_b}`)),
  CG.why.decideLink(link),
]);

// An analyst's decision on the link (audited; it overrides the score from the next `link` run, and trains it).
CG.why.decideLink = function decideLink(link) {
  const note = CG.el("textarea", { name: "note", rows: 2, maxlength: 4000, placeholder: "why (kept with the decision)" });
  const result = CG.el("span", { class: "result", role: "status" }, link.decision ? `decided: ${link.decision}` : "");
  const send = (decision) => async () => {
    try {
      const saved = await CG.api(`/api/links/${encodeURIComponent(link.link_id)}/decision`, { method: "POST", body: { decision, note: note.value } });
      result.textContent = saved.undone !== undefined ? `undone (${saved.undone})` : `${saved.decision} by ${saved.decided_by} (audited; applies from the next link run)`;
    } catch (error) { result.textContent = error.message; }
  };
  return CG.el("form", { class: "ack", onsubmit: (event) => event.preventDefault() }, CG.el("h3", {}, "Your decision"), note,
    CG.el("button", { type: "button", class: "primary", onclick: send("linked") }, "linked"),
    CG.el("button", { type: "button", onclick: send("not-linked") }, "not linked"),
    CG.el("button", { type: "button", onclick: send("undo") }, "undo"), result);
};

CG.why.identity = (personId, a, b) => CG.why.load("Why these records are one person",
  () => CG.api(`/api/persons/${encodeURIComponent(personId)}/why${CG.qs({ a, b })}`), (w) => [
    CG.note(w),
    CG.kv([["records", `${a} and ${b}`], ["match weight", w.match_weight], ["match probability", w.match_probability],
      ["model run", w.model_run_id]]),
    CG.el("h3", {}, "Match-weight waterfall (log2 Bayes factors)"),
    CG.why.bars((w.waterfall || []).map((s) => ({ ...s, label: `${s.comparison}: ${s.level}` })), "match_weight", "label",
      (s) => `${CG.fmt(s.value_l)} | ${CG.fmt(s.value_r)}`),
  ]);

CG.why.claim = (claim) => CG.why.open(`Why ${claim.record_id} is claimed a member of ${claim.group_name || claim.group_id}`,
  CG.kv([["claim", claim.claim_id], ["agency", claim.agency], ["entered by", claim.entered_by], ["entered", CG.day(claim.entered_at)],
    ["approved by", claim.approved_by], ["review by", CG.day(claim.review_date)]]),
  CG.el("h3", {}, "Criteria met"), CG.el("ul", {}, (claim.criteria || []).map((c) => CG.el("li", {}, c.replaceAll("_", " ")))),
  CG.el("h3", {}, "Evidence cited"), CG.el("ul", {}, (claim.evidence || []).map((e) => {
    const [kind, id] = String(e).split(":");
    return CG.el("li", {}, CG.evidenceLink({ kind, id, agency: claim.agency }));
  })),
  CG.el("p", { class: "hint" }, "Only claims that meet the required criteria, cite evidence and are within their review date are shown or counted."));

CG.why.claimById = async (claimId, recordHint) => {
  try {
    const person = await CG.api(`/api/persons/${encodeURIComponent(recordHint)}`);
    const claim = (person.claims || []).find((c) => c.claim_id === claimId);
    if (claim) return CG.why.claim(claim);
  } catch (error) { /* fall through */ }
  CG.why.open("Membership claim", CG.el("p", {}, `claim ${claimId}`));
};

// A tie's events per month: distinct joint events, person ties, and what kinds of evidence.
function tieMonths(events) {
  const months = new Map();
  for (const e of events) {
    const month = e.occurred_on ? String(e.occurred_on).slice(0, 7) : "undated";
    const m = months.get(month) || { month, eventIds: new Set(), ties: 0, kinds: new Set() };
    m.eventIds.add(e.event); m.ties += 1; m.kinds.add(e.kind);
    months.set(month, m);
  }
  return [...months.values()].map((m) => ({ month: m.month, events: m.eventIds.size, ties: m.ties, kinds: [...m.kinds].join(", ") }));
}

CG.why.tie = (a, b) => CG.why.load(`Why ${a} and ${b} are tied`, () => CG.api(`/api/ties/${encodeURIComponent(a)}/${encodeURIComponent(b)}`), (t) => [
  t.explanation ? CG.el("p", {}, t.explanation) : null,
  CG.kv([["groups", `${t.pair[0]} ↔ ${t.pair[1]}`], ["strength", t.strength], ["observed person ties", t.person_ties ?? t.observed],
    ["expected by chance (null model)", t.expected], ["observed / expected", t.ratio], ["p-value", t.p_value], ["q-value (all pairs)", t.q_value],
    ["significant", t.significant], ["onset", CG.day(t.onset)], ["significant since", CG.day(t.detected_at)],
    ["first evidence", CG.day(t.first_at)], ["latest evidence", CG.day(t.last_at)], ["joint events", t.joint_events]]),
  CG.el("h3", {}, "Joint events month by month"),
  CG.table(tieMonths(t.events || []), [{ key: "month" }, { key: "events", label: "joint events" }, { key: "ties", label: "person ties" }, { key: "kinds" }]),
  CG.el("h3", {}, `Events behind the tie (${(t.events || []).length})`),
  CG.table(t.events || [], [{ key: "occurred_on", label: "when", render: (e) => CG.day(e.occurred_on) }, { key: "kind" },
    { key: "people", render: (e) => [CG.personLink(e.person_a, e.name_a), " – ", CG.personLink(e.person_b, e.name_b)] },
    { key: "evidence", render: (e) => (e.evidence || []).map((item) => { const [kind, id] = String(item).split(/:(.*)/s); return [CG.evidenceLink({ kind, id, agency: "" }), " "]; }) }]),
  CG.el("h3", {}, "Evidence records"),
  CG.el("ul", { class: "evidence" }, (t.evidence_records || []).map((r) => CG.el("li", {}, CG.evidenceLink(r), " ", CG.fmt(r.what), " ", CG.day(r.at)))),
]);

CG.why.alert = (alert) => CG.why.open(alert.title,
  CG.kv([["kind", alert.kind], ["raised by", alert.stage], ["severity", alert.severity], ["onset", CG.day(alert.onset)], ["status", alert.status]]),
  alert.detail ? CG.kv(Object.entries(alert.detail).filter(([, v]) => typeof v !== "object" || Array.isArray(v)).map(([k, v]) => [CG.label(k), CG.plain(v)])) : null);
