// Small charts as inline SVG, drawn at the width of their box so that the
// labels keep a readable size on a phone. Each bar carries a <title> (a
// tooltip, and what a screen reader reads); each figure has a summary as its
// label. No library: the page loads only its own files.

import { h, svg } from "./dom.js";
import { categoryName, CATEGORIES } from "./labels.js";

export const COLORS = {
  answered: "#c8102e",
  after: "#6b7a90",
  other: "#d5d9e0",
  ok: "#1d7a46",
  open: "#2f5d8a",
  warn: "#d39a2c",
  amber: "#8a5a00",
};
const DEFAULT_WIDTH = 640;
const MIN_WIDTH = 280;

/** Grid lines for counts up to `value`: whole numbers, 1, 2 or 5 times a power of ten apart. */
function ticksFor(value) {
  const rough = Math.max(1, value / 4);
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough);
  const top = Math.max(step, Math.ceil(value / step) * step);
  const ticks = [];
  for (let v = 0; v <= top; v += step) ticks.push(v);
  return ticks;
}

function widthOf(width) {
  return Math.max(MIN_WIDTH, Math.round(width || DEFAULT_WIDTH));
}

/** Pixels a text takes at 12 px: a CJK character is a square, a Latin one about half. */
function textWidth(text) {
  let width = 0;
  for (const ch of String(text)) width += ch.charCodeAt(0) > 0x2e7f ? 12 : 7;
  return width;
}

/** `text` cut with "…" to fit `room` pixels. */
function fit(text, room) {
  const value = String(text);
  if (textWidth(value) <= room) return value;
  let cut = "";
  for (const ch of value) {
    if (textWidth(`${cut}${ch}…`) > room) break;
    cut += ch;
  }
  return `${cut}…`;
}

function percent(part, whole) {
  return whole ? `${((100 * part) / whole).toFixed(1)}%` : "—";
}

export function legend(items) {
  return h(
    "ul",
    { class: "legend" },
    items.map(([color, label]) => h("li", null, h("span", { class: "swatch", css: { background: color } }), label)),
  );
}

/**
 * The first `n` rows by value (ties by label), the rest added up as one row
 * 其他 ("the others"): a chart of many departments stays readable.
 * Rows: {label, value, title, parts?: [{value, color, name}]}.
 */
export function topRows(rows, n, describe) {
  const sorted = [...rows].sort((a, b) => b.value - a.value || String(a.key ?? a.label).localeCompare(String(b.key ?? b.label)));
  if (sorted.length <= n + 1) return sorted;
  const kept = sorted.slice(0, n);
  const rest = sorted.slice(n);
  const other = { key: "", label: "其他", value: rest.reduce((sum, row) => sum + row.value, 0), others: rest.length };
  if (rest[0].parts) {
    other.parts = rest[0].parts.map((part, i) => ({ ...part, value: rest.reduce((sum, row) => sum + row.parts[i].value, 0) }));
  }
  other.title = describe(other, `其他${rest.length}个部门`);
  return [...kept, other];
}

/**
 * Horizontal bars, a row each: its label, the bar (one colour, or stacked
 * `parts`), and its number. Options: testid, summary (the figure's label),
 * color, share (each row a whole: the parts as shares of it, for answers),
 * legend ([[color, label]]), empty (said when every value is 0).
 */
export function barChart(rows, width, options = {}) {
  const W = widthOf(width);
  const rowH = 30;
  const longest = Math.max(0, ...rows.map((row) => textWidth(row.label)));
  const labelW = Math.round(Math.min(W < 420 ? 120 : 176, Math.max(56, longest + 14)));
  const numberW = options.share ? 64 : 48;
  const barMax = W - labelW - numberW;
  const H = rows.length * rowH + 8;
  const max = Math.max(1, ...rows.map((row) => row.value));
  const items = rows.map((row, i) => {
    const yTop = 4 + i * rowH;
    const parts = row.parts || [{ value: row.value, color: row.color || options.color || COLORS.answered }];
    const scale = options.share ? (row.value ? barMax / row.value : 0) : barMax / max;
    let x = labelW;
    const rects = [];
    for (const part of parts) {
      if (part.value <= 0) continue;
      const w = Math.max(2, part.value * scale);
      rects.push(svg("rect", { x, y: yTop + 6, width: w, height: rowH - 12, fill: part.color }));
      x += w;
    }
    const end = options.share ? labelW + barMax : x;
    const number = options.share ? `${row.value}个` : row.value;
    return svg(
      "g",
      { class: "bar", "data-label": row.label },
      svg("title", { text: row.title }),
      svg("rect", { x: 0, y: yTop, width: W, height: rowH, fill: "transparent" }),
      svg("text", { x: labelW - 8, y: yTop + rowH / 2 + 4, "text-anchor": "end", class: "label", text: fit(row.label, labelW - 10) }),
      options.share && !row.value ? svg("rect", { x: labelW, y: yTop + 6, width: barMax, height: rowH - 12, fill: COLORS.other }) : null,
      rects,
      svg("text", { x: end + 6, y: yTop + rowH / 2 + 4, class: "value", text: number }),
    );
  });
  const total = rows.reduce((sum, row) => sum + row.value, 0);
  const figure = h("figure", { class: "chart" });
  if (!total && options.empty) {
    figure.append(h("p", { class: "muted chart-empty", testid: options.testid, text: options.empty }));
    return figure;
  }
  figure.append(
    svg("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", role: "img", "aria-label": options.summary || "", testid: options.testid }, items),
  );
  if (options.legend) figure.append(legend(options.legend));
  return figure;
}

/**
 * Calls per hour: answered by people, after hours (the voice menu), the rest.
 * `stats` has per_hour, answered_per_hour, after_hours_per_hour (24 each).
 * Options: testid, empty (the summary when there were no calls).
 */
export function hourChart(stats, width, options = {}) {
  const total = stats.per_hour || Array(24).fill(0);
  const answered = stats.answered_per_hour || Array(24).fill(0);
  const after = stats.after_hours_per_hour || Array(24).fill(0);
  const W = widthOf(width);
  const H = 220;
  const left = 34;
  const right = 6;
  const top = 12;
  const bottom = 26;
  const plotW = W - left - right;
  const plotH = H - top - bottom;
  const ticksAt = ticksFor(Math.max(1, ...total.map((t, i) => Math.max(t, answered[i] + after[i]))));
  const max = ticksAt.at(-1);
  const y = (v) => top + plotH - (v / max) * plotH;
  const band = plotW / 24;
  const barW = Math.max(4, band * 0.7);

  const grid = ticksAt.map((v) =>
    svg("g", null, svg("line", { x1: left, x2: W - right, y1: y(v), y2: y(v), class: "grid" }), svg("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end", class: "axis", text: v })),
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
  const summary = sum ? `每小时来电：共${sum}个，${peak}时最多（${total[peak]}个）` : options.empty || "今天还没有来电";
  return h(
    "figure",
    { class: "chart" },
    svg("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", role: "img", "aria-label": summary, testid: options.testid || "chart-hours", preserveAspectRatio: "xMidYMid meet" }, grid, bars, ticks),
    legend([[COLORS.answered, "人工接听"], [COLORS.after, "非工作时间"], [COLORS.other, "其他（未接通等）"]]),
  );
}

/** Calls by service category, most first; uncategorized as 未分类. */
export function categoryChart(byCategory, width, options = {}) {
  const counts = { ...Object.fromEntries(Object.keys(CATEGORIES).map((id) => [id, 0])), ...(byCategory || {}) };
  if (!counts[""]) delete counts[""];
  const rows = Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .map(([id, n]) => ({ key: id, label: categoryName(id), value: n, title: `${categoryName(id)}：${n}个`, color: id ? COLORS.answered : COLORS.after }));
  const named = rows.filter((row) => row.value);
  const summary = named.length ? `按分类：${named.map((row) => `${row.label}${row.value}个`).join("，")}` : options.empty || "今天还没有分类的来电";
  return barChart(rows, width, { testid: options.testid || "chart-categories", summary });
}

/** Answers of satisfied / fair / dissatisfied, each row a whole (100%). */
export function shareChart(rows, width, options = {}) {
  const described = rows.map((row) => {
    const shares = row.parts.map((part) => `${part.name}${part.value}个（${percent(part.value, row.value)}）`);
    return { ...row, title: row.value ? `${row.label}：${shares.join("，")}` : `${row.label}：还没有评价` };
  });
  const names = rows[0]?.parts.map((part) => [part.color, part.name]) || [];
  return barChart(described, width, { ...options, share: true, legend: names });
}
