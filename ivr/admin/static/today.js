// Today (#/today/{scope}): how many called, who answered, what about, and who
// is waiting or on duty now. Refreshed every half minute while open.

import { api, enc, report } from "./api.js";
import { h, clear, formatSeconds, formatTime, plain, table } from "./dom.js";
import { OPERATOR_STATUSES, PHONE_STATES, scopeLabel } from "./labels.js";
import { nameOf } from "./departments.js";
import { hourChart, categoryChart } from "./charts.js";

const REFRESH_MS = 30_000;

const OPERATOR_FIELDS = {
  id: "工号",
  name: "姓名",
  status: "状态",
  departments: "部门",
  department: "部门",
  endpoint: "分机",
  phone: "话机",
  since: "状态开始于",
  pause_reason: "暂停原因",
  today: "今日",
};
const TODAY_FIELDS = { offered: "分配", answered: "接听", missed: "未接", talk_seconds: "通话" };

/** Whether division `code` is `scope` or below it (codes share their prefix). */
export function within(code, scope) {
  if (scope === "national") return true;
  const prefix = String(scope).replace(/(00)+$/, "");
  return String(code || "").startsWith(prefix);
}

export function tile(label, value, testid, note) {
  return h("div", { class: "tile", testid }, h("span", { class: "tile-label", text: label }), h("strong", { class: "tile-value", text: value ?? "—" }), note ? h("span", { class: "tile-note", text: note }) : null);
}

function operatorValue(name, value) {
  if (name === "status") return OPERATOR_STATUSES[value] || value;
  if (name === "phone" && value && typeof value === "object") return PHONE_STATES[value.state] || plain(value.state);
  if (name === "departments" || name === "department") return [].concat(value || []).map(nameOf).join("、");
  if (name === "today" && value && typeof value === "object") {
    return Object.entries(value)
      .map(([k, v]) => `${TODAY_FIELDS[k] || k}${k.endsWith("seconds") ? formatSeconds(v) : v}`)
      .join(" · ");
  }
  return plain(value);
}

const CELL_CLASSES = { status: "status-cell", phone: "phone-cell" };

/** Each Asterisk's word on the phone, for a cluster's admin: "ast1 在线 · ast2 话机未注册". */
function phoneNodes(phone) {
  const nodes = Object.entries(phone?.nodes || {});
  return nodes.length ? nodes.map(([node, state]) => `${node} ${PHONE_STATES[state] || state}`).join(" · ") : undefined;
}

function operatorsTable(list) {
  const keys = [];
  for (const known of Object.keys(OPERATOR_FIELDS)) if (list.some((op) => known in op)) keys.push(known);
  for (const op of list) for (const key of Object.keys(op)) if (!keys.includes(key)) keys.push(key);
  const rows = list.map((op) =>
    h(
      "tr",
      {
        testid: "operator-row",
        dataset: { operator: op.id ?? "", phone: op.phone?.state ?? "" },
        class: [op.status ? `op-${op.status}` : "", op.phone?.state === "offline" ? "phone-offline" : ""].join(" ").trim(),
      },
      keys.map((key) => h("td", { class: CELL_CLASSES[key] || "", text: operatorValue(key, op[key]), title: key === "phone" ? phoneNodes(op.phone) : undefined })),
    ),
  );
  return table(keys.map((key) => OPERATOR_FIELDS[key] || key), rows, { label: "话务员", testid: "operators-table" });
}

function queuesList(queues) {
  if (!queues.length) return h("p", { class: "muted", text: "现在没有人排队。" });
  return h(
    "ul",
    { class: "queue-list" },
    queues.map((queue) => {
      const callers = queue.callers || [];
      return h(
        "li",
        { class: "queue", testid: "queue", dataset: { department: queue.department ?? "" } },
        h("div", { class: "queue-head" }, h("strong", { text: nameOf(queue.department) }), h("span", { class: "badge", text: `${queue.waiting ?? callers.length}人排队` })),
        callers.length
          ? table(
              ["来电号码", "已等待", "进入排队"],
              callers.map((c) =>
                h("tr", null, h("td", { text: c.caller ?? c.call_id ?? "—" }), h("td", { text: formatSeconds(c.wait_seconds ?? c.waited_seconds ?? c.waited ?? c.seconds) }), h("td", { text: formatTime(c.entered_at) || "—" })),
              ),
              { label: `${nameOf(queue.department)}排队` },
            )
          : null,
      );
    }),
  );
}

export async function todayPage(ctx) {
  const { main, scope, signal } = ctx;
  const tiles = h("div", { class: "tiles" });
  const hours = h("section", { class: "panel chart-panel", "aria-labelledby": "hours-title" });
  const categories = h("section", { class: "panel chart-panel", "aria-labelledby": "categories-title" });
  const queues = h("section", { class: "panel", testid: "queues", "aria-labelledby": "queues-title" });
  const operators = h("section", { class: "panel", testid: "operators", "aria-labelledby": "operators-title" });
  const dateLine = h("p", { class: "muted" });
  const dept = await ctx.dept;
  clear(
    main,
    h(
      "div",
      { class: "page today-page" },
      h("header", { class: "page-head" }, h("h1", { text: `今日来电 · ${scopeLabel(scope, dept?.short_name || dept?.name)}` }), dateLine),
      tiles,
      h("div", { class: "chart-grid" }, hours, categories),
      h("div", { class: "live-grid" }, queues, operators),
    ),
  );

  async function loadStats() {
    const stats = await api("GET", `/api/stats/today?department=${enc(scope)}`, { signal });
    dateLine.textContent = `${stats.date || ""} · 每30秒自动刷新`;
    clear(
      tiles,
      tile("今日来电", stats.calls, "tile-calls"),
      tile("人工接听", stats.answered, "tile-answered", stats.calls ? `占${Math.round((100 * stats.answered) / stats.calls)}%` : null),
      tile("非工作时间", stats.after_hours, "tile-after-hours", stats.abandoned ? `另有${stats.abandoned}个未接通` : null),
    );
    const width = (box) => (box.clientWidth || 640) - 32;
    clear(hours, h("h2", { id: "hours-title", text: "每小时来电" }), hourChart(stats, width(hours)));
    clear(categories, h("h2", { id: "categories-title", text: "按分类" }), categoryChart(stats.by_category, width(categories)));
  }

  async function loadLive() {
    const [q, o] = await Promise.allSettled([api("GET", "/api/queues", { signal }), api("GET", "/api/operators", { signal })]);
    const failed = (result) => h("p", { class: "error-text", role: "alert", text: result.reason?.status === 403 ? `无权访问：${result.reason.message}` : result.reason?.message || "加载失败" });
    clear(queues, h("h2", { id: "queues-title", text: "排队" }));
    if (q.status === "fulfilled") {
      const list = Array.isArray(q.value) ? q.value : q.value?.queues || [];
      queues.append(queuesList(list.filter((queue) => within(queue.department, scope))));
    } else queues.append(failed(q));
    clear(operators, h("h2", { id: "operators-title", text: "话务员" }));
    if (o.status === "fulfilled") {
      const list = (Array.isArray(o.value) ? o.value : o.value?.operators || []).filter((op) =>
        [].concat(op.departments ?? op.department ?? []).some((code) => within(code, scope)) || !(op.departments ?? op.department),
      );
      operators.append(list.length ? operatorsTable(list) : h("p", { class: "muted", text: "这一级没有话务员。" }));
    } else operators.append(failed(o));
  }

  await Promise.all([loadStats(), loadLive()]);
  ctx.every(REFRESH_MS, () => Promise.all([loadStats(), loadLive()]).catch(report));
}
