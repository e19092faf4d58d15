// The inbox: the queue of handoffs (waiting, then in progress) as cards with the structured
// handoff object, live through the desk's SSE stream (or a 5 s refresh when there is none), and
// the chat pane of one conversation: transcript + live events, reply, hand back, close.

import { ApiError, get, post, qs } from "./api.js";
import { actionButton, badge, clear, duration, errorText, h, icon, label, notice, parseTime, when } from "./dom.js";
import { t } from "./i18n.js";

const POLL_MS = 5000;

function emotionChip(emotion) {
  if (!emotion || !emotion.label) return null;
  const kind = { negative: "danger", positive: "ok", neutral: "neutral" }[emotion.label] || "neutral";
  const score = typeof emotion.score === "number" ? ` ${emotion.score.toFixed(2)}` : "";
  return badge(`${label("emotion", emotion.label)}${score}`, kind, "emotion");
}

function reasonBadge(reason) {
  const kind = ["complaint", "emotion"].includes(reason) ? "danger" : reason === "customer_request" ? "info" : "warn";
  return badge(label("reason", reason), kind, "reason");
}

function opName(op) {
  if (typeof op === "string") return op;
  if (!op) return "";
  const args = op.arguments && Object.keys(op.arguments).length ? ` (${Object.values(op.arguments).join(", ")})` : "";
  return `${op.name || op.operation || "?"}${args}`;
}

/** The structured handoff object as definition rows (used by the card and the chat pane). */
export function handoffDetails(handoff, { full = false } = {}) {
  if (!handoff) return null;
  const rows = [];
  const add = (key, value) => {
    if (value === null || value === undefined || value === "" || (Array.isArray(value) && !value.length)) return;
    rows.push(h("dt", {}, t(key)), h("dd", {}, value));
  };
  const slots = Object.entries(handoff.slots || {}).filter(([, v]) => v !== null && v !== "");
  add("handoff.intent", handoff.intent);
  if (full) add("handoff.flow", handoff.flow);
  add(
    "handoff.slots",
    slots.length ? h("span", { class: "chips" }, slots.map(([k, v]) => h("span", { class: "chip" }, h("b", {}, k), ` ${typeof v === "object" ? JSON.stringify(v) : v}`))) : null,
  );
  const ops = handoff.operations || {};
  const done = (ops.done || []).map(opName).filter(Boolean);
  const pending = (ops.pending || []).map(opName).filter(Boolean);
  add("handoff.ops_done", done.length ? h("span", { class: "chips" }, done.map((o) => h("span", { class: "chip chip-ok" }, "✓ ", o))) : null);
  add(
    "handoff.ops_pending",
    pending.length ? h("span", { class: "chips" }, pending.map((o) => h("span", { class: "chip chip-warn" }, "… ", o))) : null,
  );
  if (full) {
    add("handoff.customer", handoff.customer);
    if (typeof handoff.order_value === "number") add("handoff.order_value", `¥${handoff.order_value.toFixed(2)}`);
  }
  return rows.length ? h("dl", { class: "facts" }, rows) : null;
}

function summaryBlock(handoff) {
  const lines = (handoff && handoff.summary) || [];
  if (!lines.length) return null;
  return h(
    "ol",
    { class: "summary", "aria-label": t("handoff.summary"), "data-testid": "handoff-summary" },
    lines.map((line) => h("li", {}, line)),
  );
}

export function render(ctx, main, params) {
  const selected = params[0] || "";
  let items = [];
  let fetchedAt = Date.now();
  let stopped = false;
  let pollTimer = null;
  let deskStream = null;
  let chat = null;
  const unread = new Set();

  const list = h("div", { class: "inbox-list", "data-testid": "inbox-list", "aria-live": "polite" });
  const live = h("span", { class: "live-dot", "data-testid": "inbox-live" }, t("inbox.polling"));
  const pane = h("section", { class: "inbox-pane", "data-testid": "chat-pane" });
  const listColumn = h(
    "section",
    { class: "inbox-column" },
    h(
      "div",
      { class: "column-head" },
      h("h1", {}, t("inbox.title")),
      live,
      h("button", { type: "button", class: "btn btn-ghost btn-icon", title: t("common.refresh"), "aria-label": t("common.refresh"), onclick: () => refresh() }, icon("refresh")),
    ),
    ctx.can("agent") ? null : notice("info", t("inbox.read_only"), "read-only"),
    list,
  );
  main.append(h("div", { class: "inbox" }, listColumn, pane));

  async function take(item, button) {
    try {
      await post(`/v1/conversations/${encodeURIComponent(item.conversation_id)}/take`);
      ctx.navigate(`#/inbox/${encodeURIComponent(item.conversation_id)}`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) {
        ctx.toast("error", t("inbox.already_taken") + err.message);
        refresh();
      } else {
        ctx.toast("error", errorText(err));
      }
    }
    return button;
  }

  function card(item) {
    const handoff = { reason: item.reason, queue: item.queue, ...(item.handoff || {}) };
    const since = fetchedAt - (item.waiting_s || 0) * 1000;
    const isSelected = item.conversation_id === selected;
    const mine = item.taken_by && item.taken_by === ctx.me.name;
    const actions = [];
    if (item.status === "waiting" && ctx.can("agent")) {
      actions.push(actionButton(t("inbox.take"), { class: "btn btn-primary btn-sm", "data-testid": "take-button" }, (b) => take(item, b)));
    }
    actions.push(
      h("a", { class: "btn btn-secondary btn-sm", href: `#/inbox/${encodeURIComponent(item.conversation_id)}`, "data-testid": "open-button" }, t("inbox.open")),
    );
    return h(
      "article",
      {
        class: `card handoff-card${isSelected ? " selected" : ""}${item.status === "waiting" ? " waiting" : ""}`,
        "data-testid": "inbox-item",
        "data-conversation": item.conversation_id,
        "data-status": item.status,
      },
      h(
        "header",
        { class: "card-head" },
        reasonBadge(handoff.reason),
        emotionChip(handoff.emotion),
        unread.has(item.conversation_id) ? badge(t("inbox.new_message"), "info", "unread") : null,
        h("span", { class: "grow" }),
        item.status === "waiting"
          ? h("span", { class: "waiting-time", "data-since": since, title: t("inbox.waiting_for") }, icon("clock"), duration(item.waiting_s))
          : h("span", { class: "muted small" }, `${t("inbox.taken_by")}: ${item.taken_by || "—"}${mine ? " ✓" : ""}`),
      ),
      h("div", { class: "card-meta muted small" }, [handoff.intent, item.queue || handoff.queue].filter(Boolean).join(" · ")),
      summaryBlock(handoff),
      handoffDetails({ ...handoff, intent: null }),
      h("footer", { class: "card-actions" }, actions),
    );
  }

  function renderList() {
    const waiting = items.filter((i) => i.status === "waiting");
    const active = items.filter((i) => i.status !== "waiting");
    const section = (title, rows, testid) =>
      h(
        "div",
        { class: "queue-section", "data-testid": testid },
        h("h2", { class: "section-title" }, title, h("span", { class: "count" }, rows.length)),
        rows.length ? rows.map(card) : null,
      );
    clear(
      list,
      section(t("inbox.waiting"), waiting, "queue-waiting"),
      waiting.length ? null : h("p", { class: "empty" }, t("inbox.empty")),
      active.length ? section(t("inbox.active"), active, "queue-active") : null,
    );
  }

  let inflight = null;
  async function refresh() {
    if (stopped) return;
    if (inflight) return inflight; // one request at a time, never a storm
    inflight = (async () => {
      try {
        const data = await get(`/v1/inbox${qs({ tenant: ctx.tenant, status: "open" })}`);
        items = (data && data.items) || [];
        fetchedAt = Date.now();
        if (!stopped) renderList();
      } catch (err) {
        if (!stopped) clear(list, notice("error", errorText(err), "inbox-error"));
      } finally {
        inflight = null;
      }
    })();
    return inflight;
  }

  function startPolling() {
    live.textContent = t("inbox.polling");
    live.classList.remove("on");
    if (!pollTimer) pollTimer = setInterval(() => !document.hidden && refresh(), POLL_MS);
  }

  function startDeskStream() {
    if (typeof EventSource === "undefined") return startPolling();
    let opened = false;
    let timer = null;
    const soon = () => {
      clearTimeout(timer);
      timer = setTimeout(refresh, 150); // a burst of events costs one request
    };
    deskStream = new EventSource(`/v1/desk/stream${qs({ tenant: ctx.tenant })}`);
    deskStream.onopen = () => {
      opened = true;
      live.textContent = t("inbox.live");
      live.classList.add("on");
      if (pollTimer) {
        clearInterval(pollTimer);
        pollTimer = null;
      }
    };
    // `inbox` carries the open handoffs themselves: render them, no request needed
    deskStream.addEventListener("inbox", (message) => {
      try {
        const data = JSON.parse(message.data);
        items = (data && data.items) || [];
        fetchedAt = Date.now();
        if (!stopped) renderList();
      } catch {
        soon();
      }
    });
    // `message`: a customer wrote in a conversation this agent holds
    deskStream.addEventListener("message", (message) => {
      try {
        const data = JSON.parse(message.data);
        if (data && data.conversation_id && data.conversation_id !== selected) {
          unread.add(data.conversation_id);
          renderList();
        }
      } catch {
        /* ignore a malformed event */
      }
    });
    deskStream.onerror = () => {
      if (!opened || deskStream.readyState === EventSource.CLOSED) {
        deskStream.close();
        deskStream = null;
        startPolling();
      }
    };
  }

  // one ticker updates the waiting times locally (no request)
  const ticker = setInterval(() => {
    for (const node of list.querySelectorAll(".waiting-time[data-since]")) {
      const secs = (Date.now() - Number(node.dataset.since)) / 1000;
      node.lastChild.textContent = duration(secs);
    }
  }, 1000);

  refresh();
  startDeskStream();
  if (selected) {
    chat = openChat(ctx, pane, selected, () => refresh());
  } else {
    pane.append(h("div", { class: "placeholder" }, icon("chat", 40), h("p", {}, t("inbox.pick"))));
  }

  return () => {
    stopped = true;
    clearInterval(ticker);
    if (pollTimer) clearInterval(pollTimer);
    if (deskStream) deskStream.close();
    if (chat) chat();
  };
}

// -- the chat pane ---------------------------------------------------------------------------

const SYSTEM_EVENTS = new Set([
  "conversation_started",
  "handoff_requested",
  "handoff_taken",
  "handoff_released",
  "conversation_closed",
  "ticket_opened",
  "csat",
]);

function systemText(event) {
  const p = event.payload || {};
  const vars = {
    ...p,
    reason: label("reason", p.handoff && p.handoff.reason),
    agent: p.agent || "",
    by: p.by || "",
  };
  return t(`event.${event.type}`, vars);
}

export function messageNode(event) {
  if (SYSTEM_EVENTS.has(event.type)) {
    return h("li", { class: "msg msg-system", "data-testid": `event-${event.type}`, "data-seq": event.seq }, h("span", {}, systemText(event)), h("time", {}, when(event.created_at)));
  }
  const actor = { customer_message: "customer", bot_reply: "bot", agent_message: "agent" }[event.type];
  if (!actor) return null;
  const who = actor === "agent" && event.payload && event.payload.agent ? `${t("actor.agent")} · ${event.payload.agent}` : t(`actor.${actor}`);
  return h(
    "li",
    { class: `msg msg-${actor}`, "data-testid": `msg-${actor}`, "data-seq": event.seq },
    h("div", { class: "msg-meta" }, h("span", {}, who), h("time", {}, when(event.created_at))),
    h("div", { class: "bubble" }, event.text || ""),
  );
}

/** Who is in charge, from the events: waiting / taken (by whom) / bot / closed. */
function statusOf(events) {
  let status = { state: "bot", agent: null, handoff: null };
  for (const e of events) {
    const p = e.payload || {};
    if (e.type === "handoff_requested") status = { state: "waiting", agent: null, handoff: p.handoff || null };
    else if (e.type === "handoff_taken") status = { ...status, state: "taken", agent: p.agent || null };
    else if (e.type === "handoff_released") status = { ...status, state: "bot", agent: null };
    else if (e.type === "conversation_closed") status = { ...status, state: "closed" };
  }
  return status;
}

function openChat(ctx, pane, conversationId, onChange) {
  let events = [];
  let lastSeq = 0;
  let stream = null;
  let stopped = false;
  const seen = new Set();

  const transcript = h("ol", { class: "transcript", "data-testid": "transcript", "aria-live": "polite" });
  const head = h("div", { class: "chat-head" });
  const side = h("aside", { class: "chat-side", "data-testid": "handoff-details" });
  const composer = h("div", { class: "composer" });
  clear(
    pane,
    head,
    h("div", { class: "chat-body" }, h("div", { class: "chat-main" }, transcript, composer), side),
  );
  transcript.append(h("li", { class: "muted" }, t("common.loading")));

  function push(event) {
    if (seen.has(event.seq)) return false;
    seen.add(event.seq);
    events.push(event);
    lastSeq = Math.max(lastSeq, event.seq);
    const node = messageNode(event);
    if (node) transcript.append(node);
    return true;
  }

  function scrollDown() {
    transcript.scrollTop = transcript.scrollHeight;
  }

  function renderControls() {
    const status = statusOf(events);
    const mine = status.state === "taken" && status.agent === ctx.me.name;
    const badges = {
      waiting: badge(t("inbox.waiting"), "warn", "chat-status"),
      taken: badge(`${t("inbox.active")} · ${status.agent || ""}`, "info", "chat-status"),
      bot: badge(t("actor.bot"), "neutral", "chat-status"),
      closed: badge(t("chat.closed"), "neutral", "chat-status"),
    };
    const buttons = [];
    if (status.state === "waiting" && ctx.can("agent")) {
      buttons.push(
        actionButton(t("inbox.take"), { class: "btn btn-primary btn-sm", "data-testid": "chat-take" }, async () => {
          try {
            await post(`/v1/conversations/${encodeURIComponent(conversationId)}/take`);
            await catchUp();
            onChange();
          } catch (err) {
            ctx.toast("error", err.status === 409 ? t("inbox.already_taken") + err.message : errorText(err));
          }
        }),
      );
    }
    const manage = mine || (ctx.can("supervisor") && status.state === "taken");
    if (manage) {
      buttons.push(
        actionButton(t("chat.release"), { class: "btn btn-secondary btn-sm", "data-testid": "release-button" }, async () => {
          try {
            await post(`/v1/conversations/${encodeURIComponent(conversationId)}/release`);
            ctx.toast("ok", t("chat.released"));
            await catchUp();
            onChange();
          } catch (err) {
            ctx.toast("error", errorText(err));
          }
        }),
        actionButton(t("chat.close"), { class: "btn btn-danger-outline btn-sm", "data-testid": "close-button" }, async () => {
          if (!window.confirm(t("chat.close_confirm"))) return;
          try {
            await post(`/v1/conversations/${encodeURIComponent(conversationId)}/close`, { reason: "agent" });
            ctx.toast("ok", t("chat.closed"));
            await catchUp();
            onChange();
          } catch (err) {
            ctx.toast("error", errorText(err));
          }
        }),
      );
    }
    clear(
      head,
      h(
        "div",
        { class: "chat-title" },
        h("h2", {}, t("chat.title")),
        h("code", { class: "muted small", "data-testid": "chat-id" }, conversationId),
        badges[status.state],
      ),
      h("div", { class: "chat-actions" }, buttons),
    );
    const handoff = status.handoff;
    clear(
      side,
      handoff
        ? [
            h("h3", {}, t("handoff.reason")),
            h("div", { class: "chips" }, reasonBadge(handoff.reason), emotionChip(handoff.emotion)),
            handoff.summary && handoff.summary.length ? h("h3", {}, t("handoff.summary")) : null,
            summaryBlock(handoff),
            handoffDetails(handoff, { full: true }),
          ]
        : h("p", { class: "muted" }, "—"),
    );
    renderComposer(status, mine);
  }

  function renderComposer(status, mine) {
    if (!ctx.can("agent")) {
      clear(composer, notice("info", t("inbox.read_only")));
      return;
    }
    if (!mine) {
      const text =
        status.state === "taken"
          ? t("chat.not_yours", { agent: status.agent || "?" })
          : status.state === "waiting"
            ? t("chat.take_first")
            : status.state === "closed"
              ? t("chat.closed")
              : t("chat.bot_in_charge");
      clear(composer, h("p", { class: "composer-note muted", "data-testid": "composer-note" }, text));
      return;
    }
    if (composer.querySelector("textarea")) return; // keep a half-typed reply
    const box = h("textarea", {
      id: "reply-box",
      rows: 3,
      maxlength: 2000,
      placeholder: t("chat.reply_placeholder"),
      "aria-label": t("chat.reply_label"),
      "data-testid": "reply-input",
    });
    const send = h("button", { type: "submit", class: "btn btn-primary", "data-testid": "reply-send" }, t("chat.send"));
    const form = h("form", { class: "composer-form" }, box, send);
    async function submit(event) {
      event.preventDefault();
      const text = box.value.trim();
      if (!text || send.disabled) return;
      send.disabled = true;
      try {
        const created = await post(`/v1/conversations/${encodeURIComponent(conversationId)}/agent-messages`, { text });
        box.value = "";
        if (created && typeof created.seq === "number") push(created);
        scrollDown();
      } catch (err) {
        ctx.toast("error", errorText(err));
      } finally {
        send.disabled = false;
        box.focus();
      }
    }
    form.addEventListener("submit", submit);
    box.addEventListener("keydown", (event) => {
      // Enter sends, Shift+Enter breaks the line; never while an IME (拼音) is composing
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) submit(event);
    });
    clear(composer, form);
  }

  async function catchUp() {
    const data = await get(`/v1/conversations/${encodeURIComponent(conversationId)}`);
    let added = false;
    for (const e of data.events || []) added = push(e) || added;
    if (added) scrollDown();
    renderControls();
  }

  function listen() {
    if (typeof EventSource === "undefined" || stopped) return;
    stream = new EventSource(`/v1/conversations/${encodeURIComponent(conversationId)}/stream${qs({ after: lastSeq })}`);
    const onEvent = (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      if (!event || typeof event.seq !== "number") return;
      if (push(event)) {
        scrollDown();
        if (SYSTEM_EVENTS.has(event.type)) {
          renderControls();
          onChange();
        }
      }
    };
    stream.addEventListener("message", onEvent);
    stream.onerror = () => {
      // the browser reconnects by itself; a stream that cannot exist (404) is closed for good
      if (stream && stream.readyState === EventSource.CLOSED) stream = null;
    };
  }

  (async () => {
    try {
      const data = await get(`/v1/conversations/${encodeURIComponent(conversationId)}`);
      if (stopped) return;
      clear(transcript);
      for (const e of data.events || []) push(e);
      scrollDown();
      renderControls();
      listen();
    } catch (err) {
      clear(transcript, notice("error", errorText(err), "chat-error"));
    }
  })();

  return () => {
    stopped = true;
    if (stream) stream.close();
  };
}
