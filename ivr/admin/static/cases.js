// Cases (#/cases/{scope}): the messages and callbacks registered for the
// department and those below it (工单), and one case with its history.

import { api, enc, report } from "./api.js";
import { h, clear, field, formatTime, formatDue, formatSeconds, table, plain } from "./dom.js";
import { CASE_KINDS, CASE_STATUSES, CASE_ACTIONS, categoryName, scopeLabel } from "./labels.js";
import { nameOf } from "./departments.js";

const OPEN = ["registered", "assigned", "in_progress"];

function overdue(item) {
  return OPEN.includes(item.status) && item.due_at && new Date(item.due_at) < new Date();
}

function statusCell(item) {
  return h(
    "td",
    null,
    h("span", { class: `badge case-${item.status}`, text: CASE_STATUSES[item.status] || item.status }),
    overdue(item) ? h("span", { class: "badge danger", text: "已超期" }) : null,
  );
}

function detailList(pairs) {
  return h(
    "dl",
    { class: "details" },
    pairs.filter(([, v]) => v !== undefined).map(([k, v]) => h("div", null, h("dt", { text: k }), h("dd", { text: plain(v) }))),
  );
}

// A recording past its retention is no longer in Asterisk: said, not offered to play.
function recordingText(item) {
  if (!item.recording) return null;
  if (!item.recording_removed_at) return formatSeconds(item.recording_seconds);
  const archived = (item.events || []).some((ev) => ev.action === "recording_archived");
  return `已按保存期限${archived ? "归档并删除" : "删除"}（${formatTime(item.recording_removed_at)}）`;
}

async function showCase(box, number) {
  const item = await api("GET", `/api/cases/${enc(number)}`);
  const events = (item.events || []).map((ev) =>
    h(
      "tr",
      null,
      h("td", { text: formatTime(ev.at) }),
      h("td", { text: CASE_ACTIONS[ev.action] || ev.action }),
      h("td", { text: [ev.from_status, ev.to_status].filter(Boolean).map((x) => CASE_STATUSES[x] || x).join(" → ") }),
      h("td", { text: ev.from_department ? `${nameOf(ev.from_department)} → ${nameOf(ev.department)}` : nameOf(ev.department) }),
      h("td", { text: ev.actor || "" }),
      h("td", { class: "wrap", text: ev.note || "" }),
    ),
  );
  clear(
    box,
    h("div", { class: "detail-head" }, h("h2", { id: "case-title", text: `工单 ${item.number}` }), h("button", { type: "button", class: "ghost", text: "关闭", on: { click: () => (box.hidden = true) } })),
    detailList([
      ["类型", CASE_KINDS[item.kind] || item.kind],
      ["分类", categoryName(item.category)],
      ["部门", item.department_name || nameOf(item.department)],
      ["来电号码", item.caller],
      ["状态", CASE_STATUSES[item.status] || item.status],
      ["紧急", item.urgent],
      ["承办人", item.assigned_to],
      ["登记时间", item.created_at],
      ["办结期限", formatDue(item.due_at)],
      ["留言录音", recordingText(item)],
      ["满意度", item.satisfaction == null ? null : ["", "满意", "基本满意", "不满意"][item.satisfaction] || item.satisfaction],
    ]),
    item.recording && !item.recording_removed_at ? h("audio", { controls: true, preload: "none", src: `/api/cases/${enc(item.number)}/recording`, "aria-label": "留言录音" }) : null,
    h("h3", { text: "办理记录" }),
    table(["时间", "操作", "状态", "部门", "操作人", "说明"], events, { label: "办理记录", testid: "case-events" }),
  );
  box.hidden = false;
  box.scrollIntoView({ block: "nearest" });
  box.focus();
}

export async function casesPage(ctx) {
  const { main, scope, signal } = ctx;
  const dept = await ctx.dept;
  const status = h("select", { testid: "case-status-filter" }, h("option", { value: "", text: "全部" }), Object.entries(CASE_STATUSES).map(([id, label]) => h("option", { value: id, text: label })));
  const listBox = h("div");
  const detail = h("section", { class: "panel case-detail", testid: "case-detail", hidden: true, tabindex: "-1", "aria-labelledby": "case-title" });
  clear(
    main,
    h(
      "div",
      { class: "page cases-page" },
      h("header", { class: "page-head" }, h("h1", { text: `工单 · ${scopeLabel(scope, dept?.short_name || dept?.name)}` }), h("p", { class: "muted", text: "本级及下级部门登记的留言和预约回电。" })),
      h("div", { class: "toolbar" }, field("状态", status)),
      h("section", { class: "panel" }, listBox),
      detail,
    ),
  );

  async function load() {
    const params = new URLSearchParams({ sub: "1" });
    if (scope !== "national") params.set("department", scope);
    if (status.value) params.set("status", status.value);
    const list = await api("GET", `/api/cases?${params}`, { signal });
    const rows = list.map((item) => {
      const open = h("button", { type: "button", class: "link", text: item.number, on: { click: () => showCase(detail, item.number).catch(report) } });
      const tr = h(
        "tr",
        { testid: "case-row", dataset: { number: item.number }, class: `${item.urgent ? "urgent " : ""}clickable` },
        h("td", null, open),
        h("td", { text: CASE_KINDS[item.kind] || item.kind }),
        h("td", { text: categoryName(item.category) }),
        h("td", { text: item.caller || "" }),
        statusCell(item),
        h("td", { class: overdue(item) ? "danger-text" : "", text: formatDue(item.due_at) }),
        h("td", null, item.urgent ? h("span", { class: "badge danger", text: "紧急" }) : ""),
        h("td", { text: item.department_name || nameOf(item.department) }),
      );
      tr.addEventListener("click", (event) => {
        if (event.target !== open) showCase(detail, item.number).catch(report);
      });
      return tr;
    });
    clear(
      listBox,
      list.length
        ? table(["编号", "类型", "分类", "来电号码", "状态", "办结期限", "紧急", "部门"], rows, { label: "工单", testid: "cases-table" })
        : h("p", { class: "muted", text: "没有符合条件的工单。" }),
    );
  }
  status.addEventListener("change", () => load().catch(report));
  await load();
  // #/cases/{scope}/{number}: a link to one case (the operator's screen pop has them).
  if (ctx.rest[0]) await showCase(detail, ctx.rest[0]);
}
