// Timeline: a group's activity over time with its alerts marked. Selecting a period (drag across the chart,
// or the two dates) filters the other views: the incident list, the map and the link chart.
"use strict";

const toDay = (seconds) => new Date(seconds * 1000).toISOString().slice(0, 10);
const toSeconds = (day) => Date.parse(`${String(day).slice(0, 10)}T00:00:00Z`) / 1000;

function alertMarks(alerts) {
  return (u) => {
    const { ctx } = u;
    const { top, height } = u.bbox;
    ctx.save();
    for (const a of alerts) {
      if (!a.onset) continue;
      const x = Math.round(u.valToPos(toSeconds(a.onset), "x", true));
      ctx.strokeStyle = /tie/.test(a.kind) ? "#d62728" : "#ff7f0e";
      ctx.lineWidth = 2 * devicePixelRatio;
      ctx.setLineDash([6, 4]);
      ctx.beginPath();
      ctx.moveTo(x, top);
      ctx.lineTo(x, top + height);
      ctx.stroke();
    }
    ctx.restore();
  };
}

CG.views.timeline = async function timeline(view, params) {
  const groups = await CG.api("/api/groups");
  const group = params.get("group") || (groups.items[0] && groups.items[0].group_id);
  const period = params.get("period") || "week";
  const pick = CG.el("select", { name: "group" }, groups.items.map((g) => CG.el("option", { value: g.group_id, selected: g.group_id === group }, `${g.group_id} ${g.name}`)));
  pick.addEventListener("change", () => { window.location.hash = `#/timeline${CG.qs({ group: pick.value, period })}`; });
  const from = CG.el("input", { type: "date", name: "from", value: CG.state.period?.from || "" });
  const to = CG.el("input", { type: "date", name: "to", value: CG.state.period?.to || "" });
  const apply = CG.el("button", { type: "button", id: "apply-period", onclick: () => from.value && to.value && CG.setPeriod({ from: from.value, to: to.value }) }, "filter other views to this period");
  const box = CG.el("div", { id: "timeline", class: "timeline" });
  const list = CG.el("div", {});
  view.replaceChildren(CG.el("h1", {}, "Timeline"), CG.el("div", { class: "filters" }, pick, " per ",
    CG.el("a", { href: `#/timeline${CG.qs({ group, period: "week" })}` }, "week"), " / ", CG.el("a", { href: `#/timeline${CG.qs({ group, period: "month" })}` }, "month"),
    " period ", from, " – ", to, apply), box, list);
  if (!group) return box.replaceChildren(CG.note(groups) || CG.el("p", {}, "no groups"));
  const data = await CG.api(`/api/groups/${encodeURIComponent(group)}/activity${CG.qs({ period })}`);
  list.replaceChildren(CG.note(data) || "", CG.el("h2", {}, "Alerts on this timeline"), CG.table(data.alerts, [
    { key: "onset", render: (a) => CG.day(a.onset) }, { key: "kind" },
    { key: "title", render: (a) => CG.el("a", { href: `#/alerts/${encodeURIComponent(a.alert_id)}` }, a.title) }]));
  if (!data.totals.length || !window.CGV) return;
  const xs = data.totals.map((r) => toSeconds(r.period_start));
  const { uPlot } = window.CGV;
  const plot = new uPlot({
    width: Math.max(600, box.clientWidth || 900), height: 320,
    scales: { x: { time: true } },
    series: [{}, { label: "linked incidents", stroke: "#1f77b4", fill: "rgba(31,119,180,0.35)", paths: uPlot.paths.bars({ size: [0.9, 40] }) },
      { label: "with a claimed member", stroke: "#d62728", width: 2 }, { label: "new areas", stroke: "#2ca02c", width: 1 }],
    axes: [{}, { label: `incidents per ${period}` }],
    cursor: { drag: { x: true, y: false } },
    hooks: {
      draw: [alertMarks(data.alerts)],
      setSelect: [(u) => {
        if (u.select.width < 2) return;
        const a = toDay(u.posToVal(u.select.left, "x"));
        const b = toDay(u.posToVal(u.select.left + u.select.width, "x"));
        from.value = a; to.value = b;
        CG.setPeriod({ from: a, to: b });
      }],
    },
  }, [xs, data.totals.map((r) => r.incidents), data.totals.map((r) => r.member_incidents), data.totals.map((r) => r.new_areas)], box);
  CG.cleanup.push(() => plot.destroy());
};
