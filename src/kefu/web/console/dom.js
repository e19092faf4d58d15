// Small DOM and formatting helpers. Every text from the server goes in as a text node (never as
// HTML), so a customer's message cannot inject markup into an agent's console.

import { lang, t, tOr } from "./i18n.js";

/** h("div", {class: "x", onclick: fn, "data-testid": "y"}, child, "text", [more]) */
export function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      node.className = value;
    } else if (key === "text") {
      node.textContent = value;
    } else if (key in node && typeof value !== "string") {
      node[key] = value;
    } else {
      node.setAttribute(key, value === true ? "" : value);
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else node.append(child instanceof Node ? child : String(child));
  }
}

export function clear(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

/** A notice line: kind is "error", "ok" or "info". */
export function notice(kind, text, testid) {
  return h(
    "div",
    { class: `notice notice-${kind}`, role: kind === "error" ? "alert" : "status", "data-testid": testid },
    text,
  );
}

/** The user-facing text of an error: a prefix by HTTP status, then the server's message. */
export function errorText(err) {
  if (!err || err.status === undefined) return t("error.generic") + String(err);
  if (err.status === 0) return t("error.network");
  const prefix = tOr(`error.${err.status}`, t("error.generic"));
  if (err.status === 401) return prefix;
  return prefix + (err.message || err.code);
}

export function pct(value, digits = 1) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  return `${(value * 100).toFixed(digits)}%`;
}

export function num(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(Number(value))) return "—";
  return Number(value).toLocaleString(lang() === "zh" ? "zh-CN" : "en-US", {
    maximumFractionDigits: digits,
    minimumFractionDigits: 0,
  });
}

export function money(value, symbol = "¥") {
  if (value === null || value === undefined || value === "") return "—";
  const n = Number(value);
  if (Number.isNaN(n)) return String(value);
  const digits = n !== 0 && Math.abs(n) < 0.1 ? 4 : 2;
  const text = Math.abs(n).toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  return `${n < 0 ? "-" : ""}${symbol}${text}`;
}

/** 75 -> "1分15秒" / "1 min 15 s" */
export function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(Number(seconds))) return "—";
  let s = Math.max(0, Math.round(Number(seconds)));
  const zh = lang() === "zh";
  const sep = zh ? "" : " ";
  const d = Math.floor(s / 86400);
  const hr = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  s %= 60;
  const parts = [];
  if (d) parts.push(`${d}${sep}${t("unit.d")}`);
  if (hr) parts.push(`${hr}${sep}${t("unit.h")}`);
  if (m && !d) parts.push(`${m}${sep}${t("unit.min")}`);
  if (!d && !hr) parts.push(`${s}${sep}${t("unit.s")}`);
  return parts.join(zh ? "" : " ");
}

/** An ISO time (UTC, with or without "Z") shown in the browser's local time. */
export function when(iso) {
  if (!iso) return "—";
  const text = /[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`;
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(lang() === "zh" ? "zh-CN" : "en-GB", {
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
  });
}

export function parseTime(iso) {
  if (!iso) return null;
  const text = /[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : ms;
}

/** A label from a key family ("reason", "status", ...) falling back to the raw value. */
export function label(family, value) {
  if (value === null || value === undefined || value === "") return "—";
  return tOr(`${family}.${value}`, String(value));
}

export function badge(text, kind, testid) {
  return h("span", { class: `badge badge-${kind || "neutral"}`, "data-testid": testid }, text);
}

/** A button that disables itself while its async action runs. */
export function actionButton(text, attrs, action) {
  const btn = h("button", { type: "button", ...attrs }, text);
  btn.addEventListener("click", async (event) => {
    event.preventDefault();
    if (btn.disabled) return;
    btn.disabled = true;
    try {
      await action(btn);
    } finally {
      if (btn.isConnected) btn.disabled = false;
    }
  });
  return btn;
}

// Line icons (24×24, stroke = currentColor), drawn inline: no icon font, no emoji font needed.
const ICONS = {
  inbox: "M4 13h4l2 3h4l2-3h4M5 5h14l1 8v6H4v-6z",
  tickets: "M4 7a2 2 0 0 0 2-2h12a2 2 0 0 0 2 2v2a3 3 0 0 0 0 6v2a2 2 0 0 0-2 2H6a2 2 0 0 0-2-2v-2a3 3 0 0 0 0-6zM10 5v14",
  quality: "M12 3l7 3v5c0 4.5-3 8-7 10-4-2-7-5.5-7-10V6zM8.5 12l2.5 2.5 4.5-5",
  dashboard: "M4 20V10M10 20V4M16 20v-7M22 20H2",
  drafts: "M5 20h14M6 16l9.5-9.5 3 3L9 19H6zM13.5 8.5l3 3",
  refresh: "M20 11a8 8 0 1 0-2.3 5.7M20 4v7h-7",
  clock: "M12 7v5l3 2M12 21a9 9 0 1 1 0-18 9 9 0 0 1 0 18z",
  chat: "M4 5h16v11H9l-5 4zM8 9h8M8 12h5",
  download: "M12 4v11M7 10l5 5 5-5M5 20h14",
  play: "M7 5l12 7-12 7z",
};

export function icon(name, size = 18) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", String(size));
  svg.setAttribute("height", String(size));
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", "icon");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", ICONS[name] || "");
  path.setAttribute("fill", "none");
  path.setAttribute("stroke", "currentColor");
  path.setAttribute("stroke-width", "1.8");
  path.setAttribute("stroke-linecap", "round");
  path.setAttribute("stroke-linejoin", "round");
  svg.append(path);
  return svg;
}
