// Start: who is signed in, the router (#/view/rest?query), the why panel and sign-out.
"use strict";

CG.route = async function route() {
  const hash = window.location.hash || "#/alerts";
  const [path, query] = hash.slice(2).split("?");
  const [name, ...rest] = path.split("/").map(decodeURIComponent);
  const params = new URLSearchParams(query || "");
  while (CG.cleanup.length) { try { CG.cleanup.pop()(); } catch (e) { /* already gone */ } }
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.view === name || (name === "alert" && a.dataset.view === "alerts"));
  const view = document.getElementById("view");
  const render = CG.views[name] || CG.views.alerts;
  view.replaceChildren(CG.el("p", { class: "loading" }, "loading…"));
  view.dataset.view = name;
  try {
    await render(view, params, rest);
    view.dataset.ready = name;
  } catch (error) {
    CG.fail(view, error);
    view.dataset.ready = "error";
  }
};

// "root · owner · purpose: …": an embedded store's owner has no agency, so none is shown.
CG.whoLine = (me) => [me.user_id, me.role, me.agency, `purpose: ${me.purpose}`].filter(Boolean).join(" · ");

async function start() {
  const me = await CG.api("/api/me");
  CG.state.me = me;
  CG.state.csrf = me.csrf;
  document.getElementById("who").textContent = CG.whoLine(me);
  document.getElementById("why-close").addEventListener("click", () => { document.getElementById("why").hidden = true; });
  document.getElementById("logout").addEventListener("click", async () => {
    await fetch("/logout", { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": CG.state.csrf || "" } });
    window.location.assign("/login");
  });
  document.getElementById("purpose-btn").addEventListener("click", async () => {
    const purpose = window.prompt("Purpose of this session (recorded with every person-level read):", me.purpose);
    if (!purpose) return;
    const saved = await CG.api("/api/session/purpose", { method: "POST", body: { purpose } });
    CG.state.csrf = saved.csrf;
    me.purpose = saved.purpose;
    document.getElementById("who").textContent = CG.whoLine(me);
  });
  showScopes(me);
  window.addEventListener("hashchange", CG.route);
  await CG.route();
}

// A server store's user in a task force chooses whose derived results they read: their agency's or the task force's.
function showScopes(me) {
  const pick = document.getElementById("scope");
  if (!me.scopes || me.scopes.length < 2) return;
  pick.replaceChildren(...me.scopes.map((s) => CG.el("option", { value: s }, s === me.agency ? `${s} (my agency)` : s)));
  pick.value = me.scope;
  document.getElementById("scope-pick").hidden = false;
  pick.addEventListener("change", async () => {
    try {
      await CG.api("/api/session/scope", { method: "POST", body: { scope: pick.value } });
      me.scope = pick.value;
      await CG.route();
    } catch (error) {
      pick.value = me.scope;
      window.alert(`The scope was not changed: ${error.message || error}`);
    }
  });
}

start();
