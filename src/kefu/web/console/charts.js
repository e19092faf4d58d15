// A small inline-SVG chart module: line charts (one or two y axes) and horizontal bar charts.
// No library and no canvas: the SVG scales with its box (viewBox), every data point is an
// element with a <title> (hover and screen readers), and the chart has role="img" + a label.

const NS = "http://www.w3.org/2000/svg";
const PALETTE = ["#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed", "#0891b2"];

function s(tag, attrs, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** The smallest "nice" number (1, 2, 2.5, 5 × 10^k) at or above value. */
export function niceCeil(value) {
  if (!(value > 0)) return 1;
  const exp = Math.floor(Math.log10(value));
  const base = 10 ** exp;
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (value <= step * base + 1e-12) return step * base;
  }
  return 10 * base;
}

function frame(title, width, height) {
  const id = `chart-${Math.random().toString(36).slice(2, 9)}`;
  return s(
    "svg",
    {
      class: "chart",
      viewBox: `0 0 ${width} ${height}`,
      role: "img",
      "aria-labelledby": id,
      preserveAspectRatio: "xMidYMid meet",
    },
    s("title", { id }, title),
  );
}

function truncate(text, max) {
  const str = String(text);
  return str.length > max ? `${str.slice(0, max - 1)}…` : str;
}

/**
 * lineChart({title, labels: ["11-01", ...], series: [{name, values: [n|null...], axis: "left"|"right",
 *   color, format: (n) => text, max}], width, height}) -> <svg>
 * A right-axis series (e.g. a rate 0..1) gets its own scale, drawn dashed.
 */
export function lineChart({ title, labels, series, width = 560, height = 250 }) {
  const svg = frame(title, width, height);
  const pad = { top: 16, right: 52, bottom: 30, left: 48 };
  const w = width - pad.left - pad.right;
  const h = height - pad.top - pad.bottom;
  const n = labels.length;
  const x = (i) => pad.left + (n <= 1 ? w / 2 : (i * w) / (n - 1));

  const scales = {};
  for (const axis of ["left", "right"]) {
    const ss = series.filter((one) => (one.axis || "left") === axis);
    if (!ss.length) continue;
    const fixed = ss.find((one) => one.max !== undefined);
    const peak = Math.max(0, ...ss.flatMap((one) => one.values.filter((v) => v !== null && v !== undefined)));
    const whole = ss.every((one) => one.values.every((v) => v === null || v === undefined || Number.isInteger(v)));
    const step = niceCeil((peak || 1) / 4);
    const max = fixed ? fixed.max : 4 * (whole ? Math.max(1, Math.ceil(step)) : step); // 4 nice bands
    const min = Math.min(0, ...ss.map((one) => (one.min !== undefined ? one.min : 0)));
    scales[axis] = { min, max, format: ss[0].format || ((v) => String(v)) };
  }
  const y = (axis, v) => {
    const sc = scales[axis];
    return pad.top + h - ((v - sc.min) / (sc.max - sc.min || 1)) * h;
  };

  // grid and axes labels: 4 bands
  const grid = s("g", { class: "chart-grid" });
  for (let i = 0; i <= 4; i++) {
    const gy = pad.top + (h * i) / 4;
    grid.append(s("line", { x1: pad.left, x2: pad.left + w, y1: gy, y2: gy }));
    for (const axis of Object.keys(scales)) {
      const sc = scales[axis];
      const value = sc.max - ((sc.max - sc.min) * i) / 4;
      grid.append(
        s(
          "text",
          {
            class: "chart-tick",
            x: axis === "left" ? pad.left - 8 : pad.left + w + 8,
            y: gy + 4,
            "text-anchor": axis === "left" ? "end" : "start",
          },
          sc.format(value),
        ),
      );
    }
  }
  svg.append(grid);

  // x labels: at most ~8, evenly spaced
  const every = Math.max(1, Math.ceil(n / 8));
  const xl = s("g", { class: "chart-xlabels" });
  labels.forEach((text, i) => {
    if (i % every && i !== n - 1) return;
    xl.append(s("text", { class: "chart-tick", x: x(i), y: height - 8, "text-anchor": "middle" }, text));
  });
  svg.append(xl);

  series.forEach((one, k) => {
    const axis = one.axis || "left";
    const color = one.color || PALETTE[k % PALETTE.length];
    const g = s("g", { class: "chart-series", "data-series": one.name });
    let d = "";
    let pen = false;
    one.values.forEach((v, i) => {
      if (v === null || v === undefined || Number.isNaN(v)) {
        pen = false;
        return;
      }
      d += `${pen ? "L" : "M"}${x(i).toFixed(1)},${y(axis, v).toFixed(1)}`;
      pen = true;
    });
    if (d) {
      g.append(
        s("path", {
          d,
          fill: "none",
          stroke: color,
          "stroke-width": 2.25,
          "stroke-linejoin": "round",
          "stroke-linecap": "round",
          "stroke-dasharray": axis === "right" ? "6 4" : null,
        }),
      );
    }
    const fmt = one.format || ((v) => String(v));
    one.values.forEach((v, i) => {
      if (v === null || v === undefined || Number.isNaN(v)) return;
      g.append(
        s(
          "circle",
          {
            class: "chart-point",
            cx: x(i).toFixed(1),
            cy: y(axis, v).toFixed(1),
            r: n > 20 ? 2.5 : 3.5,
            fill: "#fff",
            stroke: color,
            "stroke-width": 2,
            "data-value": v,
          },
          s("title", {}, `${labels[i]} · ${one.name}: ${fmt(v)}`),
        ),
      );
    });
    svg.append(g);
  });
  return svg;
}

/** A legend (HTML) for a chart's series. */
export function legend(series) {
  const box = document.createElement("div");
  box.className = "chart-legend";
  series.forEach((one, k) => {
    const item = document.createElement("span");
    item.className = "chart-legend-item";
    const swatch = document.createElement("span");
    swatch.className = `chart-swatch${(one.axis || "left") === "right" ? " chart-swatch-dashed" : ""}`;
    swatch.style.setProperty("--swatch", one.color || PALETTE[k % PALETTE.length]);
    item.append(swatch, one.name);
    box.append(item);
  });
  return box;
}

/**
 * barChart({title, items: [{label, value}], format, color, width}) -> <svg>: horizontal bars,
 * labels on the left (long Chinese intent names fit), values at the bar ends.
 */
export function barChart({ title, items, format = (v) => String(v), color = PALETTE[0], width = 520 }) {
  const row = 28;
  const pad = { top: 4, right: 56, bottom: 4, left: 132 };
  const height = pad.top + pad.bottom + row * Math.max(1, items.length);
  const svg = frame(title, width, height);
  const w = width - pad.left - pad.right;
  const max = niceCeil(Math.max(0, ...items.map((it) => it.value)) || 1);
  items.forEach((it, i) => {
    const top = pad.top + i * row;
    const bw = Math.max(2, (it.value / max) * w);
    const g = s("g", { class: "chart-bar-row" });
    g.append(
      s(
        "text",
        { class: "chart-label", x: pad.left - 10, y: top + row / 2 + 4, "text-anchor": "end" },
        truncate(it.label, 12),
        s("title", {}, String(it.label)),
      ),
    );
    g.append(s("rect", { class: "chart-track", x: pad.left, y: top + 5, width: w, height: row - 10, rx: 4 }));
    g.append(
      s(
        "rect",
        {
          class: "chart-bar",
          x: pad.left,
          y: top + 5,
          width: bw.toFixed(1),
          height: row - 10,
          rx: 4,
          fill: it.color || color,
          "data-value": it.value,
        },
        s("title", {}, `${it.label}: ${format(it.value)}`),
      ),
    );
    g.append(
      s("text", { class: "chart-value", x: pad.left + bw + 8, y: top + row / 2 + 4 }, format(it.value)),
    );
    svg.append(g);
  });
  return svg;
}
