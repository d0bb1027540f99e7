// The operator's desk (#/desk/{scope}): the call ringing them pops up as a
// card (the caller's number, the department and the way the call came, the
// menu branch, the caller's earlier cases), stays while they talk, and says
// 已结束 after. Live from GET /api/operator/feed (server-sent events); the
// browser's EventSource reconnects by itself, and this page starts it again
// when the server refused it (a restart, a session that ended).

import { api, enc, report, session } from "./api.js";
import { h, clear, field, formatTime, formatDue } from "./dom.js";
import { CASE_KINDS, CASE_STATUSES, CATEGORIES, categoryName } from "./labels.js";

const FEED = "/api/operator/feed";
const RESTART_MS = 3000; // after the server refused the stream (EventSource gave up)

const HOW = { routed: "来电归属", chosen: "按键选择", back: "返回", menu: "菜单转接", callback: "回电" };
const STATES = {
  ringing: { text: "振铃中", tone: "ringing" },
  connected: { text: "通话中", tone: "connected" },
  ended: { text: "已结束", tone: "ended" },
  missed: { text: "已结束（未接听）", tone: "ended" },
};

function pathText(path) {
  return path.map((step) => (HOW[step.how] ? `${step.name}（${HOW[step.how]}）` : step.name)).join(" → ");
}

function earlierList(cases, scope) {
  if (!cases.length) return h("p", { class: "muted", testid: "pop-no-cases", text: "此号码在本部门没有以前的工单。" });
  return h(
    "ul",
    { class: "pop-cases", testid: "pop-cases" },
    cases.map((item) =>
      h(
        "li",
        { testid: "pop-case", dataset: { number: item.number } },
        h("a", { href: `#/cases/${scope}/${enc(item.number)}`, text: item.number }),
        h("span", { text: formatTime(item.created_at).slice(0, 10) }),
        h("span", { class: `badge case-${item.status}`, text: CASE_STATUSES[item.status] || item.status }),
        h("span", { text: categoryName(item.category) }),
        h("span", { text: item.department_name || item.department }),
        h("span", { class: "muted", text: `期限 ${formatDue(item.due_at).slice(0, 10)}` }),
        item.kind !== "message" ? h("span", { class: "muted", text: CASE_KINDS[item.kind] || item.kind }) : null,
      ),
    ),
  );
}

/** The form that registers a case from the call (登记工单), category set. */
function registerForm(call, scope) {
  const category = h(
    "select",
    { testid: "pop-category-select" },
    h("option", { value: "", text: "未分类" }),
    Object.entries(CATEGORIES).map(([id, label]) => h("option", { value: id, text: label, selected: id === call.category })),
  );
  const note = h("textarea", { testid: "pop-note", rows: 2, maxlength: 2000, placeholder: "来电内容、答复情况" });
  const done = h("p", { class: "notice", testid: "pop-registered", hidden: true });
  const button = h("button", { type: "button", class: "primary", testid: "pop-register", text: "登记工单" });
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const body = { note: note.value.trim(), category: category.value };
      const item = await api("POST", `/api/calls/${enc(call.call_id)}/case`, { json: body });
      clear(done, "已登记工单 ", h("a", { href: `#/cases/${scope}/${enc(item.number)}`, text: item.number }), `（${categoryName(item.category)}）`);
      done.dataset.number = item.number;
      done.hidden = false;
      button.textContent = "已登记";
    } catch (error) {
      button.disabled = false;
      report(error);
    }
  });
  return h("div", { class: "pop-register" }, field("分类", category), field("记录", note), button, done);
}

function card(event, scope) {
  const call = event.call;
  const state = h("span", { class: "pop-state", testid: "pop-state" });
  const cases = h("div", { testid: "pop-earlier" }, earlierList(event.earlier_cases || [], scope));
  const el = h(
    "section",
    { class: "panel pop-card", testid: "pop-card", dataset: { call: call.call_id }, "aria-live": "assertive", "aria-label": "来电" },
    h("div", { class: "pop-head" }, state, h("span", { class: "muted", text: `振铃于 ${formatTime(call.ringing_at)}` })),
    h("p", { class: "pop-caller", testid: "pop-caller", text: call.caller || "未知号码" }),
    h(
      "dl",
      { class: "details" },
      h("div", null, h("dt", { text: "来电部门" }), h("dd", { testid: "pop-department", text: call.department_name })),
      h("div", null, h("dt", { text: "来电路径" }), h("dd", { testid: "pop-path", text: pathText(call.path) })),
      h("div", null, h("dt", { text: "菜单分支" }), h("dd", { testid: "pop-category", text: call.category_name || "未经自助菜单" })),
    ),
    h("h3", { text: "以前的工单" }),
    cases,
    registerForm(call, scope),
  );
  return {
    el,
    update(next) {
      const shown = STATES[next.kind] || { text: next.kind, tone: "" };
      state.textContent = shown.text;
      state.className = `pop-state ${shown.tone}`;
      el.dataset.state = next.kind;
      if (next.earlier_cases && next.earlier_cases.length) clear(cases, earlierList(next.earlier_cases, scope));
    },
  };
}

export async function deskPage(ctx) {
  const { main, scope, signal } = ctx;
  const me = session.user.username;
  const operators = await api("GET", "/api/operators", { signal });
  const mine = operators.find((op) => op.id === me);
  const listening = h("p", { class: "muted", testid: "feed-status", text: "正在连接…" });
  const slot = h("div", { testid: "pop-slot" }, h("p", { class: "muted pop-idle", text: "暂无来电。来电振铃时，来电信息会显示在这里。" }));
  clear(
    main,
    h(
      "div",
      { class: "page desk-page" },
      h("header", { class: "page-head" }, h("h1", { text: `来电 · ${session.user.name || me}` }), listening),
      slot,
    ),
  );
  if (!mine) {
    listening.textContent = `账号 ${me} 没有对应的话务员：话务员账号的用户名须与话务员编号相同。`;
    return;
  }

  let current = null; // { callId, view }
  let source = null;
  let restart = null;

  function show(event) {
    const receivedAt = Date.now();
    if (!current || current.callId !== event.call.call_id) {
      if (event.kind !== "ringing" && event.kind !== "connected") return; // the end of a call not shown
      const view = card(event, scope);
      current = { callId: event.call.call_id, view };
      view.el.dataset.receivedAt = String(receivedAt);
      clear(slot, view.el);
      // When the card is on screen: the frame after the one that drew it.
      requestAnimationFrame(() => requestAnimationFrame(() => {
        view.el.dataset.shownAt = String(Date.now());
      }));
    }
    current.view.update(event);
  }

  function connect() {
    source = new EventSource(FEED);
    source.addEventListener("open", () => {
      listening.textContent = "已连接，等待来电。";
    });
    source.addEventListener("hello", (message) => {
      const hello = JSON.parse(message.data);
      listening.textContent = hello.all_controllers
        ? `已连接控制器 ${hello.node}，等待来电。`
        : `已连接控制器 ${hello.node}，等待来电（只显示这台控制器转来的电话）。`;
      listening.dataset.node = hello.node;
    });
    for (const kind of Object.keys(STATES)) {
      source.addEventListener(kind, (message) => show(JSON.parse(message.data)));
    }
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CLOSED) {
        // Refused (not a stream): is the session still good? A 401 signs out.
        listening.textContent = "连接中断，稍后重试…";
        restart = setTimeout(() => {
          api("GET", "/api/session", { signal })
            .then(() => {
              if (!signal.aborted) connect();
            })
            .catch(report);
        }, RESTART_MS);
      } else {
        listening.textContent = "连接中断，正在重新连接…";
      }
    });
  }

  signal.addEventListener("abort", () => {
    clearTimeout(restart);
    if (source) source.close();
  });
  connect();
}
