// The report (#/report/{scope}/{period}/{date}): a day, a week or a month of
// calls, cases and what callers said, as charts, and the same as CSV or
// Excel to hand upward (定期汇报). The numbers are /api/report's; the files
// are /api/report.csv and /api/report.xlsx with the same query.

import { api, enc, report } from "./api.js";
import { h, clear, field, formatTime } from "./dom.js";
import { CASE_STATUSES, scopeLabel } from "./labels.js";
import { nameOf } from "./departments.js";
import { barChart, categoryChart, COLORS, hourChart, shareChart, topRows } from "./charts.js";
import { tile } from "./today.js";

const PERIODS = { day: "日报", week: "周报", month: "月报" };
const PERIOD_UNITS = { day: "日", week: "周", month: "月" };
const DAY_RE = /^\d{4}-\d\d-\d\d$/;
// Departments a chart names one by one; the rest are 其他.
const TOP_DEPARTMENTS = 8;
const STATUS_COLORS = { registered: COLORS.open, assigned: COLORS.warn, in_progress: COLORS.amber, resolved: COLORS.ok, closed: COLORS.after };
const SCORES = [
  ["1", "满意", COLORS.ok],
  ["2", "基本满意", COLORS.warn],
  ["3", "不满意", COLORS.answered],
];
const SURVEY_KINDS = { operator: "话务员服务", case: "工单办理" };
const BEIJING_DAY = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit" });

/** "中共合肥市委组织部" -> "合肥市": the place is what a chart needs to say. */
function place(code, name) {
  if (!name) return nameOf(code);
  return name.replace(/^中共/, "").replace(/委组织部$/, "") || name;
}

function shiftDay(day, days) {
  const [y, m, d] = day.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

function ratePercent(rate) {
  return rate === null || rate === undefined ? "—" : `${(rate * 100).toFixed(1)}%`;
}

function panel(id, title, note) {
  const box = h("section", { class: "panel chart-panel", "aria-labelledby": `${id}-title`, testid: `panel-${id}` });
  return { box, title: h("h2", { id: `${id}-title`, text: title }), note: note ? h("p", { class: "chart-note", text: note }) : null };
}

function chartWidth(box) {
  const style = getComputedStyle(box);
  return box.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
}

function departmentRows(made) {
  const rows = made.departments
    .filter((d) => d.registered)
    .map((d) => {
      const name = place(d.department, d.department_name);
      const open = d.registered - d.done;
      return {
        key: d.department,
        label: name,
        value: d.registered,
        title: `${name}：登记${d.registered}个，已办结${d.done}个，未办结${open}个`,
        parts: [
          { value: d.done, color: COLORS.ok },
          { value: open, color: COLORS.open },
        ],
      };
    });
  return topRows(rows, TOP_DEPARTMENTS, (row, label) => `${label}：登记${row.value}个，已办结${row.parts[0].value}个，未办结${row.parts[1].value}个`);
}

function overdueRows(made) {
  const rows = made.departments
    .filter((d) => d.overdue)
    .map((d) => {
      const name = place(d.department, d.department_name);
      return { key: d.department, label: name, value: d.overdue, title: `${name}：超期${d.overdue}个，未办结${d.open}个`, color: COLORS.answered };
    });
  return topRows(rows, TOP_DEPARTMENTS, (row, label) => `${label}：超期${row.value}个`);
}

function surveyRows(made) {
  const kinds = Object.entries(made.surveys || {});
  const all = SCORES.map(([score]) => kinds.reduce((sum, [, scores]) => sum + (scores[score] || 0), 0));
  const row = (label, counts) => ({
    label,
    value: counts.reduce((a, b) => a + b, 0),
    parts: SCORES.map(([, name, color], i) => ({ name, color, value: counts[i] })),
  });
  return [...kinds.map(([kind, scores]) => row(SURVEY_KINDS[kind] || kind, SCORES.map(([score]) => scores[score] || 0))), row("全部", all)];
}

function byCategory(made) {
  const counts = {};
  for (const line of made.call_lines) counts[line.category] = (counts[line.category] || 0) + line.calls;
  return counts;
}

/** Hands `blob` to the browser as a download named `name`. */
function save({ blob, name }) {
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export async function reportPage(ctx) {
  const { main, scope, rest, signal } = ctx;
  const dept = await ctx.dept;
  let period = Object.hasOwn(PERIODS, rest[0] || "") ? rest[0] : "week";
  let chosen = DAY_RE.test(rest[1] || "") ? rest[1] : ""; // "" : today, as the server counts it
  let shown = null; // the report on the page
  let asked = 0; // the newest request: an older answer is not drawn over it

  const periodButtons = Object.entries(PERIODS).map(([id, label]) =>
    h("label", { class: "segment" }, h("input", { type: "radio", name: "report-period", value: id, checked: id === period, testid: `report-period-${id}` }), h("span", { text: label })),
  );
  const periodBox = h("fieldset", { class: "period-field" }, h("legend", { text: "周期" }), h("div", { class: "segmented" }, periodButtons));
  const dayInput = h("input", { type: "date", testid: "report-date", value: chosen });
  const earlier = h("button", { type: "button", testid: "report-earlier", text: "‹ 上一期" });
  const later = h("button", { type: "button", testid: "report-later", text: "下一期 ›" });
  const csvButton = h("button", { type: "button", testid: "report-download-csv", text: "下载 CSV" });
  const xlsxButton = h("button", { type: "button", class: "primary", testid: "report-download-xlsx", text: "下载 Excel" });
  const heading = h("p", { class: "muted report-range", testid: "report-range" });
  const tiles = h("div", { class: "tiles report-tiles" });
  const hours = panel("report-hours", "每小时来电", "本期每天同一时段的来电相加（北京时间）");
  const statuses = panel("report-statuses", "工单状态", "本期登记的工单，按现在的状态");
  const departments = panel("report-departments", "各部门登记工单", "本期登记，已办结与未办结");
  const overdue = panel("report-overdue", "各部门超期工单", "现在仍未办结且已过办结期限的工单（不限本期）");
  const surveys = panel("report-surveys", "满意度", "来电者在通话结束时的评价");
  const categories = panel("report-categories", "来电分类", "来电者在菜单中选择的服务类别");

  clear(
    main,
    h(
      "div",
      { class: "page report-page" },
      h("header", { class: "page-head" }, h("h1", { text: `报表 · ${scopeLabel(scope, dept?.short_name || dept?.name)}` }), heading),
      h(
        "div",
        { class: "report-toolbar panel" },
        h("div", { class: "report-when" }, periodBox, field("日期", dayInput), h("div", { class: "report-steps" }, earlier, later)),
        h("div", { class: "report-files" }, csvButton, xlsxButton),
      ),
      tiles,
      h("div", { class: "chart-grid" }, hours.box, statuses.box),
      h("div", { class: "chart-grid even" }, departments.box, overdue.box),
      h("div", { class: "chart-grid even" }, surveys.box, categories.box),
    ),
  );

  function query() {
    const params = new URLSearchParams({ period });
    if (chosen) params.set("date", chosen);
    if (scope !== "national") params.set("department", scope);
    return params;
  }

  function remember() {
    const path = [scope, period, chosen].filter(Boolean).map(enc).join("/");
    history.replaceState(null, "", `#/report/${path}`);
  }

  function draw(made) {
    const today = BEIJING_DAY.format(new Date(made.made_at));
    dayInput.value = chosen || today;
    later.disabled = made.last_day >= today;
    clear(
      heading,
      h("span", { text: `${PERIODS[made.period]} · ${made.first_day} 至 ${made.last_day}（北京时间）` }),
      h("span", { text: `生成于 ${formatTime(made.made_at)}` }),
    );
    const overdueNow = made.departments.reduce((sum, d) => sum + d.overdue, 0);
    const openNow = made.departments.reduce((sum, d) => sum + d.open, 0);
    const answers = surveyRows(made).at(-1).value;
    const days = (Date.parse(made.last_day) - Date.parse(made.first_day)) / 86_400_000 + 1;
    clear(
      tiles,
      tile("来电", made.calls, "tile-report-calls", made.period === "day" ? null : `日均${(made.calls / days).toFixed(1)}个`),
      tile("人工接听", made.answered, "tile-report-answered", made.calls ? `占来电${Math.round((100 * made.answered) / made.calls)}%` : null),
      tile("非工作时间", made.after_hours, "tile-report-after-hours", "自助语音接待"),
      tile("登记工单", made.cases, "tile-report-cases", `已办结${made.case_statuses.resolved + made.case_statuses.closed}个`),
      tile("超期工单", overdueNow, "tile-report-overdue", `现有未办结${openNow}个`),
      tile("满意率", ratePercent(made.satisfaction_rate), "tile-report-rate", answers ? `共${answers}个评价` : "还没有评价"),
    );
    const unit = PERIOD_UNITS[made.period];
    const statusRows = Object.entries(made.case_statuses).map(([id, n]) => ({
      key: id,
      label: CASE_STATUSES[id] || id,
      value: n,
      title: `${CASE_STATUSES[id] || id}：${n}个`,
      color: STATUS_COLORS[id] || COLORS.after,
    }));
    const depts = departmentRows(made);
    const late = overdueRows(made);
    const rated = surveyRows(made);
    const sum = (rows) => rows.map((row) => `${row.label}${row.value}个`).join("，");
    const charts = [
      [hours, (w) => hourChart(made, w, { testid: "chart-report-hours", empty: `本${unit}没有来电` })],
      [statuses, (w) => barChart(statusRows, w, { testid: "chart-statuses", summary: `工单状态：${sum(statusRows)}`, empty: `本${unit}没有登记工单` })],
      [
        departments,
        (w) =>
          barChart(depts, w, {
            testid: "chart-departments",
            summary: `各部门登记工单：${sum(depts)}`,
            empty: `本${unit}没有登记工单`,
            legend: [[COLORS.ok, "已办结"], [COLORS.open, "未办结"]],
          }),
      ],
      [overdue, (w) => barChart(late, w, { testid: "chart-overdue", summary: `各部门超期工单：${sum(late)}`, empty: "没有超期工单" })],
      [
        surveys,
        (w) =>
          h(
            "div",
            { class: "rate-box" },
            h("p", { class: "rate", testid: "report-rate" }, h("strong", { text: ratePercent(made.satisfaction_rate) }), h("span", { text: "满意率（满意＋基本满意）" })),
            shareChart(rated, w, { testid: "chart-satisfaction", summary: `满意率${ratePercent(made.satisfaction_rate)}：${rated.map((row) => row.title).join("；")}`, empty: `本${unit}还没有评价` }),
          ),
      ],
      [categories, (w) => categoryChart(byCategory(made), w, { testid: "chart-report-categories", empty: `本${unit}没有分类的来电` })],
    ];
    for (const [part, chart] of charts) {
      clear(part.box, part.title, part.note);
      part.box.append(chart(chartWidth(part.box)));
    }
  }

  async function load() {
    const mine = ++asked;
    const made = await api("GET", `/api/report?${query()}`, { signal });
    if (mine !== asked) return;
    shown = made;
    remember();
    draw(made);
  }

  function reload() {
    load().catch(report);
  }

  async function download(suffix, button) {
    button.disabled = true;
    try {
      save(await api("GET", `/api/report.${suffix}?${query()}`, { signal, file: true }));
    } catch (error) {
      report(error);
    } finally {
      button.disabled = false;
    }
  }

  periodBox.addEventListener("change", (event) => {
    period = event.target.value;
    reload();
  });
  dayInput.addEventListener("change", () => {
    if (!DAY_RE.test(dayInput.value)) return;
    chosen = dayInput.value;
    reload();
  });
  earlier.addEventListener("click", () => {
    if (!shown) return;
    chosen = shiftDay(shown.first_day, -1);
    reload();
  });
  later.addEventListener("click", () => {
    if (!shown) return;
    chosen = shiftDay(shown.last_day, 1);
    reload();
  });
  csvButton.addEventListener("click", () => download("csv", csvButton));
  xlsxButton.addEventListener("click", () => download("xlsx", xlsxButton));
  // Drawn at the width of their boxes: again when that changes (a phone turned).
  let resizing = null;
  window.addEventListener(
    "resize",
    () => {
      clearTimeout(resizing);
      resizing = setTimeout(() => shown && draw(shown), 150);
    },
    { signal },
  );
  await load();
}
