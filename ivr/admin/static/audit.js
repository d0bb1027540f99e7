// The audit log (#/audit/{scope}): who did what to which part of the
// service, including what was refused, newest first.

import { api, enc } from "./api.js";
import { h, clear, formatTime, table } from "./dom.js";
import { ROLES, scopeLabel } from "./labels.js";
import { nameOf } from "./departments.js";

const LIMIT = 200;

function jsonBlock(label, value) {
  if (value === null || value === undefined) return null;
  return h("details", { class: "json" }, h("summary", { text: label }), h("pre", { text: JSON.stringify(value, null, 2) }));
}

export async function auditPage(ctx) {
  const { main, scope, signal } = ctx;
  const dept = await ctx.dept;
  const list = await api("GET", `/api/audit?scope=${enc(scope)}&limit=${LIMIT}`, { signal });
  const rows = list.map((entry) => {
    const denied = entry.outcome === "denied";
    return h(
      "tr",
      { testid: "audit-row", class: denied ? "denied" : "", dataset: { outcome: entry.outcome ?? "" } },
      h("td", { class: "nowrap", text: formatTime(entry.at) }),
      h("td", null, entry.actor || "", entry.role ? h("small", { class: "muted block", text: ROLES[entry.role] || entry.role }) : null),
      h("td", null, h("code", { text: entry.action || "" })),
      h("td", { text: entry.scope ? nameOf(entry.scope) : "" }),
      h("td", { class: "wrap", text: entry.target || "" }),
      h("td", null, h("span", { class: denied ? "badge danger" : "badge ok", text: denied ? "拒绝" : "成功" })),
      h("td", { class: "json-cell" }, jsonBlock("修改前", entry.before), jsonBlock("修改后", entry.after)),
      h("td", { class: "nowrap", text: entry.address || "" }),
    );
  });
  clear(
    main,
    h(
      "div",
      { class: "page audit-page" },
      h("header", { class: "page-head" }, h("h1", { text: `操作日志 · ${scopeLabel(scope, dept?.short_name || dept?.name)}` }), h("p", { class: "muted", text: `最近${LIMIT}条，最新的在前。被拒绝的操作以红色标出。` })),
      h(
        "section",
        { class: "panel" },
        list.length
          ? table(["时间", "操作人", "操作", "范围", "对象", "结果", "内容", "地址"], rows, { label: "操作日志", testid: "audit-table" })
          : h("p", { class: "muted", text: "还没有操作记录。" }),
      ),
    ),
  );
}
