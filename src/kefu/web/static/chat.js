/* kefu customer web chat: plain ES2020, no framework, no build step, no external requests. */
"use strict";

(() => {
  const STRINGS = {
    zh: {
      htmlLang: "zh-CN",
      title: "小铺优选 智能客服",
      status: "在线 · 通常秒回",
      toggle: "EN",
      toggleLabel: "EN: Switch to English",
      messagesLabel: "对话记录",
      inputLabel: "输入消息",
      placeholder: "请输入您的问题…",
      send: "发送",
      handoff: "转人工",
      handoffText: "转人工",
      typing: "客服正在输入…",
      bot: "客服",
      me: "我",
      suggestionsLabel: "您可能想问",
      confirmLabel: "确认办理",
      confirmYes: "确认办理",
      confirmYesText: "确认",
      confirmNo: "先不办",
      confirmNoText: "不要",
      handoffNotice: "已为您转接人工客服",
      notSent: "未发送",
      network: "网络异常，请稍后重试。",
      startFailed: "暂时无法连接客服，请稍后刷新重试。",
      tooLong: "消息太长了，请控制在 2000 字以内。",
      agent: "人工客服",
      closedNotice: "本次对话已结束",
      csatTitle: "请为本次服务打分",
      csatStar: "{n} 星",
      csatComment: "还有什么想说的吗？（选填）",
      csatSubmit: "提交评价",
      csatThanks: "感谢您的评价！",
    },
    en: {
      htmlLang: "en",
      title: "Xiaopu Select Assistant",
      status: "Online · usually replies instantly",
      toggle: "中文",
      toggleLabel: "中文：切换到中文",
      messagesLabel: "Conversation",
      inputLabel: "Message",
      placeholder: "Type your question…",
      send: "Send",
      handoff: "Talk to a human",
      handoffText: "Talk to a human",
      typing: "Assistant is typing…",
      bot: "Assistant",
      me: "You",
      suggestionsLabel: "Did you mean",
      confirmLabel: "Confirm",
      confirmYes: "Confirm",
      confirmYesText: "yes",
      confirmNo: "Not now",
      confirmNoText: "no",
      handoffNotice: "Connecting you to a human agent",
      notSent: "Not sent",
      network: "Network problem. Please try again.",
      startFailed: "Can't reach the assistant right now. Please refresh and try again.",
      tooLong: "That message is too long (2000 characters at most).",
      agent: "Agent",
      closedNotice: "This conversation has ended",
      csatTitle: "How did we do?",
      csatStar: "{n} star(s)",
      csatComment: "Anything else to tell us? (optional)",
      csatSubmit: "Send rating",
      csatThanks: "Thanks for your rating!",
    },
  };
  const MAX_CHARS = 2000;

  const $ = (sel) => document.querySelector(sel);
  const list = $('[data-testid="messages"]');
  const form = $(".composer-form");
  const input = $('[data-testid="message-input"]');
  const sendBtn = $('[data-testid="send-button"]');
  const handoffBtn = $('[data-testid="handoff-button"]');
  const langBtn = $('[data-testid="lang-toggle"]');
  const errorLine = $('[data-testid="error"]');

  // sessionStorage can throw (disabled storage, private modes): never let that break the chat.
  const store = {
    get: (k) => { try { return sessionStorage.getItem(k); } catch { return null; } },
    set: (k, v) => { try { sessionStorage.setItem(k, v); } catch { /* ignore */ } },
    del: (k) => { try { sessionStorage.removeItem(k); } catch { /* ignore */ } },
  };

  const params = new URLSearchParams(location.search);
  const tenant = (params.get("tenant") || "").trim() || "demo";
  const CONV_KEY = `kefu:${tenant}:conversation`;
  const LANG_KEY = `kefu:${tenant}:lang`;
  const pickLang = (v) => (v === "zh" || v === "en" ? v : null);

  let lang = pickLang(params.get("lang")) || pickLang(store.get(LANG_KEY)) || "zh";
  let conversationId = null;
  let sentCount = 0; // customer messages in the current conversation
  let busy = false;
  // Live events (agent messages, notices) arrive on an EventSource; `lastSeq` is the newest
  // event this page has shown, `shownSeqs` the live ones rendered (a reconnect never repeats).
  let live = null;
  let liveConv = null;
  let lastSeq = 0;
  const shownSeqs = new Set();
  const t = (key) => STRINGS[lang][key];
  const csatKey = (id) => `kefu:${tenant}:csat:${id}`;

  // ---- small DOM helpers -------------------------------------------------------------------
  function el(tag, attrs = {}, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function nearBottom() {
    return list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  }

  function scrollDown(force = true) {
    if (force || nearBottom()) list.scrollTop = list.scrollHeight;
  }

  function showError(message) {
    errorLine.textContent = message;
    errorLine.hidden = false;
  }

  function clearError() {
    errorLine.textContent = "";
    errorLine.hidden = true;
  }

  function updateSendState() {
    sendBtn.disabled = busy || !input.value.trim();
    handoffBtn.disabled = busy;
  }

  function setBusy(value) {
    busy = value;
    list.setAttribute("aria-busy", String(value));
    updateSendState();
  }

  function autosize() {
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 140)}px`;
  }

  // ---- language --------------------------------------------------------------------------
  function applyLanguage() {
    document.documentElement.lang = t("htmlLang");
    document.title = t("title");
    for (const node of document.querySelectorAll("[data-i18n]")) {
      node.textContent = t(node.dataset.i18n);
    }
    for (const node of document.querySelectorAll("[data-i18n-placeholder]")) {
      node.placeholder = t(node.dataset.i18nPlaceholder);
    }
    for (const node of document.querySelectorAll("[data-i18n-aria]")) {
      node.setAttribute("aria-label", t(node.dataset.i18nAria));
    }
    const typing = list.querySelector(".typing .visually-hidden");
    if (typing) typing.textContent = t("typing");
  }

  // ---- rendering ---------------------------------------------------------------------------
  function addRow(actor, name) {
    const row = el("li", { class: `msg msg-${actor}`, "data-testid": `msg-${actor}` });
    if (actor === "bot") {
      row.append(el("img", { class: "avatar", src: "/static/avatar.svg", alt: "", width: "32", height: "32" }));
    } else if (actor === "agent") {
      const initial = (name || "?").replace(/^key:/, "").trim().charAt(0).toUpperCase() || "?";
      row.append(el("span", { class: "avatar avatar-agent", "aria-hidden": "true" }, initial));
    }
    const body = el("div", { class: "msg-body" });
    if (actor === "agent") {
      body.append(el("span", { class: "msg-name", "data-testid": "agent-name" }, `${t("agent")} · ${name || ""}`));
    } else {
      body.append(el("span", { class: "visually-hidden" }, `${t(actor === "bot" ? "bot" : "me")}:`));
    }
    row.append(body);
    list.append(row);
    return { row, body, bubbles: [] };
  }

  function addAgent(name, text) {
    const msg = addRow("agent", name);
    bubble(msg, 0).textContent = text;
    scrollDown(false);
    return msg;
  }

  function bubble(msg, index) {
    while (msg.bubbles.length <= index) {
      const b = el("div", { class: "bubble" });
      msg.body.append(b);
      msg.bubbles.push(b);
    }
    return msg.bubbles[index];
  }

  function addCustomer(text) {
    const msg = addRow("customer");
    bubble(msg, 0).textContent = text;
    scrollDown();
    return msg;
  }

  function addNotice(text) {
    list.append(el("li", { class: "notice", "data-testid": "notice" }, text));
  }

  // ---- satisfaction (CSAT) -------------------------------------------------------------------
  /** Ask for a 1-5 star rating once per conversation (at its end). */
  function showCsat() {
    if (!conversationId || store.get(csatKey(conversationId)) || list.querySelector(".csat")) return;
    const id = conversationId;
    let score = 0;
    const box = el("li", { class: "csat", "data-testid": "csat" });
    box.append(el("p", { class: "csat-title" }, t("csatTitle")));
    const stars = el("div", { class: "csat-stars", role: "radiogroup", "aria-label": t("csatTitle") });
    const buttons = [];
    for (let n = 1; n <= 5; n++) {
      const b = el("button", {
        type: "button", class: "csat-star", role: "radio", "aria-checked": "false",
        "aria-label": t("csatStar").replace("{n}", String(n)), "data-testid": `csat-star-${n}`,
      }, "\u2605");
      b.addEventListener("click", () => {
        score = n;
        buttons.forEach((other, i) => {
          other.classList.toggle("on", i < n);
          other.setAttribute("aria-checked", String(i + 1 === n));
        });
        submit.disabled = false;
      });
      buttons.push(b);
      stars.append(b);
    }
    const comment = el("textarea", { class: "csat-comment", rows: "2", maxlength: "500", "data-testid": "csat-comment", placeholder: t("csatComment"), "aria-label": t("csatComment") });
    const submit = el("button", { type: "button", class: "csat-submit", "data-testid": "csat-submit" }, t("csatSubmit"));
    submit.disabled = true;
    submit.addEventListener("click", async () => {
      if (!score) return;
      submit.disabled = true;
      const body = { score };
      if (comment.value.trim()) body.comment = comment.value.trim();
      try {
        await api("POST", `${convPath(id)}/csat`, body);
        store.set(csatKey(id), "1");
        box.replaceWith(el("li", { class: "notice", "data-testid": "csat-thanks" }, t("csatThanks")));
      } catch (err) {
        if (err.status === 409) {
          store.set(csatKey(id), "1"); // already rated: nothing to ask
          box.remove();
        } else {
          submit.disabled = false;
          showError((err && err.message) || t("network"));
        }
      }
    });
    box.append(stars, comment, submit);
    list.append(box);
    scrollDown(false);
  }

  // ---- live events (a human agent, notices) ----------------------------------------------------
  /** An event pushed by the server that the turn path does not render itself. */
  function onLiveEvent(ev) {
    if (!ev || typeof ev.seq !== "number" || shownSeqs.has(ev.seq)) return;
    lastSeq = Math.max(lastSeq, ev.seq);
    const payload = ev.payload || {};
    if (ev.type === "agent_message") {
      shownSeqs.add(ev.seq);
      addAgent(payload.agent, ev.text || "");
    } else if (ev.type === "handoff_taken") {
      shownSeqs.add(ev.seq);
      if (ev.text) addNotice(ev.text);
      scrollDown(false);
    } else if (ev.type === "bot_reply" && payload.intent === "handoff_released") {
      shownSeqs.add(ev.seq);
      disableSuggestions();
      renderTurn(Array.isArray(payload.replies) ? payload : { replies: [{ text: ev.text || "" }] });
      showCsat();
    } else if (ev.type === "notice") {
      // news for the customer (e.g. what the approver decided): a bot bubble, no buttons
      shownSeqs.add(ev.seq);
      disableSuggestions();
      renderTurn({ replies: [{ text: ev.text || "" }] });
    } else if (ev.type === "conversation_closed") {
      shownSeqs.add(ev.seq);
      addNotice(t("closedNotice"));
      closeLive();
      showCsat();
    }
  }

  function closeLive() {
    if (live) live.close();
    live = null;
    liveConv = null;
  }

  /** Keep one EventSource on the conversation's events after the newest one shown. */
  function ensureLive() {
    if (!conversationId || typeof EventSource === "undefined") return;
    if (live && liveConv === conversationId && live.readyState !== EventSource.CLOSED) return;
    closeLive();
    liveConv = conversationId;
    live = new EventSource(`${convPath(conversationId)}/stream?after=${lastSeq}`);
    live.addEventListener("message", (e) => {
      let ev;
      try { ev = JSON.parse(e.data); } catch { return; }
      onLiveEvent(ev);
    });
  }

  /** After a turn: note its seq, keep the live stream open, ask for a rating after a goodbye. */
  function afterTurn(turn) {
    if (turn && typeof turn.seq === "number") lastSeq = Math.max(lastSeq, turn.seq);
    ensureLive();
    if (turn && turn.decision === "chitchat" && turn.intent === "goodbye") showCsat();
  }

  function disableSuggestions() {
    for (const b of list.querySelectorAll(".suggestions button")) b.disabled = true;
  }

  /** A write's preview waits for an explicit yes: two buttons that send it (or a no). */
  function renderConfirm(msg) {
    const group = el("div", { class: "suggestions confirm", role: "group", "aria-label": t("confirmLabel") });
    const yes = el("button", { type: "button", class: "suggestion confirm-yes", "data-testid": "confirm-yes" }, t("confirmYes"));
    const no = el("button", { type: "button", class: "suggestion", "data-testid": "confirm-no" }, t("confirmNo"));
    yes.addEventListener("click", () => send(t("confirmYesText")));
    no.addEventListener("click", () => send(t("confirmNoText")));
    group.append(yes, no);
    msg.body.append(group);
  }

  function renderSuggestions(msg, suggestions) {
    const group = el("div", { class: "suggestions", role: "group", "aria-label": t("suggestionsLabel") });
    for (const s of suggestions) {
      const b = el("button", { type: "button", class: "suggestion", "data-testid": "suggestion" }, s.text);
      b.addEventListener("click", () => send(s.text));
      group.append(b);
    }
    msg.body.append(group);
  }

  /** Finish a bot message from a turn (live `done`, a non-streamed turn, or a stored event). */
  function renderTurn(turn, msg = addRow("bot")) {
    const replies = Array.isArray(turn.replies) ? turn.replies : [];
    replies.forEach((r, i) => {
      const b = bubble(msg, i);
      b.textContent = r.text || "";
      b.classList.toggle("preview", r.type === "preview");
    });
    if (turn.decision === "clarify" && Array.isArray(turn.suggestions) && turn.suggestions.length) {
      renderSuggestions(msg, turn.suggestions);
    }
    const last = replies[replies.length - 1];
    if (last && last.type === "preview" && turn.flow) renderConfirm(msg);
    if (turn.handoff || turn.decision === "handoff") addNotice(t("handoffNotice"));
    scrollDown();
    return msg;
  }

  function showTyping() {
    hideTyping();
    const row = el("li", { class: "msg msg-bot typing" });
    row.append(el("img", { class: "avatar", src: "/static/avatar.svg", alt: "", width: "32", height: "32" }));
    const b = el("div", { class: "bubble" });
    b.append(el("span", { class: "visually-hidden" }, t("typing")));
    for (let i = 0; i < 3; i++) b.append(el("span", { class: "dot", "aria-hidden": "true" }));
    row.append(b);
    list.append(row);
    scrollDown();
  }

  function hideTyping() {
    for (const node of list.querySelectorAll(".typing")) node.remove();
  }

  // ---- API ---------------------------------------------------------------------------------
  class ApiError extends Error {
    constructor(message, status = 0, code = "network") {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  async function apiError(res) {
    let message = "";
    let code = "http_error";
    try {
      const body = await res.json();
      message = body && body.error && body.error.message;
      code = (body && body.error && body.error.code) || code;
    } catch { /* not JSON */ }
    return new ApiError(message || t("network"), res.status, code);
  }

  async function api(method, path, body) {
    let res;
    try {
      res = await fetch(path, {
        method,
        headers: body ? { "Content-Type": "application/json", Accept: "application/json" } : { Accept: "application/json" },
        body: body ? JSON.stringify(body) : undefined,
      });
    } catch {
      throw new ApiError(t("network"));
    }
    if (!res.ok) throw await apiError(res);
    return res.json();
  }

  const convPath = (id) => `/v1/conversations/${encodeURIComponent(id)}`;

  async function startConversation() {
    const conv = await api("POST", "/v1/conversations", { tenant, channel: "web", language: lang });
    closeLive();
    conversationId = conv.id;
    sentCount = 0;
    lastSeq = 0;
    store.set(CONV_KEY, conv.id);
    if (conv.welcome) renderTurn({ replies: [conv.welcome], decision: "welcome" });
  }

  /** Re-render a stored conversation; false when it no longer exists. */
  async function restore(id) {
    let conv;
    try {
      conv = await api("GET", convPath(id));
    } catch (err) {
      if (err.status === 404) return false;
      throw err;
    }
    if (conv.tenant !== tenant) return false;
    conversationId = conv.id;
    sentCount = 0;
    let last = null;
    let closed = false;
    for (const ev of conv.events || []) {
      lastSeq = Math.max(lastSeq, ev.seq || 0);
      if (ev.type === "agent_message") {
        addAgent((ev.payload || {}).agent, ev.text || "");
        last = null;
      } else if (ev.type === "handoff_taken") {
        if (ev.text) addNotice(ev.text);
      } else if (ev.type === "notice") {
        disableSuggestions();
        renderTurn({ replies: [{ text: ev.text || "" }] });
        last = null;
      } else if (ev.type === "conversation_closed") {
        addNotice(t("closedNotice"));
        closed = true;
      } else if (ev.type === "customer_message") {
        addCustomer(ev.text || "");
        sentCount += 1;
        last = null;
      } else if (ev.type === "bot_reply") {
        const payload = ev.payload && Array.isArray(ev.payload.replies) ? ev.payload : { replies: [{ text: ev.text || "" }] };
        disableSuggestions();
        last = renderTurn(payload);
      }
    }
    if (!last) disableSuggestions();
    if (sentCount > 0 && !closed) ensureLive();
    return true;
  }

  /** Parse server-sent events from a fetch() body; calls onEvent(name, data) per event. */
  async function readEvents(res, onEvent) {
    const dispatch = (block) => {
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (!line || line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "event") name = value;
        else if (field === "data") data.push(value);
      }
      if (data.length) onEvent(name, JSON.parse(data.join("\n")));
    };
    if (!res.body || !res.body.getReader) {
      (await res.text()).replace(/\r\n/g, "\n").split("\n\n").forEach(dispatch);
      return;
    }
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
      buffer = buffer.replace(/\r\n/g, "\n");
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        dispatch(buffer.slice(0, cut));
        buffer = buffer.slice(cut + 2);
      }
      if (done) {
        if (buffer.trim()) dispatch(buffer);
        return;
      }
    }
  }

  /** Send one message and render the streamed reply. Resolves when the turn is complete. */
  async function streamTurn(text) {
    let res;
    try {
      res = await fetch(`${convPath(conversationId)}/messages/stream`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
        body: JSON.stringify({ text }),
      });
    } catch {
      // The stream could not even be opened: try the plain endpoint once.
      hideTyping();
      const turn = await api("POST", `${convPath(conversationId)}/messages`, { text });
      if (turn.replies && turn.replies.length) renderTurn(turn);
      afterTurn(turn);
      return;
    }
    if (!res.ok) throw await apiError(res);
    if (!(res.headers.get("content-type") || "").includes("text/event-stream")) {
      hideTyping();
      const turn = await res.json();
      if (turn.replies && turn.replies.length) renderTurn(turn);
      afterTurn(turn);
      return;
    }

    let meta = null;
    let msg = null;
    let finished = false;
    const ensureMsg = () => {
      if (!msg) {
        hideTyping();
        msg = addRow("bot");
      }
      return msg;
    };
    try {
      await readEvents(res, (name, data) => {
        if (name === "meta") {
          meta = data;
        } else if (name === "delta") {
          const stick = nearBottom();
          bubble(ensureMsg(), Number(data.index) || 0).textContent += data.text || "";
          scrollDown(stick);
        } else if (name === "done") {
          finished = true;
          if (!msg && !(Array.isArray(data.replies) && data.replies.length)) {
            hideTyping(); // an agent is in charge: nothing from the bot
          } else {
            renderTurn(data, ensureMsg());
          }
          afterTurn(data);
        } else if (name === "error") {
          throw new ApiError((data && data.error && data.error.message) || t("network"));
        }
      });
    } catch (err) {
      if (err instanceof ApiError) throw err;
      if (!msg) throw new ApiError(t("network"));
    }
    if (!finished) {
      // The stream ended early: keep what arrived and still honour the turn's metadata.
      if (!msg && !meta) throw new ApiError(t("network"));
      renderTurn({ ...(meta || {}), replies: [] }, ensureMsg());
    }
  }

  async function send(raw) {
    const text = (raw || "").trim();
    if (!text || busy) return;
    if (text.length > MAX_CHARS) {
      showError(t("tooLong"));
      return;
    }
    clearError();
    setBusy(true);
    try {
      if (!conversationId) {
        showTyping();
        await startConversation();
        hideTyping();
      }
      disableSuggestions();
      const mine = addCustomer(text);
      if (raw === input.value) input.value = "";
      autosize();
      showTyping();
      try {
        await streamTurn(text);
        sentCount += 1;
      } catch (err) {
        mine.row.classList.add("failed");
        mine.body.append(el("span", { class: "failed-label" }, t("notSent")));
        if (err.status === 404 && err.code === "conversation_not_found") {
          conversationId = null; // gone on the server: the next message starts a new one
          store.del(CONV_KEY);
        }
        throw err;
      }
    } catch (err) {
      showError((err && err.message) || t("network"));
    } finally {
      hideTyping();
      setBusy(false);
      scrollDown();
    }
  }

  // ---- events ------------------------------------------------------------------------------
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    send(input.value);
  });

  input.addEventListener("keydown", (e) => {
    if (e.key !== "Enter" || e.shiftKey || e.isComposing || e.keyCode === 229) return;
    e.preventDefault();
    send(input.value);
  });

  input.addEventListener("input", () => {
    autosize();
    updateSendState();
  });

  handoffBtn.addEventListener("click", () => send(t("handoffText")));

  langBtn.addEventListener("click", async () => {
    lang = lang === "zh" ? "en" : "zh";
    store.set(LANG_KEY, lang);
    const url = new URL(location.href);
    url.searchParams.set("lang", lang);
    history.replaceState(null, "", url);
    applyLanguage();
    // Nothing said yet: start over so the welcome (and the conversation) use the new language.
    if (!busy && sentCount === 0) {
      setBusy(true);
      try {
        list.replaceChildren();
        closeLive();
        conversationId = null;
        store.del(CONV_KEY);
        showTyping();
        await startConversation();
        clearError();
      } catch (err) {
        showError((err && err.message) || t("startFailed"));
      } finally {
        hideTyping();
        setBusy(false);
      }
    }
  });

  // ---- start -------------------------------------------------------------------------------
  async function init() {
    applyLanguage();
    setBusy(true);
    showTyping();
    try {
      const saved = store.get(CONV_KEY);
      if (!(saved && (await restore(saved)))) {
        store.del(CONV_KEY);
        await startConversation();
      }
    } catch (err) {
      showError(err && err.status ? err.message : t("startFailed"));
    } finally {
      hideTyping();
      setBusy(false);
      scrollDown();
    }
    if (window.matchMedia("(pointer: fine)").matches) input.focus();
  }

  init();
})();
