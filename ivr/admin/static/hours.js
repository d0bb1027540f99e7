// The working-hours page (#/hours/{scope}): the weekly schedule (own, or
// inherited from above), closures (a meeting, a holiday the calendar does not
// know) and extra openings, saved at once as a new version.

import { api, enc, report } from "./api.js";
import { h, clear, field, formatTime, say, table } from "./dom.js";
import { WEEKDAYS, scopeLabel } from "./labels.js";
import { nameOf } from "./departments.js";
import { renderVersions } from "./versions.js";

const INTERVAL = /^(\d{1,2}):(\d{2})\s*[-–~～至]\s*(\d{1,2}):(\d{2})$/;

/** "08:30-12:00, 14:30-17:30" -> ["08:30-12:00", "14:30-17:30"], or an error. */
export function parseIntervals(text) {
  const parts = text.split(/[,，;；、]/).map((part) => part.trim()).filter(Boolean);
  const found = [];
  for (const part of parts) {
    const m = INTERVAL.exec(part);
    const [sh, sm, eh, em] = m ? m.slice(1).map(Number) : [];
    if (!m || sh > 23 || eh > 23 || sm > 59 || em > 59) return { error: `“${part}”不是时间段，应写成 08:30-12:00` };
    if (sh * 60 + sm >= eh * 60 + em) return { error: `“${part}”的结束时间早于开始时间` };
    const pad = (n) => String(n).padStart(2, "0");
    found.push(`${pad(sh)}:${pad(sm)}-${pad(eh)}:${pad(em)}`);
  }
  return { intervals: found };
}

/** "2026-12-01T14:00:00" -> "2026-12-01T14:00", as a datetime-local input takes it. */
function minutes(value) {
  const m = /^\d{4}-\d\d-\d\dT\d\d:\d\d/.exec(value || "");
  return m ? m[0] : "";
}

function periodsEditor(title, hint, periods, disabled, testid) {
  const body = h("tbody");
  const rows = [];
  function addRow(period = { start: "", end: "", reason: "" }) {
    const n = rows.length + 1;
    const start = h("input", { type: "datetime-local", value: minutes(period.start), disabled, "aria-label": `${title}${n} 开始`, required: true });
    const end = h("input", { type: "datetime-local", value: minutes(period.end), disabled, "aria-label": `${title}${n} 结束`, required: true });
    const reason = h("input", { value: period.reason || "", disabled, maxlength: "200", "aria-label": `${title}${n} 原因`, placeholder: "原因（必填）", required: true });
    const row = { start, end, reason };
    const tr = h("tr", { testid: `${testid}-row` }, h("td", null, start), h("td", null, end), h("td", null, reason));
    if (!disabled) {
      tr.append(
        h(
          "td",
          null,
          h("button", {
            type: "button",
            class: "icon danger-text",
            "aria-label": `删除${title}${n}`,
            text: "✕",
            on: {
              click: () => {
                rows.splice(rows.indexOf(row), 1);
                tr.remove();
                syncEmpty();
              },
            },
          }),
        ),
      );
    }
    rows.push(row);
    body.append(tr);
    syncEmpty();
    return row;
  }
  const empty = h("tr", { class: "empty-row" }, h("td", { colspan: "4", class: "muted", text: "无" }));
  body.append(empty);
  const syncEmpty = () => (empty.hidden = rows.length > 0);
  periods.forEach((period) => addRow(period));
  syncEmpty();
  const headers = ["开始", "结束", "原因"].concat(disabled ? [] : [""]);
  const wrap = table(headers, body, { label: title, testid });
  const section = h("fieldset", { class: "periods" }, h("legend", { text: title }), h("p", { class: "muted small", text: hint }), wrap);
  if (!disabled) {
    section.append(h("button", { type: "button", testid: `${testid}-add`, text: `添加${title}`, on: { click: () => addRow().start.focus() } }));
  }
  return {
    el: section,
    read() {
      const list = [];
      for (const row of rows) {
        const period = { start: row.start.value, end: row.end.value, reason: row.reason.value.trim() };
        if (!period.start || !period.end) return { error: `${title}：请填写开始和结束时间` };
        if (!period.reason) return { error: `${title}：请填写原因` };
        if (period.start >= period.end) return { error: `${title}：${period.start.replace("T", " ")} 的结束时间早于开始时间` };
        list.push(period);
      }
      return { list };
    },
  };
}

function statusCard(view) {
  const st = view.status || {};
  const open = Boolean(view.open_now ?? st.open);
  const lines = [
    h("p", { class: "status-big", text: open ? "现在是工作时间：来电由话务员人工接听" : "现在是非工作时间：来电进入自动语音服务" }),
  ];
  if (st.reason) lines.push(h("p", { class: "muted", text: `原因：${st.reason}` }));
  if (st.next_change) lines.push(h("p", { class: "muted", text: `下次切换：${formatTime(st.next_change)}` }));
  if (st.calendar_complete === false) {
    lines.push(h("p", { class: "warn-text", text: "注意：节假日日历还不完整，春节等农历节日和调休请用“停止服务”和“临时开放”补上。" }));
  }
  return h("section", { class: `panel open-card ${open ? "open" : "closed"}`, testid: "open-now", "aria-label": "当前状态" }, lines);
}

export async function hoursPage(ctx) {
  const { main, scope, signal } = ctx;
  const base = `/api/hours/${enc(scope)}`;
  const dept = await ctx.dept;
  const editable = !ctx.readOnly && dept?.editable !== false;
  const versions = h("section", { class: "panel versions", testid: "versions", "aria-label": "版本" });

  function draw(view) {
    // own_week: whether the scope has a week of its own; else judged by week_from.
    const inherited = scope !== "national" && ("own_week" in view ? !view.own_week : view.week_from !== scope);
    const inputs = {};
    const dayRows = WEEKDAYS.map(([day, label]) => {
      const input = h("input", {
        testid: "hours-day",
        dataset: { day },
        value: (view.week?.[day] || []).join(", "),
        placeholder: "休息",
        disabled: !editable || inherited,
        inputmode: "text",
        autocomplete: "off",
      });
      inputs[day] = input;
      return field(label, input);
    });
    const inherit = h("input", { type: "checkbox", testid: "hours-inherit", checked: inherited, disabled: !editable });
    inherit.addEventListener("change", () => {
      for (const input of Object.values(inputs)) input.disabled = inherit.checked;
    });
    const from = view.week_from === "default" ? "全国默认" : nameOf(view.week_from || "national");
    const weekError = h("p", { class: "error-text", role: "alert", hidden: true });
    const week = h(
      "fieldset",
      { class: "panel week", testid: "hours-week" },
      h("legend", { text: "每周工作时间" }),
      h("p", { class: "muted small", text: "每天写一个或几个时间段，用逗号隔开，例如 08:30-12:00, 14:30-17:30；空着表示休息。法定节假日自动休息，调休上班日按周一的时间。" }),
      scope === "national"
        ? null
        : h("label", { class: "check" }, inherit, " 继承上级", h("span", { class: "muted small", text: inherited ? `（现在用的是${from}的时间）` : "（现在用的是本级自己的时间）" })),
      h("div", { class: "week-grid" }, dayRows),
      weekError,
    );
    const closures = periodsEditor("停止服务", "这段时间不接人工电话，来电进入自动语音（如集中学习、会议）。", view.closures || [], !editable, "closures");
    const openings = periodsEditor("临时开放", "在平时的工作时间之外加开人工接听（如集中宣传期间、调休上班）。", view.openings || [], !editable, "openings");

    const save = h("button", { type: "button", class: "primary", testid: "hours-save", text: "保存" });
    save.addEventListener("click", async () => {
      let weekBody = null;
      if (scope === "national" || !inherit.checked) {
        weekBody = {};
        for (const [day, label] of WEEKDAYS) {
          const parsed = parseIntervals(inputs[day].value);
          if (parsed.error) {
            weekError.hidden = false;
            weekError.textContent = `${label}：${parsed.error}`;
            inputs[day].focus();
            return;
          }
          weekBody[day] = parsed.intervals;
        }
      }
      weekError.hidden = true;
      const c = closures.read();
      const o = openings.read();
      const problem = c.error || o.error;
      if (problem) {
        say(problem, "error");
        return;
      }
      save.disabled = true;
      try {
        const next = await api("PUT", base, { json: { week: weekBody, closures: c.list, openings: o.list } });
        await reload(next);
        say(next.version ? `已保存，工作时间第${next.version.number}版已生效。` : "已保存，立即生效。");
      } catch (error) {
        report(error);
      } finally {
        save.disabled = false;
      }
    });

    clear(
      main,
      h(
        "div",
        { class: "page hours-page" },
        h("header", { class: "page-head" }, h("h1", { text: `工作时间 · ${scopeLabel(scope, view.name)}` }), view.version ? h("p", { class: "muted", text: `第${view.version.number}版，${formatTime(view.version.published_at)} 由 ${view.version.published_by} 保存。` }) : null),
        statusCard(view),
        editable ? null : h("p", { class: "notice", text: "只读：您可以查看，但不能修改这一级的工作时间。" }),
        week,
        h("div", { class: "panel" }, closures.el, openings.el),
        editable ? h("div", { class: "button-row save-row" }, save, h("span", { class: "muted small", text: "保存后立即生效，并记为一个新版本。" })) : null,
        versions,
      ),
    );
  }

  async function reload(view) {
    draw(view || (await api("GET", base, { signal })));
    await renderVersions(versions, { base, editable, withDiff: false, afterRestore: () => reload(), signal }).catch(report);
  }

  await reload();
}
