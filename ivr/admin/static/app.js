// The admin page of the 12371 hotline: sign-in, the header, and the hash
// routes #/{page}/{scope}. Each page module renders into <main> and stops its
// timers and requests when the admin leaves it.

import { api, session, signIn, restore, signOut, whenSignedOut, report, ApiError } from "./api.js";
import { h, clear, mountStatus, say, clearStatus } from "./dom.js";
import { ROLES } from "./labels.js";
import { renderPicker, forgetDepartments, department } from "./departments.js";
import { menuPage } from "./menu.js";
import { hoursPage } from "./hours.js";
import { todayPage } from "./today.js";
import { casesPage } from "./cases.js";
import { reportPage } from "./report.js";
import { auditPage } from "./audit.js";
import { usersPage } from "./users.js";
import { inboxPage, refreshInboxBadge } from "./inbox.js";
import { deskPage } from "./desk.js";

const PAGES = {
  // An operator's home: the call ringing them (the screen pop).
  desk: { title: "来电", render: deskPage, roles: ["operator"] },
  today: { title: "今日来电", render: todayPage },
  menu: { title: "菜单", render: menuPage },
  hours: { title: "工作时间", render: hoursPage },
  cases: { title: "工单", render: casesPage },
  // Escalations to the departments the user supervises (督办), with an unread badge.
  inbox: { title: "督办提醒", render: inboxPage, roles: ["national_admin", "department_admin", "auditor"], unscoped: true },
  report: { title: "报表", render: reportPage },
  audit: { title: "操作日志", render: auditPage },
  // `roles`: only these see the page; others who type its address are told so.
  // `unscoped`: the same for every department, so no department picker.
  users: { title: "用户", render: usersPage, roles: ["national_admin"], unscoped: true },
};
// Operators answer calls and work cases; the rest is for admins and auditors.
const OPERATOR_PAGES = ["desk", "today", "cases"];

const main = document.getElementById("main");
const topbar = document.getElementById("topbar");
let leaving = null; // what the current page does when the admin leaves it
let wanted = null; // the route asked for before signing in

function homeScope() {
  return session.user?.department || "national";
}

function homePage() {
  return session.user?.role === "operator" ? "desk" : "today";
}

function pagesFor(user) {
  if (user?.role === "operator") return OPERATOR_PAGES;
  return Object.keys(PAGES).filter((id) => !PAGES[id].roles || PAGES[id].roles.includes(user?.role));
}

/** A page kept for some roles, for the others: said politely, not redirected. */
function refusedPage(page, user) {
  return Object.hasOwn(PAGES, page) && Boolean(PAGES[page].roles) && !pagesFor(user).includes(page);
}

function renderRefusal(page) {
  clear(document.getElementById("dept-box"));
  document.title = `${PAGES[page].title} · 12371 管理`;
  clear(
    main,
    h(
      "div",
      { class: "empty-page", testid: "page-refused" },
      h("h1", { text: PAGES[page].title }),
      h("p", { class: "muted", text: `抱歉，这一页只有${PAGES[page].roles.map((role) => ROLES[role] || role).join("、")}可以使用。如需添加或停用账号，请联系全国管理员。` }),
      h("p", null, h("a", { href: `#/today/${homeScope()}`, text: "回到今日来电" })),
    ),
  );
}

function parseHash() {
  const [page = "", scope = "", ...rest] = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  return { page, scope, rest };
}

function leave() {
  if (leaving) leaving();
  leaving = null;
}

function renderLogin(notice) {
  leave();
  topbar.hidden = true;
  document.title = "登录 · 12371 管理";
  const username = h("input", { id: "login-username", testid: "login-username", name: "username", autocomplete: "username", required: true });
  const password = h("input", {
    id: "login-password",
    testid: "login-password",
    name: "password",
    type: "password",
    autocomplete: "current-password",
    required: true,
  });
  const error = h("p", { class: "error-text", testid: "login-error", role: "alert", hidden: !notice, text: notice || "" });
  const submit = h("button", { type: "submit", class: "primary wide", testid: "login-submit", text: "登录" });
  const form = h(
    "form",
    { class: "login-card", "aria-labelledby": "login-title" },
    h("div", { class: "login-mark", "aria-hidden": "true", text: "12371" }),
    h("h1", { id: "login-title", text: "党员咨询服务热线 · 管理" }),
    h("p", { class: "muted", text: "组织部门工作人员登录后可管理语音菜单、提示音、工作时间和工单。" }),
    h("div", { class: "field" }, h("label", { for: "login-username", text: "用户名" }), username),
    h("div", { class: "field" }, h("label", { for: "login-password", text: "密码" }), password),
    error,
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    submit.disabled = true;
    submit.textContent = "正在登录…";
    try {
      await signIn(username.value.trim(), password.value);
      clearStatus();
      const target = wanted && wanted.page in PAGES ? wanted : null;
      wanted = null;
      const next = target ? `#/${target.page}/${target.scope || homeScope()}` : `#/${homePage()}/${homeScope()}`;
      if (location.hash === next) await route();
      else location.hash = next; // hashchange routes

    } catch (failure) {
      error.textContent = failure.message || "登录失败";
      error.hidden = false;
      password.select();
    } finally {
      submit.disabled = false;
      submit.textContent = "登录";
    }
  });
  clear(main, h("div", { class: "login-page" }, form));
  (username.value ? password : username).focus();
}

function renderHeader(page, scope) {
  const user = session.user;
  topbar.hidden = false;
  document.getElementById("user-name").textContent = user.name || user.username;
  document.getElementById("user-role").textContent = ROLES[user.role] || user.role;
  const nav = document.getElementById("nav");
  const allowed = pagesFor(user);
  clear(
    nav,
    allowed.map((id) =>
      h(
        "a",
        {
          href: `#/${id}/${scope}`,
          testid: `nav-${id}`,
          "aria-current": id === page ? "page" : null,
        },
        PAGES[id].title,
        id === "inbox" ? h("span", { class: "nav-badge", testid: "inbox-badge", hidden: true }) : null,
      ),
    ),
  );
  document.getElementById("brand-link").href = `#/${homePage()}/${homeScope()}`;
  if (allowed.includes("inbox")) refreshInboxBadge().catch(report);
}

async function route() {
  if (!session.user) {
    wanted = parseHash();
    renderLogin();
    return;
  }
  const { page, scope, rest } = parseHash();
  const allowed = pagesFor(session.user);
  const refused = refusedPage(page, session.user);
  if ((!allowed.includes(page) && !refused) || !/^(national|\d{6})$/.test(scope)) {
    location.replace(`#/${allowed.includes(page) || refused ? page : homePage()}/${homeScope()}`);
    return; // hashchange comes back here
  }
  leave();
  renderHeader(page, scope);
  if (refused) {
    renderRefusal(page);
    return;
  }
  document.title = `${PAGES[page].title} · 12371 管理`;
  const controller = new AbortController();
  const timers = new Set();
  leaving = () => {
    controller.abort();
    timers.forEach(clearInterval);
  };
  const picker = document.getElementById("dept-box");
  // Each visit draws into its own box: a page that answers late, after the
  // admin moved on, draws into a box no longer shown.
  const box = h("div", { class: "page-box" }, h("p", { class: "loading", text: "正在加载…" }));
  clear(main, box);
  const ctx = {
    main: box,
    scope,
    rest,
    user: session.user,
    signal: controller.signal,
    every(ms, fn) {
      timers.add(setInterval(fn, ms));
    },
    // The department as the API describes it (name, editable); null if not allowed.
    dept: department(scope).catch(() => null),
    readOnly: session.user.role === "auditor" || session.user.role === "operator",
  };
  if (PAGES[page].unscoped) clear(picker);
  else renderPicker(picker, page, scope, session.user.department, () => controller.signal.aborted).catch(report);
  try {
    await PAGES[page].render(ctx);
  } catch (error) {
    if (controller.signal.aborted) return;
    report(error);
    if (error instanceof ApiError && error.status !== 401) {
      clear(
        box,
        h(
          "div",
          { class: "empty-page" },
          h("h1", { text: PAGES[page].title }),
          h("p", {
            class: "muted",
            text: error.status === 403 ? "您的账号不能查看这个部门的这一页。请在上方选择您负责的部门。" : "这一页没能加载，请稍后重试。",
          }),
          h("p", null, h("a", { href: `#/${page}/${homeScope()}`, text: "回到本部门" })),
        ),
      );
    }
  }
}

function setUpChrome() {
  mountStatus(document.getElementById("status-message"));
  document.getElementById("status-close").addEventListener("click", clearStatus);
  document.getElementById("logout").addEventListener("click", async () => {
    try {
      await signOut();
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 401)) report(error);
    }
    forgetDepartments();
    leave();
    history.replaceState(null, "", "#/login");
    renderLogin();
    say("已退出登录。");
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") clearStatus();
  });
  window.addEventListener("hashchange", () => {
    clearStatus();
    route();
  });
  window.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    report(event.reason);
  });
  whenSignedOut((error) => {
    forgetDepartments();
    if (!wanted) wanted = parseHash();
    renderLogin(`请重新登录：${error.message}`);
  });
}

async function boot() {
  setUpChrome();
  try {
    await restore();
  } catch (error) {
    report(error);
  }
  if (session.user && (!location.hash || location.hash === "#/login")) {
    history.replaceState(null, "", `#/${homePage()}/${homeScope()}`);
  }
  await route();
}

boot();
