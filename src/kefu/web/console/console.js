// The agent console's shell: sign-in, the tenant switcher, the menu per role, the hash router
// and the toasts. Each page is a module with render(ctx, main, params) -> cleanup function.
// The server enforces every permission; the menu only hides what the role cannot use.

import { ApiError, get, post, setCsrf, setUnauthorizedHandler } from "./api.js";
import { clear, errorText, h, icon, label } from "./dom.js";
import { apply, lang, setLang, t } from "./i18n.js";
import * as dashboard from "./view_dashboard.js";
import * as drafts from "./view_drafts.js";
import * as inbox from "./view_inbox.js";
import * as quality from "./view_quality.js";
import * as tickets from "./view_tickets.js";

const ROLES = ["viewer", "agent", "supervisor", "admin"];
const TENANT_KEY = "kefu.console.tenant";

const PAGES = [
  { id: "inbox", view: inbox, needs: "viewer" },
  { id: "tickets", view: tickets, needs: "viewer" },
  { id: "quality", view: quality, needs: "viewer" },
  { id: "dashboard", view: dashboard, needs: "viewer" },
  { id: "drafts", view: drafts, needs: "supervisor" },
];

const state = { me: null, tenants: [], tenant: "", cleanup: null };

const $ = (id) => document.getElementById(id);

function roleIn(tenant) {
  const roles = (state.me && state.me.roles) || {};
  const found = [roles[tenant], roles["*"]].filter((r) => ROLES.includes(r));
  if (!found.length) return null;
  return found.reduce((a, b) => (ROLES.indexOf(a) >= ROLES.indexOf(b) ? a : b));
}

function can(needed) {
  const role = roleIn(state.tenant);
  return role !== null && ROLES.indexOf(role) >= ROLES.indexOf(needed);
}

export function toast(kind, text) {
  const node = h("div", { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : "status", "data-testid": `toast-${kind}` }, text);
  $("toasts").append(node);
  setTimeout(() => node.remove(), kind === "error" ? 7000 : 3500);
}

function ctx() {
  return {
    tenant: state.tenant,
    role: roleIn(state.tenant),
    me: state.me,
    can,
    toast,
    navigate: (hash) => {
      if (window.location.hash === hash) route();
      else window.location.hash = hash;
    },
  };
}

// -- sign-in ---------------------------------------------------------------------------------

function showLogin(message) {
  stopView();
  $("boot").hidden = true;
  $("app").hidden = true;
  $("login").hidden = false;
  const box = $("login-error");
  box.hidden = !message;
  box.textContent = message || "";
  $("login-username").focus();
}

async function onLogin(event) {
  event.preventDefault();
  const box = $("login-error");
  const button = $("login-submit");
  const username = $("login-username").value.trim();
  const password = $("login-password").value;
  if (!username || !password) {
    box.hidden = false;
    box.textContent = t("error.422") + t(username ? "login.password" : "login.username");
    return;
  }
  button.disabled = true;
  button.textContent = t("login.busy");
  try {
    const data = await post("/v1/auth/login", { username, password }, { quiet401: true });
    setCsrf(data && data.csrf_token);
    $("login-password").value = "";
    await startApp();
  } catch (err) {
    box.hidden = false;
    box.textContent = err instanceof ApiError && err.status === 401 ? err.message : errorText(err);
  } finally {
    button.disabled = false;
    button.textContent = t("login.submit");
  }
}

async function logout() {
  try {
    await post("/v1/auth/logout", {}, { quiet401: true });
  } catch {
    /* signed out either way */
  }
  state.me = null;
  setCsrf("");
  window.location.hash = "";
  showLogin();
}

// -- the shell -------------------------------------------------------------------------------

async function loadTenants() {
  const roles = state.me.roles || {};
  let names = Object.keys(roles).filter((n) => n !== "*");
  if ("*" in roles) {
    try {
      const all = await get("/v1/tenants");
      names = (Array.isArray(all) ? all : all.items || []).map((x) => (typeof x === "string" ? x : x.name));
    } catch (err) {
      toast("error", errorText(err));
    }
  }
  state.tenants = [...new Set(names)].sort();
  const saved = window.localStorage.getItem(TENANT_KEY);
  state.tenant = state.tenants.includes(saved) ? saved : state.tenants[0] || "";
}

function renderHeader() {
  const select = $("tenant-select");
  clear(select, ...state.tenants.map((name) => h("option", { value: name }, name)));
  select.value = state.tenant;
  select.disabled = state.tenants.length < 2;
  const name = state.me.display_name || state.me.name;
  $("user-name").textContent = name;
  $("user-avatar").textContent = (name || "?").slice(0, 1).toUpperCase();
  const role = roleIn(state.tenant);
  $("user-role").textContent = role ? label("role", role) : "—";
  $("user-role").dataset.role = role || "";
}

function renderNav(active) {
  const items = PAGES.filter((p) => can(p.needs)).map((p) =>
    h(
      "li",
      {},
      h(
        "a",
        {
          href: `#/${p.id}`,
          class: `nav-link${p.id === active ? " active" : ""}`,
          "aria-current": p.id === active ? "page" : null,
          "data-testid": `nav-${p.id}`,
        },
        icon(p.id, 20),
        h("span", {}, t(`nav.${p.id}`)),
      ),
    ),
  );
  clear($("nav"), items);
}

async function startApp() {
  const me = await get("/v1/auth/me", { quiet401: true });
  state.me = me;
  if (me.csrf_token) setCsrf(me.csrf_token);
  await loadTenants();
  $("boot").hidden = true;
  $("login").hidden = true;
  $("app").hidden = false;
  renderHeader();
  if (!window.location.hash || window.location.hash === "#") window.location.hash = "#/inbox";
  route();
}

function stopView() {
  if (state.cleanup) {
    try {
      state.cleanup();
    } catch {
      /* a page's cleanup must not stop navigation */
    }
  }
  state.cleanup = null;
}

function route() {
  if (!state.me) return;
  stopView();
  const main = $("main");
  const parts = window.location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  const allowed = PAGES.filter((p) => can(p.needs));
  renderHeader();
  if (!state.tenant) {
    renderNav("");
    clear(main, h("div", { class: "notice notice-error", role: "alert", "data-testid": "no-tenant" }, t("error.no_tenant")));
    return;
  }
  let page = allowed.find((p) => p.id === parts[0]);
  if (!page) page = allowed[0];
  if (!page) return;
  renderNav(page.id);
  clear(main);
  main.dataset.page = page.id;
  const cleanup = page.view.render(ctx(), main, parts.slice(1));
  state.cleanup = typeof cleanup === "function" ? cleanup : null;
}

// -- start -----------------------------------------------------------------------------------

function init() {
  apply(document);
  for (const btn of document.querySelectorAll(".lang-toggle")) {
    btn.addEventListener("click", () => {
      setLang(lang() === "zh" ? "en" : "zh");
      if (state.me) route();
    });
  }
  $("login-form").addEventListener("submit", onLogin);
  $("logout").addEventListener("click", logout);
  $("tenant-select").addEventListener("change", (event) => {
    state.tenant = event.target.value;
    window.localStorage.setItem(TENANT_KEY, state.tenant);
    const page = window.location.hash.replace(/^#\/?/, "").split("/")[0] || "inbox";
    if (window.location.hash === `#/${page}`) route();
    else window.location.hash = `#/${page}`;
  });
  window.addEventListener("hashchange", route);
  setUnauthorizedHandler(() => {
    if (state.me) {
      state.me = null;
      showLogin(t("login.expired"));
    }
  });
  startApp().catch((err) => {
    showLogin(err instanceof ApiError && err.status === 401 ? "" : errorText(err));
  });
}

init();
