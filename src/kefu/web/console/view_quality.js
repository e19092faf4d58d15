// Quality (质检): the scored conversations (flagged ones first when filtered), one conversation's
// score per dimension with its reasons, and the supervisor's override form.

import { get, post, qs } from "./api.js";
import { actionButton, badge, clear, errorText, h, icon, label, notice, num, when } from "./dom.js";
import { lang, t } from "./i18n.js";
import { messageNode } from "./view_inbox.js";

const FLAG_KEY = "kefu.console.qa-flagged";

/** Dimensions as a list [{name, score, max, reasons, overridden, applicable, passed, note}]. */
export function dimensionsOf(result) {
  const dims = result.dimensions || result.scores || [];
  const list = Array.isArray(dims)
    ? dims
    : Object.entries(dims).map(([name, v]) => (typeof v === "object" && v !== null ? { name, ...v } : { name, score: v }));
  return list.map((d) => ({
    name: d.name || d.dimension || "?",
    score: d.score ?? null,
    autoScore: d.auto_score ?? null,
    max: d.max ?? 100,
    reasons: d.reasons || [],
    overridden: Boolean(d.overridden),
    applicable: d.applicable !== false,
    passed: d.passed !== false,
    note: (d.override && d.override.note) || "",
  }));
}

/** A reason from the server: {zh, en, penalty} in the console's language, or plain text. */
function reasonLine(reason) {
  if (reason && typeof reason === "object") {
    const text = reason[lang()] || reason.zh || reason.en || reason.code || "";
    return reason.penalty ? `${text}（-${reason.penalty}）` : text;
  }
  return String(reason || "");
}

function totalOf(r) {
  for (const k of ["total", "score", "overall", "total_score"]) if (typeof r[k] === "number") return r[k];
  return null;
}

function scoreBadge(value, flagged) {
  return badge(value === null ? "—" : num(value, 1), flagged ? "danger" : value !== null && value >= 80 ? "ok" : "warn", "qa-score");
}

const dimName = (name) => label("dim", name);

export function render(ctx, main, params) {
  const selected = params[0] || "";
  let stopped = false;
  const flagged = h("input", { type: "checkbox", id: "qa-flagged", "data-testid": "qa-flagged" });
  flagged.checked = window.localStorage.getItem(FLAG_KEY) === "1";
  const list = h("div", { class: "table-wrap", "data-testid": "qa-list" });
  const detail = h("section", { class: "detail-pane", "data-testid": "qa-detail" });
  const head = h(
    "div",
    { class: "page-head" },
    h("h1", {}, t("quality.title")),
    h("span", { class: "grow" }),
    h("label", { class: "check" }, flagged, h("span", {}, t("quality.flagged_only"))),
    ctx.can("supervisor")
      ? actionButton([icon("play", 14), t("quality.run")], { class: "btn btn-secondary btn-sm", "data-testid": "qa-run" }, async () => {
          try {
            const out = await post(`/v1/qa/run${qs({ tenant: ctx.tenant })}`);
            const n = out && (out.scored ?? out.count ?? (out.items ? out.items.length : undefined));
            ctx.toast("ok", t("quality.ran", { n: n ?? "" }));
            loadList();
          } catch (err) {
            ctx.toast("error", errorText(err));
          }
        })
      : null,
  );
  main.append(h("div", { class: "split" }, h("section", { class: "list-pane" }, head, list), detail));
  flagged.addEventListener("change", () => {
    window.localStorage.setItem(FLAG_KEY, flagged.checked ? "1" : "0");
    loadList();
  });

  async function loadList() {
    clear(list, h("p", { class: "muted" }, t("common.loading")));
    try {
      const data = await get(`/v1/qa${qs({ tenant: ctx.tenant, flagged: flagged.checked ? "true" : "" })}`);
      if (stopped) return;
      const items = (data && data.items) || [];
      if (!items.length) {
        clear(list, h("p", { class: "empty" }, t("quality.empty")));
        return;
      }
      clear(
        list,
        h(
          "table",
          { class: "table" },
          h("thead", {}, h("tr", {}, [t("tickets.conversation"), t("quality.score"), t("quality.failed"), t("quality.scored_at")].map((c) => h("th", { scope: "col" }, c)))),
          h(
            "tbody",
            {},
            items.map((r) => {
              const id = r.conversation_id;
              const go = () => ctx.navigate(`#/quality/${encodeURIComponent(id)}`);
              return h(
                "tr",
                { class: id === selected ? "selected" : "", tabindex: 0, "data-testid": "qa-row", "data-conversation": id, onclick: go, onkeydown: (e) => e.key === "Enter" && go() },
                h("td", {}, h("a", { href: `#/quality/${encodeURIComponent(id)}` }, h("code", {}, String(id).slice(0, 12)))),
                h("td", {}, scoreBadge(totalOf(r), r.flagged)),
                h(
                  "td",
                  {},
                  (r.failed || []).length
                    ? h("span", { class: "chips" }, r.failed.map((d) => h("span", { class: "chip chip-warn" }, dimName(d))))
                    : h("span", { class: "muted" }, t("common.none")),
                ),
                h("td", { class: "muted small" }, when(r.scored_at || r.updated_at || r.created_at)),
              );
            }),
          ),
        ),
      );
    } catch (err) {
      if (!stopped) clear(list, notice("error", errorText(err), "qa-error"));
    }
  }

  async function loadDetail(id) {
    clear(detail, h("p", { class: "muted" }, t("common.loading")));
    let r;
    try {
      r = await get(`/v1/qa/${encodeURIComponent(id)}`);
    } catch (err) {
      if (!stopped) clear(detail, notice("error", errorText(err), "qa-detail-error"));
      return;
    }
    if (stopped) return;
    const dims = dimensionsOf(r);
    const rows = dims.map((d) =>
      h(
        "tr",
        { "data-testid": "qa-dimension", "data-dimension": d.name, class: d.passed ? "" : "failed" },
        h("th", { scope: "row" }, dimName(d.name)),
        h(
          "td",
          { class: "num" },
          d.applicable ? badge(num(d.score, 0), d.passed ? "ok" : "danger") : h("span", { class: "muted" }, t("quality.not_applicable")),
          d.overridden ? h("div", {}, badge(t("quality.overridden"), "info")) : null,
        ),
        h(
          "td",
          { class: "reason" },
          d.reasons.length ? h("ul", { class: "reasons" }, d.reasons.map((x) => h("li", {}, reasonLine(x)))) : h("span", { class: "muted" }, "—"),
          d.note ? h("div", { class: "muted small" }, `${t("quality.override_note")}：${d.note}`) : null,
        ),
      ),
    );
    const parts = [
      h(
        "header",
        { class: "detail-head" },
        h("h2", {}, t("quality.title")),
        h("a", { href: `#/inbox/${encodeURIComponent(id)}`, class: "muted small" }, h("code", {}, id)),
        h("span", { class: "grow" }),
        scoreBadge(totalOf(r), r.flagged),
      ),
      (r.reasons || []).length ? h("ul", { class: "notice notice-info reasons", "data-testid": "qa-reasons" }, r.reasons.map((x) => h("li", {}, reasonLine(x)))) : null,
      h(
        "table",
        { class: "table dims" },
        h("thead", {}, h("tr", {}, [t("quality.dimension"), t("quality.override_score"), t("quality.reason")].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, rows),
      ),
    ];
    if (ctx.can("supervisor") && dims.length) {
      const dimSel = h("select", { id: "ov-dim", "data-testid": "override-dimension" }, dims.map((d) => h("option", { value: d.name }, dimName(d.name))));
      const score = h("input", { id: "ov-score", type: "number", step: 1, min: 0, max: 100, required: true, "data-testid": "override-score" });
      const note = h("input", { id: "ov-note", type: "text", maxlength: 500, "data-testid": "override-note" });
      const syncMax = () => {
        const d = dims.find((x) => x.name === dimSel.value);
        if (d && d.score !== null) score.value = d.score;
      };
      dimSel.addEventListener("change", syncMax);
      syncMax();
      parts.push(
        h(
          "form",
          { class: "override-form", "data-testid": "override-form", onsubmit: (e) => e.preventDefault() },
          h("h3", {}, t("quality.override")),
          h("label", { class: "field" }, h("span", {}, t("quality.dimension")), dimSel),
          h("label", { class: "field" }, h("span", {}, t("quality.override_score")), score),
          h("label", { class: "field grow" }, h("span", {}, t("quality.override_note")), note),
          actionButton(t("quality.override_submit"), { class: "btn btn-primary", "data-testid": "override-submit" }, async () => {
            try {
              await post(`/v1/qa/${encodeURIComponent(id)}/override`, { dimension: dimSel.value, score: Number(score.value), note: note.value.trim() });
              ctx.toast("ok", t("common.saved"));
              loadDetail(id);
              loadList();
            } catch (err) {
              ctx.toast("error", errorText(err));
            }
          }),
        ),
      );
    } else if (!ctx.can("supervisor")) {
      parts.push(h("p", { class: "muted small" }, t("quality.supervisor_only")));
    }
    const history = r.overrides || [];
    if (history.length) {
      parts.push(
        h("h3", {}, t("quality.history")),
        h(
          "ol",
          { class: "timeline", "data-testid": "qa-overrides" },
          history.map((o) => h("li", {}, h("time", {}, when(o.at)), h("b", {}, o.by), h("span", {}, `${dimName(o.dimension)}: ${o.before} → ${o.after}`), o.note ? h("span", { class: "muted" }, o.note) : null)),
        ),
      );
    }
    const events = (r.events || []).map(messageNode).filter(Boolean);
    if (events.length) parts.push(h("h3", {}, t("chat.title")), h("ol", { class: "transcript transcript-compact", "data-testid": "qa-transcript" }, events));
    clear(detail, parts);
  }

  loadList();
  if (selected) loadDetail(selected);
  else detail.append(h("div", { class: "placeholder" }, h("p", {}, t("quality.pick"))));
  return () => {
    stopped = true;
  };
}
