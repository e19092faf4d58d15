// FAQ drafts (supervisor): questions customers asked that the bot could not answer, mined into
// drafts; a supervisor edits one, then approves it (it becomes an FAQ entry) or rejects it.

import { get, patch, post, qs } from "./api.js";
import { actionButton, badge, clear, errorText, h, label, notice, when } from "./dom.js";
import { t } from "./i18n.js";

const STATUSES = ["suggested", "approved", "merged", "rejected"];

function lines(value) {
  if (Array.isArray(value)) return value.join("\n");
  return value || "";
}

export function render(ctx, main) {
  let stopped = false;
  const status = h(
    "select",
    { id: "drafts-status", "data-testid": "drafts-status" },
    h("option", { value: "" }, t("common.all")),
    STATUSES.map((s) => h("option", { value: s }, label("drafts.status", s))),
  );
  status.value = "suggested";
  const list = h("div", { class: "drafts", "data-testid": "drafts-list" });
  main.append(
    h(
      "div",
      { class: "page" },
      h(
        "div",
        { class: "page-head" },
        h("h1", {}, t("drafts.title")),
        h("span", { class: "grow" }),
        h("label", { class: "inline-field" }, h("span", {}, t("tickets.status")), status),
        actionButton(t("drafts.mine"), { class: "btn btn-secondary btn-sm", "data-testid": "drafts-mine" }, async () => {
          try {
            const out = await post(`/v1/drafts/mine${qs({ tenant: ctx.tenant })}`);
            const n = out && (out.created ?? out.count ?? (out.items ? out.items.length : undefined));
            ctx.toast("ok", t("drafts.mined", { n: n ?? "" }));
            load();
          } catch (err) {
            ctx.toast("error", errorText(err));
          }
        }),
      ),
      list,
    ),
  );
  status.addEventListener("change", load);

  function card(d) {
    const editable = !d.status || d.status === "suggested";
    const question = h("input", { type: "text", value: d.question || "", maxlength: 500, disabled: !editable, "data-testid": "draft-question" });
    const answer = h("textarea", { rows: 4, maxlength: 4000, disabled: !editable, "data-testid": "draft-answer" });
    answer.value = d.answer || "";
    if (d.answer_hint) answer.placeholder = `${t("drafts.hint")}${d.hint_faq_id ? ` (${d.hint_faq_id})` : ""}：${d.answer_hint}`;
    const similar = h("textarea", { rows: 2, maxlength: 4000, disabled: !editable, "data-testid": "draft-similar" });
    similar.value = lines(d.similar_questions);
    const changes = () => {
      const out = {};
      const q = question.value.trim();
      const a = answer.value.trim();
      const sim = similar.value.split("\n").map((x) => x.trim()).filter(Boolean);
      if (q && q !== d.question) out.question = q;
      if (a !== (d.answer || "")) out.answer = a;
      if (sim.join("\n") !== lines(d.similar_questions)) out.similar_questions = sim;
      return out;
    };
    const act = (path, done, body) => async () => {
      try {
        const edit = changes();
        if (editable && Object.keys(edit).length) await patch(`/v1/drafts/${d.id}`, edit);
        if (path) await post(`/v1/drafts/${d.id}/${path}`, body);
        ctx.toast("ok", done);
        load();
      } catch (err) {
        ctx.toast("error", errorText(err));
      }
    };
    const count = d.support ?? d.count ?? null;
    const examples = (d.examples || []).filter(Boolean).slice(0, 5); // conversation ids
    return h(
      "article",
      { class: "card draft-card", "data-testid": "draft", "data-id": d.id },
      h(
        "header",
        { class: "card-head" },
        badge(label("drafts.status", d.status || "suggested"), d.status === "approved" || d.status === "merged" ? "ok" : d.status === "rejected" ? "neutral" : "warn"),
        count !== null && count !== undefined ? h("span", { class: "muted small" }, t("drafts.asked", { n: count })) : null,
        h("span", { class: "grow" }),
        h("span", { class: "muted small" }, when(d.created_at)),
      ),
      h("label", { class: "field" }, h("span", {}, t("drafts.question")), question),
      h("label", { class: "field" }, h("span", {}, t("drafts.answer")), answer),
      h("label", { class: "field" }, h("span", {}, t("drafts.similar")), similar),
      examples.length
        ? h(
            "p",
            { class: "draft-examples muted small" },
            t("drafts.examples"),
            examples.map((id, i) => [" ", h("a", { href: `#/inbox/${encodeURIComponent(id)}`, title: id }, `#${i + 1}`)]),
          )
        : null,
      d.near_faq_id ? h("p", { class: "muted small" }, t("drafts.near", { id: d.near_faq_id, score: d.near_score != null ? Number(d.near_score).toFixed(2) : "" })) : null,
      d.note ? h("p", { class: "muted small" }, d.note) : null,
      editable && ctx.can("supervisor")
        ? h(
            "footer",
            { class: "card-actions" },
            actionButton(t("common.save"), { class: "btn btn-secondary btn-sm", "data-testid": "draft-save" }, act(null, t("common.saved"))),
            d.near_faq_id
              ? actionButton(t("drafts.merge"), { class: "btn btn-secondary btn-sm", "data-testid": "draft-merge" }, act("merge", t("drafts.merged"), { faq_id: d.near_faq_id }))
              : null,
            actionButton(t("drafts.reject"), { class: "btn btn-danger-outline btn-sm", "data-testid": "draft-reject" }, act("reject", t("drafts.rejected"))),
            actionButton(t("drafts.approve"), { class: "btn btn-primary btn-sm", "data-testid": "draft-approve" }, act("approve", t("drafts.approved"))),
          )
        : null,
    );
  }

  async function load() {
    clear(list, h("p", { class: "muted" }, t("common.loading")));
    try {
      const data = await get(`/v1/drafts${qs({ tenant: ctx.tenant, status: status.value })}`);
      if (stopped) return;
      const items = (data && data.items) || [];
      clear(list, items.length ? items.map(card) : h("p", { class: "empty" }, t("drafts.empty")));
    } catch (err) {
      if (!stopped) clear(list, notice("error", errorText(err), "drafts-error"));
    }
  }

  load();
  return () => {
    stopped = true;
  };
}
