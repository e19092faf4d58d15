// The dashboard: KPI tiles and charts for the last 7 or 30 days, from the analytics summary
// endpoints only (a handful of requests whatever the number of conversations), charts drawn by
// charts.js as inline SVG, and the CSV export.

import { get, qs } from "./api.js";
import { barChart, legend, lineChart } from "./charts.js";
import { clear, duration, errorText, h, icon, money, notice, num, pct } from "./dom.js";
import { t } from "./i18n.js";

const RANGE_KEY = "kefu.console.range";

// Days are UTC days, like the analytics API's.
function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

export function rangeOf(days, today = new Date()) {
  const from = new Date(today.getTime() - (days - 1) * 86400000);
  return { from: isoDay(from), to: isoDay(today) };
}

/** Every day from..to as YYYY-MM-DD (the x axis, with empty days kept). */
function daysBetween(from, to) {
  const out = [];
  const end = Date.parse(`${to}T00:00:00Z`);
  for (let ms = Date.parse(`${from}T00:00:00Z`); ms <= end && out.length < 400; ms += 86400000) {
    out.push(isoDay(new Date(ms)));
  }
  return out;
}

/** The list inside an answer, whatever the endpoint calls it. */
function rows(data) {
  if (Array.isArray(data)) return data;
  if (!data || typeof data !== "object") return [];
  for (const key of ["items", "points", "series", "days", "data", "rows"]) {
    if (Array.isArray(data[key])) return data[key];
  }
  return [];
}

const dayOf = (row) => String(row.date || row.day || row.x || row.bucket || "").slice(0, 10);
const valueOf = (row) => {
  for (const key of ["value", "y", "count", "turns", "conversations", "rate"]) if (typeof row[key] === "number") return row[key];
  return null;
};

/** "flow:return_items" -> "流程 · return_items"; FAQ ids and the rest as they are. */
function intentLabel(intent) {
  const text = String(intent);
  if (text.startsWith("flow:")) return `${t("handoff.flow")} · ${text.slice(5)}`;
  return t(`intent.${text}`) === `intent.${text}` ? text : t(`intent.${text}`);
}

function rate(value) {
  return typeof value === "number" ? value : null;
}

function roiText(roi, symbol) {
  if (roi === null || roi === undefined) return { value: "—", sub: "" };
  if (typeof roi === "number") return { value: pct(roi, 0), sub: "" };
  const ratio = roi.roi ?? roi.ratio ?? roi.multiple ?? null;
  const saved = roi.net_saving_per_month ?? roi.money_saved_per_month ?? roi.net_savings ?? roi.savings;
  return {
    value: typeof ratio === "number" ? pct(ratio, 0) : saved !== undefined ? money(saved, symbol) : "—",
    sub: typeof ratio === "number" && saved !== undefined ? t("kpi.net_saving", { v: money(saved, symbol) }) : "",
  };
}

function csatText(csat) {
  if (csat === null || csat === undefined) return "—";
  if (typeof csat === "number") return `${num(csat, 2)} / 5`;
  const avg = csat.average ?? csat.mean ?? csat.score;
  if (typeof avg === "number") return `${num(avg, 2)} / 5`;
  if (typeof csat.rate === "number") return pct(csat.rate);
  return "—";
}

function tile(key, value, sub) {
  return h(
    "div",
    { class: "kpi", "data-testid": `kpi-${key}` },
    h("div", { class: "kpi-label" }, t(`kpi.${key}`)),
    h("div", { class: "kpi-value", "data-testid": "kpi-value" }, value),
    sub ? h("div", { class: "kpi-sub muted small" }, sub) : null,
  );
}

function panel(title, testid, body, extra) {
  return h("section", { class: "panel", "data-testid": testid }, h("header", { class: "panel-head" }, h("h2", {}, title), extra || null), h("div", { class: "panel-body" }, body));
}

function pending() {
  return h("p", { class: "muted" }, t("common.loading"));
}

function failed(err) {
  return notice("error", errorText(err));
}

export function render(ctx, main) {
  let days = Number(window.localStorage.getItem(RANGE_KEY)) === 30 ? 30 : 7;
  let stopped = false;

  const kpis = h("div", { class: "kpis", "data-testid": "kpis" });
  const daily = h("div", { class: "chart-box", "data-testid": "chart-daily" }, pending());
  const intents = h("div", { class: "chart-box", "data-testid": "chart-intents" }, pending());
  const emotion = h("div", { class: "chart-box", "data-testid": "chart-emotion" }, pending());
  const unanswered = h("div", { class: "chart-box", "data-testid": "chart-unanswered" }, pending());
  const rangeSelect = h(
    "select",
    { id: "range", "data-testid": "range-select" },
    h("option", { value: "7" }, t("dashboard.last7")),
    h("option", { value: "30" }, t("dashboard.last30")),
  );
  rangeSelect.value = String(days);
  const exportLink = h("a", { class: "btn btn-secondary btn-sm", "data-testid": "export-csv", download: "" }, icon("download", 16), t("dashboard.export"));

  main.append(
    h(
      "div",
      { class: "page dashboard" },
      h(
        "div",
        { class: "page-head" },
        h("h1", {}, t("dashboard.title")),
        h("span", { class: "grow" }),
        h("label", { class: "inline-field" }, h("span", {}, t("dashboard.range")), rangeSelect),
        exportLink,
      ),
      kpis,
      h(
        "div",
        { class: "grid-2" },
        panel(t("chart.daily"), "panel-daily", daily),
        panel(t("chart.intents"), "panel-intents", intents),
        panel(t("chart.emotion"), "panel-emotion", emotion),
        panel(t("chart.unanswered"), "panel-unanswered", unanswered),
      ),
    ),
  );

  rangeSelect.addEventListener("change", () => {
    days = Number(rangeSelect.value) === 30 ? 30 : 7;
    window.localStorage.setItem(RANGE_KEY, String(days));
    load();
  });

  async function loadSummary(q) {
    clear(kpis, h("div", { class: "muted" }, t("common.loading")));
    try {
      const s = await get(`/v1/analytics/summary${q}`);
      if (stopped) return;
      const symbol = s.currency_symbol || "¥";
      const roi = roiText(s.roi, symbol);
      const cost = s.llm_cost_per_conversation ?? s.cost_per_conversation;
      clear(
        kpis,
        tile("conversations", num(s.conversations)),
        tile("automation_rate", pct(rate(s.automation_rate)), s.self_resolution_rate !== undefined ? `${t("kpi.self_resolution_rate")} ${pct(rate(s.self_resolution_rate))}` : ""),
        tile("transfer_rate", pct(rate(s.transfer_rate))),
        tile("first_response_time_s", duration(s.first_response_time_s)),
        tile("average_handle_time_s", duration(s.average_handle_time_s)),
        tile("csat", csatText(s.csat)),
        tile("cost_per_conversation", money(cost, symbol)),
        tile("roi", roi.value, roi.sub),
      );
    } catch (err) {
      if (!stopped) clear(kpis, failed(err));
    }
  }

  async function loadDaily(q, range) {
    clear(daily, pending());
    try {
      const [conv, auto] = await Promise.all([
        get(`/v1/analytics/timeseries${q}&metric=conversations`),
        get(`/v1/analytics/timeseries${q}&metric=automation_rate`),
      ]);
      if (stopped) return;
      const labels = daysBetween(range.from, range.to);
      const byDay = (data) => {
        const map = new Map(rows(data).map((r) => [dayOf(r), valueOf(r)]));
        return labels.map((d) => (map.has(d) ? map.get(d) : null));
      };
      const convValues = byDay(conv).map((v) => v ?? 0);
      const series = [
        { name: t("chart.conversations"), values: convValues, format: (v) => num(v), color: "#2563eb" },
        { name: t("chart.automation_rate"), values: byDay(auto), axis: "right", max: 1, format: (v) => pct(v, 0), color: "#16a34a" },
      ];
      const short = labels.map((d) => d.slice(5));
      clear(daily, legend(series), lineChart({ title: t("chart.daily"), labels: short, series }));
    } catch (err) {
      if (!stopped) clear(daily, failed(err));
    }
  }

  async function loadIntents(q) {
    clear(intents, pending());
    try {
      const data = await get(`/v1/analytics/intents${q}`);
      if (stopped) return;
      const items = rows(data)
        .map((r) => ({ label: intentLabel(r.label || r.name || r.intent || r.faq_id || "?"), value: valueOf(r) ?? 0 }))
        .filter((r) => r.value > 0)
        .slice(0, 10);
      clear(intents, items.length ? barChart({ title: t("chart.intents"), items, format: (v) => num(v) }) : h("p", { class: "empty" }, t("chart.no_data")));
    } catch (err) {
      if (!stopped) clear(intents, failed(err));
    }
  }

  async function loadEmotion(q, range) {
    clear(emotion, pending());
    try {
      const data = await get(`/v1/analytics/emotion${q}`);
      if (stopped) return;
      const labels = daysBetween(range.from, range.to);
      const map = new Map(rows(data).map((r) => [dayOf(r), r]));
      const negShare = labels.map((d) => {
        const r = map.get(d);
        if (!r) return null;
        if (r.rated_turns === 0) return null;
        if (typeof r.negative_rate === "number") return r.negative_rate;
        if (typeof r.negative_share === "number") return r.negative_share;
        const total = (r.negative || 0) + (r.neutral || 0) + (r.positive || 0);
        return total ? (r.negative || 0) / total : null;
      });
      const avg = labels.map((d) => {
        const r = map.get(d);
        if (!r) return null;
        for (const k of ["mean_score", "average", "average_score", "mean", "score"]) if (typeof r[k] === "number") return r[k];
        return null;
      });
      const series = [{ name: t("chart.negative"), values: negShare, max: 1, format: (v) => pct(v, 0), color: "#dc2626" }];
      if (avg.some((v) => v !== null)) series.push({ name: t("chart.emotion_score"), values: avg, axis: "right", min: -1, max: 1, format: (v) => num(v, 2), color: "#7c3aed" });
      const any = series.some((one) => one.values.some((v) => v !== null));
      clear(emotion, any ? [legend(series), lineChart({ title: t("chart.emotion"), labels: labels.map((d) => d.slice(5)), series })] : h("p", { class: "empty" }, t("chart.no_data")));
    } catch (err) {
      if (!stopped) clear(emotion, failed(err));
    }
  }

  async function loadUnanswered(q) {
    clear(unanswered, pending());
    try {
      const data = await get(`/v1/analytics/unanswered${q}`);
      if (stopped) return;
      const items = rows(data).slice(0, 10);
      clear(
        unanswered,
        items.length
          ? h(
              "ol",
              { class: "toplist", "data-testid": "unanswered-list" },
              items.map((r) =>
                h("li", {}, h("span", { class: "toplist-text" }, r.question || r.text || r.label || "?"), h("span", { class: "count" }, num(valueOf(r) ?? r.count ?? 0))),
              ),
            )
          : h("p", { class: "empty" }, t("chart.no_data")),
      );
    } catch (err) {
      if (!stopped) clear(unanswered, failed(err));
    }
  }

  function load() {
    const range = rangeOf(days);
    const q = qs({ tenant: ctx.tenant, from: range.from, to: range.to });
    exportLink.href = `/v1/analytics/export.csv${q}`;
    loadSummary(q);
    loadDaily(q, range);
    loadIntents(q);
    loadEmotion(q, range);
    loadUnanswered(q);
  }

  load();
  return () => {
    stopped = true;
  };
}
