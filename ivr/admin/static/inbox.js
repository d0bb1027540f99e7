// Supervision (#/inbox/{scope}): the escalations (督办) addressed to the
// departments the user supervises: a case of a department below went past
// its deadline, or is another working day late. The header's badge counts
// the unread ones; an admin marks each read once it is followed up.

import { api, enc, report } from "./api.js";
import { h, clear, formatTime, formatDue, table, say } from "./dom.js";
import { CASE_KINDS, CASE_STATUSES, categoryName } from "./labels.js";

/** How late, in words: the step the escalation was written at. */
export function lateWords(step) {
  return step === 0 ? "已超过办结期限" : `超期${step}个工作日`;
}

/** The unread count in the header's badge (hidden at 0). */
export async function refreshInboxBadge(signal) {
  const badge = document.querySelector("[data-testid=inbox-badge]");
  if (!badge) return;
  const inbox = await api("GET", "/api/inbox?unread=true&limit=1", { signal });
  badge.textContent = inbox.unread > 99 ? "99+" : String(inbox.unread);
  badge.hidden = inbox.unread === 0;
  badge.setAttribute("aria-label", `${inbox.unread} 条未读督办提醒`);
}

export async function inboxPage(ctx) {
  const { main, signal, user } = ctx;
  const canMark = user.role === "national_admin" || user.role === "department_admin";
  const onlyUnread = h("input", { type: "checkbox", id: "inbox-unread", testid: "inbox-unread" });
  const listBox = h("div");
  clear(
    main,
    h(
      "div",
      { class: "page inbox-page" },
      h(
        "header",
        { class: "page-head" },
        h("h1", { text: "督办提醒" }),
        h("p", { class: "muted", text: "下级部门超过办结期限的工单，每超期一个工作日提醒一次。跟进后请标为已读。" }),
      ),
      h("div", { class: "toolbar" }, h("label", { class: "check" }, onlyUnread, " 只看未读")),
      h("section", { class: "panel" }, listBox),
    ),
  );

  async function markRead(item) {
    await api("POST", `/api/inbox/${enc(item.id)}/read`, { signal });
    say(`已将工单 ${item.case} 的督办提醒标为已读。`);
    await Promise.all([load(), refreshInboxBadge(signal)]);
  }

  async function load() {
    const inbox = await api("GET", `/api/inbox${onlyUnread.checked ? "?unread=true" : ""}`, { signal });
    const rows = inbox.items.map((item) =>
      h(
        "tr",
        { testid: "inbox-row", dataset: { case: item.case, read: item.read_at ? "yes" : "no" }, class: item.read_at ? "read" : "unread" },
        h("td", { text: formatTime(item.at) }),
        h("td", null, h("a", { href: `#/cases/${item.department}/${enc(item.case)}`, text: item.case })),
        h("td", { text: item.department_name }),
        h("td", null, h("span", { class: "badge danger", text: lateWords(item.step) }), item.urgent ? h("span", { class: "badge danger", text: "紧急" }) : null),
        h("td", { text: `${CASE_KINDS[item.kind] || item.kind} · ${categoryName(item.category)}` }),
        h("td", { text: CASE_STATUSES[item.status] || item.status }),
        h("td", { text: formatDue(item.due_at) }),
        h(
          "td",
          null,
          item.read_at
            ? h("span", { class: "muted", text: `${item.read_by || ""} 已读` })
            : canMark
              ? h("button", { type: "button", class: "ghost", testid: "inbox-mark-read", text: "标为已读", on: { click: () => markRead(item).catch(report) } })
              : h("span", { class: "badge pending", text: "未读" }),
        ),
      ),
    );
    clear(
      listBox,
      rows.length
        ? table(["提醒时间", "工单", "承办部门", "超期", "类型", "状态", "办结期限", ""], rows, { label: "督办提醒", testid: "inbox-table" })
        : h("p", { class: "muted", testid: "inbox-empty", text: onlyUnread.checked ? "没有未读的督办提醒。" : "没有督办提醒：下级部门的工单都在办结期限内。" }),
    );
  }
  onlyUnread.addEventListener("change", () => load().catch(report));
  await load();
}
