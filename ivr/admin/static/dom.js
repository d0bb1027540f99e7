// Building the page without innerHTML: every text that came from the API or
// from a person is set with textContent, so a menu text like "<b>" stays text.

const SVG_NS = "http://www.w3.org/2000/svg";

function apply(el, attrs) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") el.setAttribute("class", value);
    else if (name === "text") el.textContent = String(value);
    else if (name === "testid") el.dataset.testid = value;
    else if (name === "on") {
      for (const [type, fn] of Object.entries(value)) el.addEventListener(type, fn);
    } else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name === "css") {
      // Through the CSSOM, not a style attribute: allowed by a strict CSP.
      for (const [prop, v] of Object.entries(value)) el.style.setProperty(prop, String(v));
    }
    else if (["value", "checked", "disabled", "hidden", "selected", "open"].includes(name)) el[name] = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** h("button", {class: "primary", on: {click}}, "保存") */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  apply(el, attrs);
  append(el, children);
  return el;
}

/** The same for SVG elements (charts). */
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null) continue;
    if (name === "testid") el.setAttribute("data-testid", value);
    else if (name === "text") el.textContent = String(value);
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let fieldCounter = 0;
/** A label and its control, tied by a generated id. */
export function field(label, control, hint) {
  if (!control.id) control.id = `f${++fieldCounter}`;
  const parts = [h("label", { for: control.id, text: label }), control];
  if (hint) {
    const hintEl = h("small", { class: "hint", id: `${control.id}-hint`, text: hint });
    control.setAttribute("aria-describedby", hintEl.id);
    parts.push(hintEl);
  }
  return h("div", { class: "field" }, parts);
}

/** A table inside a horizontally scrolling box (phones). */
export function table(headers, rows, attrs = {}) {
  return h(
    "div",
    { class: "table-wrap", tabindex: "0", role: "region", "aria-label": attrs.label || "表格" },
    h(
      "table",
      { testid: attrs.testid },
      h("thead", null, h("tr", null, headers.map((title) => h("th", { scope: "col", text: title })))),
      rows instanceof HTMLTableSectionElement ? rows : h("tbody", null, rows),
    ),
  );
}

const TIME_ZONE = "Asia/Shanghai"; // departments keep Beijing time
const TIME_PARTS = new Intl.DateTimeFormat("zh-CN", {
  timeZone: TIME_ZONE,
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  hourCycle: "h23",
});

/** "2026-11-24 14:03" in Beijing time; "" for nothing; the raw text if unreadable. */
export function formatTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  const p = Object.fromEntries(TIME_PARTS.formatToParts(date).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
}

/** A deadline, as people say it: the usual one, at midnight, is the end of
 * the day before ("2026-12-02 24:00", not "2026-12-03 00:00"). */
export function formatDue(iso) {
  const shown = formatTime(iso);
  if (!shown.endsWith(" 00:00")) return shown;
  const dayBefore = formatTime(new Date(new Date(iso).getTime() - 60_000).toISOString());
  return `${dayBefore.slice(0, 10)} 24:00`;
}

/** 135 -> "2分15秒" */
export function formatSeconds(value) {
  const total = Math.max(0, Math.round(Number(value) || 0));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  if (hours) return `${hours}小时${minutes}分`;
  if (minutes) return `${minutes}分${seconds}秒`;
  return `${seconds}秒`;
}

/** A value of unknown shape as short text, for generic tables. */
export function plain(value) {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "boolean") return value ? "是" : "否";
  if (Array.isArray(value)) return value.map(plain).join("、");
  if (typeof value === "object") {
    return Object.entries(value)
      .map(([k, v]) => `${k}: ${plain(v)}`)
      .join("，");
  }
  if (typeof value === "string" && /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(value)) return formatTime(value);
  return String(value);
}

export function shorten(text, length) {
  const value = String(text || "");
  return value.length > length ? `${value.slice(0, length)}…` : value;
}

// The one live region: success and error messages of every page.
let statusEl = null;
export function mountStatus(el) {
  statusEl = el;
}

// A message fades by itself: sooner when all went well.
const FADE_MS = { ok: 8000, warn: 20000, error: 20000 };
let fadeTimer = null;

export function say(message, tone = "ok") {
  if (!statusEl) return;
  clearTimeout(fadeTimer);
  statusEl.className = `status-message ${tone}`;
  statusEl.textContent = message;
  if (message) fadeTimer = setTimeout(() => say(""), FADE_MS[tone] || FADE_MS.ok);
}

export function clearStatus() {
  say("", "ok");
}
