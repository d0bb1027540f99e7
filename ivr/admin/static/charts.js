// Two small charts as inline SVG, drawn at the width of their box so that
// the labels keep a readable size on a phone. Each bar carries a <title>
// (a tooltip, and what a screen reader reads); the figure has a summary.

import { h, svg } from "./dom.js";
import { categoryName, CATEGORIES } from "./labels.js";

const COLORS = { answered: "#c8102e", after: "#6b7a90", other: "#d5d9e0" };

function niceMax(value) {
  if (value <= 5) return 5;
  const step = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * step >= value) return m * step;
  return value;
}

function legend(items) {
  return h(
    "ul",
    { class: "legend" },
    items.map(([color, label]) => h("li", null, h("span", { class: "swatch", css: { background: color } }), label)),
  );
}

/** Calls per hour: answered by people, after hours (the voice menu), the rest. */
export function hourChart(stats, width) {
  const total = stats.per_hour || Array(24).fill(0);
  const answered = stats.answered_per_hour || Array(24).fill(0);
  const after = stats.after_hours_per_hour || Array(24).fill(0);
  const W = Math.max(300, Math.round(width || 640));
  const H = 220;
  const left = 34;
  const right = 6;
  const top = 12;
  const bottom = 26;
  const plotW = W - left - right;
  const plotH = H - top - bottom;
  const max = niceMax(Math.max(1, ...total.map((t, i) => Math.max(t, answered[i] + after[i]))));
  const y = (v) => top + plotH - (v / max) * plotH;
  const band = plotW / 24;
  const barW = Math.max(4, band * 0.7);

  const grid = [0, max / 2, max].map((v) =>
    svg("g", null, svg("line", { x1: left, x2: W - right, y1: y(v), y2: y(v), class: "grid" }), svg("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end", class: "axis", text: Number.isInteger(v) ? v : v.toFixed(1) })),
  );
  const bars = total.map((count, hour) => {
    const x = left + hour * band + (band - barW) / 2;
    const other = Math.max(0, count - answered[hour] - after[hour]);
    const parts = [];
    let base = 0;
    for (const [value, color] of [[answered[hour], COLORS.answered], [after[hour], COLORS.after], [other, COLORS.other]]) {
      if (value > 0) parts.push(svg("rect", { x, y: y(base + value), width: barW, height: y(base) - y(base + value), fill: color }));
      base += value;
    }
    const label = `${hour}时：来电${count}个，人工接听${answered[hour]}个，非工作时间${after[hour]}个`;
    return svg("g", { class: "bar" }, svg("title", { text: label }), svg("rect", { x: left + hour * band, y: top, width: band, height: plotH, fill: "transparent" }), parts);
  });
  const step = W < 480 ? 6 : 3;
  const ticks = total
    .map((_, hour) => hour)
    .filter((hour) => hour % step === 0)
    .map((hour) => svg("text", { x: left + hour * band + band / 2, y: H - 8, "text-anchor": "middle", class: "axis", text: `${hour}时` }));
  const sum = total.reduce((a, b) => a + b, 0);
  const peak = total.indexOf(Math.max(...total));
  const summary = sum ? `每小时来电：共${sum}个，${peak}时最多（${total[peak]}个）` : "今天还没有来电";
  return h(
    "figure",
    { class: "chart" },
    svg("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", role: "img", "aria-label": summary, testid: "chart-hours", preserveAspectRatio: "xMidYMid meet" }, grid, bars, ticks),
    legend([[COLORS.answered, "人工接听"], [COLORS.after, "非工作时间"], [COLORS.other, "其他（未接通等）"]]),
  );
}

/** Calls by service category, most first; uncategorized as 未分类. */
export function categoryChart(byCategory, width) {
  const counts = { ...Object.fromEntries(Object.keys(CATEGORIES).map((id) => [id, 0])), ...(byCategory || {}) };
  if (!counts[""]) delete counts[""];
  const rows = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  const W = Math.max(300, Math.round(width || 640));
  const rowH = 28;
  const labelW = W < 420 ? 116 : 150;
  const numberW = 40;
  const H = rows.length * rowH + 8;
  const max = Math.max(1, ...rows.map(([, n]) => n));
  const barMax = W - labelW - numberW;
  const sum = rows.reduce((a, [, n]) => a + n, 0);
  const items = rows.map(([id, n], i) => {
    const yTop = 4 + i * rowH;
    const name = categoryName(id);
    return svg(
      "g",
      { class: "bar" },
      svg("title", { text: `${name}：${n}个` }),
      svg("text", { x: labelW - 8, y: yTop + rowH / 2 + 4, "text-anchor": "end", class: "label", text: name }),
      svg("rect", { x: labelW, y: yTop + 5, width: Math.max(n ? 2 : 0, (n / max) * barMax), height: rowH - 10, rx: 2, fill: id ? COLORS.answered : COLORS.after }),
      svg("text", { x: labelW + (n / max) * barMax + 6, y: yTop + rowH / 2 + 4, class: "axis", text: n }),
    );
  });
  const summary = sum ? `按分类：${rows.filter(([, n]) => n).map(([id, n]) => `${categoryName(id)}${n}个`).join("，")}` : "今天还没有分类的来电";
  return h(
    "figure",
    { class: "chart" },
    svg("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", role: "img", "aria-label": summary, testid: "chart-categories" }, items),
  );
}
