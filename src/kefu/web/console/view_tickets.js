// Tickets (工单): a filtered list with SLA badges, and one ticket with its history, comments,
// a status change and a comment box (agents and above; the server checks).

import { get, patch, post, qs } from "./api.js";
import { actionButton, badge, clear, duration, errorText, h, label, notice, when } from "./dom.js";
import { t } from "./i18n.js";

const STATUSES = ["open", "in_progress", "waiting_customer", "resolved", "closed"];
const PRIORITIES = ["P1", "P2", "P3", "P4"];
const FILTER_KEY = "kefu.console.ticket-filters";

export function slaBadge(sla) {
  const state = (sla && sla.state) || "ok";
  const kind = { ok: "ok", at_risk: "warn", breached: "danger" }[state] || "neutral";
  const node = badge(label("sla", state), kind, "sla");
  node.dataset.state = state;
  if (sla && typeof sla.remaining_s === "number" && state !== "breached") node.title = duration(sla.remaining_s);
  return node;
}

function priorityBadge(priority) {
  const kind = { P1: "danger", P2: "warn", P3: "info", P4: "neutral" }[priority] || "neutral";
  return badge(priority || "—", kind, "priority");
}

function statusBadge(status) {
  const kind = { open: "info", in_progress: "warn", waiting_customer: "neutral", resolved: "ok", closed: "neutral" }[status] || "neutral";
  return badge(label("status", status), kind, "status");
}

function loadFilters() {
  try {
    return JSON.parse(window.localStorage.getItem(FILTER_KEY) || "{}") || {};
  } catch {
    return {};
  }
}

function select(id, options, value, allLabel) {
  const node = h("select", { id, "data-testid": id }, h("option", { value: "" }, allLabel), options.map(([v, text]) => h("option", { value: v }, text)));
  node.value = value || "";
  return node;
}

export function render(ctx, main, params) {
  const selected = params[0] || "";
  const filters = loadFilters();
  let stopped = false;

  const status = select("filter-status", STATUSES.map((s) => [s, label("status", s)]), filters.status, t("common.all"));
  const priority = select("filter-priority", PRIORITIES.map((p) => [p, p]), filters.priority, t("common.all"));
  const queue = h("input", { id: "filter-queue", type: "search", value: filters.queue || "", maxlength: 64, "data-testid": "filter-queue", size: 10 });
  const breached = h("input", { id: "filter-breached", type: "checkbox", "data-testid": "filter-breached" });
  breached.checked = Boolean(filters.breached);
  const form = h(
    "form",
    { class: "filters", role: "search" },
    h("label", { class: "inline-field" }, h("span", {}, t("tickets.status")), status),
    h("label", { class: "inline-field" }, h("span", {}, t("tickets.priority")), priority),
    h("label", { class: "inline-field" }, h("span", {}, t("tickets.queue")), queue),
    h("label", { class: "check" }, breached, h("span", {}, t("tickets.breached"))),
  );
  const total = h("span", { class: "muted small", "data-testid": "tickets-total" });
  const table = h("div", { class: "table-wrap", "data-testid": "tickets-list" });
  const detail = h("section", { class: "detail-pane", "data-testid": "ticket-detail" });
  main.append(
    h(
      "div",
      { class: "split" },
      h("section", { class: "list-pane" }, h("div", { class: "page-head" }, h("h1", {}, t("tickets.title")), total), form, table),
      detail,
    ),
  );

  form.addEventListener("submit", (e) => e.preventDefault());
  for (const input of [status, priority, breached]) input.addEventListener("change", loadList);
  let typing = null;
  queue.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(loadList, 350);
  });

  async function loadList() {
    const f = { status: status.value, priority: priority.value, queue: queue.value.trim(), breached: breached.checked };
    window.localStorage.setItem(FILTER_KEY, JSON.stringify(f));
    clear(table, h("p", { class: "muted" }, t("common.loading")));
    try {
      const data = await get(`/v1/tickets${qs({ tenant: ctx.tenant, ...f, breached: f.breached ? "true" : "" })}`);
      if (stopped) return;
      const items = (data && data.items) || [];
      total.textContent = t("tickets.total", { n: data.total ?? items.length });
      if (!items.length) {
        clear(table, h("p", { class: "empty" }, t("tickets.empty")));
        return;
      }
      const rows = items.map((tk) =>
        h(
          "tr",
          {
            class: String(tk.id) === selected ? "selected" : "",
            "data-testid": "ticket-row",
            "data-id": tk.id,
            tabindex: 0,
            onclick: () => ctx.navigate(`#/tickets/${tk.id}`),
            onkeydown: (e) => e.key === "Enter" && ctx.navigate(`#/tickets/${tk.id}`),
          },
          h("td", { class: "num" }, `#${tk.id}`),
          h("td", { class: "subject" }, h("a", { href: `#/tickets/${tk.id}` }, tk.subject || "—"), h("div", { class: "muted small" }, label("source", tk.source))),
          h("td", {}, statusBadge(tk.status)),
          h("td", {}, priorityBadge(tk.priority)),
          h("td", {}, tk.queue || "—"),
          h("td", {}, slaBadge(tk.sla)),
          h("td", { class: "muted small" }, when(tk.created_at)),
        ),
      );
      clear(
        table,
        h(
          "table",
          { class: "table" },
          h(
            "thead",
            {},
            h("tr", {}, ["#", t("tickets.subject"), t("tickets.status"), t("tickets.priority"), t("tickets.queue"), t("tickets.sla"), t("tickets.created")].map((c) => h("th", { scope: "col" }, c))),
          ),
          h("tbody", {}, rows),
        ),
      );
    } catch (err) {
      if (!stopped) clear(table, notice("error", errorText(err), "tickets-error"));
    }
  }

  async function loadDetail(id) {
    clear(detail, h("p", { class: "muted" }, t("common.loading")));
    let tk;
    try {
      tk = await get(`/v1/tickets/${encodeURIComponent(id)}`);
    } catch (err) {
      if (!stopped) clear(detail, notice("error", errorText(err), "ticket-error"));
      return;
    }
    if (stopped) return;
    const facts = [
      ["tickets.status", statusBadge(tk.status)],
      ["tickets.priority", priorityBadge(tk.priority)],
      ["tickets.sla", h("span", {}, slaBadge(tk.sla), tk.sla && tk.sla.due_at ? h("span", { class: "muted small" }, ` ${t("tickets.due")} ${when(tk.sla.due_at)}`) : null)],
      ["tickets.queue", tk.queue],
      ["tickets.category", label("category", tk.category)],
      ["tickets.source", label("source", tk.source)],
      ["tickets.assignee", tk.assignee || "—"],
      ["tickets.customer", tk.customer || "—"],
      ["tickets.conversation", tk.conversation_id ? h("a", { href: `#/inbox/${encodeURIComponent(tk.conversation_id)}` }, tk.conversation_id) : "—"],
      ["tickets.created", when(tk.created_at)],
    ];
    const events = (tk.events || []).filter((e) => e.kind !== "comment");
    const comments = (tk.events || []).filter((e) => e.kind === "comment");
    const eventText = (e) => {
      const d = e.data || {};
      if (d.from !== undefined || d.to !== undefined) {
        const fam = e.kind === "status" ? "status" : null;
        const show = (v) => (fam ? label(fam, v) : v ?? "—");
        return `${e.kind}: ${show(d.from)} → ${show(d.to)}${e.body ? ` · ${e.body}` : ""}`;
      }
      return `${e.kind}${e.body ? ` · ${e.body}` : ""}`;
    };

    const parts = [
      h("header", { class: "detail-head" }, h("h2", {}, `#${tk.id} ${tk.subject || ""}`)),
      h("dl", { class: "facts facts-grid" }, facts.map(([k, v]) => [h("dt", {}, t(k)), h("dd", {}, v)])),
      tk.description ? [h("h3", {}, t("tickets.description")), h("p", { class: "prewrap" }, tk.description)] : null,
    ];
    if (ctx.can("agent")) {
      const statusSel = h("select", { id: "ticket-status", "data-testid": "ticket-status" }, STATUSES.map((s) => h("option", { value: s }, label("status", s))));
      statusSel.value = tk.status;
      const buttons = [
        actionButton(t("tickets.apply"), { class: "btn btn-primary btn-sm", "data-testid": "ticket-status-apply" }, async () => {
          try {
            await patch(`/v1/tickets/${tk.id}`, { status: statusSel.value });
            ctx.toast("ok", t("common.saved"));
            loadDetail(tk.id);
            loadList();
          } catch (err) {
            ctx.toast("error", errorText(err));
          }
        }),
      ];
      if (tk.assignee !== ctx.me.name) {
        buttons.push(
          actionButton(t("tickets.assign_me"), { class: "btn btn-secondary btn-sm", "data-testid": "ticket-assign-me" }, async () => {
            try {
              await patch(`/v1/tickets/${tk.id}`, { assignee: ctx.me.name });
              loadDetail(tk.id);
              loadList();
            } catch (err) {
              ctx.toast("error", errorText(err));
            }
          }),
        );
      }
      parts.push(h("div", { class: "toolbar" }, h("label", { class: "inline-field" }, h("span", {}, t("tickets.change_status")), statusSel), buttons));
    }
    parts.push(
      h("h3", {}, t("tickets.comments")),
      comments.length
        ? h(
            "ul",
            { class: "comments", "data-testid": "ticket-comments" },
            comments.map((c) => h("li", {}, h("div", { class: "msg-meta" }, h("b", {}, c.actor), h("time", {}, when(c.created_at))), h("p", { class: "prewrap" }, c.body || ""))),
          )
        : h("p", { class: "muted small" }, t("common.none")),
    );
    if (ctx.can("agent")) {
      const box = h("textarea", { rows: 3, maxlength: 4000, placeholder: t("tickets.comment_placeholder"), "aria-label": t("tickets.comment_label"), "data-testid": "ticket-comment-input" });
      parts.push(
        h(
          "div",
          { class: "comment-form" },
          box,
          actionButton(t("tickets.comment_add"), { class: "btn btn-primary btn-sm", "data-testid": "ticket-comment-send" }, async () => {
            const text = box.value.trim();
            if (!text) return;
            try {
              await post(`/v1/tickets/${tk.id}/comments`, { text });
              loadDetail(tk.id);
            } catch (err) {
              ctx.toast("error", errorText(err));
            }
          }),
        ),
      );
    }
    parts.push(
      h("h3", {}, t("tickets.events")),
      h(
        "ol",
        { class: "timeline", "data-testid": "ticket-events" },
        events.map((e) => h("li", {}, h("time", {}, when(e.created_at)), h("span", { class: "muted" }, e.actor), h("span", {}, eventText(e)))),
      ),
    );
    clear(detail, parts);
  }

  loadList();
  if (selected) loadDetail(selected);
  else detail.append(h("div", { class: "placeholder" }, h("p", {}, t("tickets.pick"))));
  return () => {
    stopped = true;
    clearTimeout(typing);
  };
}
