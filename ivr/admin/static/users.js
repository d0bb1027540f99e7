// Users (#/users/{scope}): who may sign in to this page, for national admins
// only (the API refuses everyone else). The list is the same from every
// scope; the scope in the address only keeps the other pages' place.

import { api, enc, report } from "./api.js";
import { h, clear, field, formatTime, say, table } from "./dom.js";
import { ROLES } from "./labels.js";
import { department, nameOf } from "./departments.js";
import { addUserForm, passwordInputs, passwordProblem, MIN_PASSWORD } from "./users_form.js";

const HEADERS = ["用户名", "姓名", "角色", "部门", "含下级", "状态", "创建时间", "操作"];

function departmentCell(code, names) {
  if (!code) return h("td", { class: "muted", text: "全国" });
  // A name only when one is at hand (the provinces, what the picker loaded): no request per row.
  const name = names.get(code) || nameOf(code);
  return h("td", null, h("code", { text: code }), name !== code ? h("small", { class: "muted block", text: name }) : null);
}

function statusBadge(user) {
  return user.disabled ? h("span", { class: "badge danger", text: "已停用" }) : h("span", { class: "badge ok", text: "启用" });
}

/** The inline form under a row: a new password, typed twice. */
function resetForm(user, close) {
  const [password, again] = passwordInputs("user-reset-password");
  const error = h("p", { class: "error-text", role: "alert", hidden: true });
  const submit = h("button", { type: "submit", class: "primary", testid: "user-reset-submit", text: "确定重置" });
  const form = h(
    "form",
    { class: "reset-form", novalidate: true, "aria-label": `重置 ${user.username} 的密码` },
    h("p", { class: "small", text: `为 ${user.name}（${user.username}）设置新密码。已登录的会话会被退出。` }),
    h("div", { class: "reset-fields" }, field("新密码", password, `至少${MIN_PASSWORD}个字符`), field("再次输入新密码", again)),
    error,
    h("div", { class: "button-row" }, submit, h("button", { type: "button", class: "ghost", text: "取消", on: { click: () => close(false) } })),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const problem = passwordProblem(password.value, again.value);
    error.textContent = problem;
    error.hidden = !problem;
    if (problem) {
      password.focus();
      return;
    }
    submit.disabled = true;
    try {
      await api("PATCH", `/api/users/${enc(user.username)}`, { json: { password: password.value } });
      say(`已重置用户 ${user.username} 的密码`);
      close(true);
    } catch (failure) {
      report(failure);
    } finally {
      submit.disabled = false;
    }
  });
  return { form, focus: () => password.focus() };
}

async function toggle(user, reload) {
  const question = user.disabled
    ? `启用用户 ${user.username}（${user.name}）？\n启用后该用户可以重新登录。`
    : `停用用户 ${user.username}（${user.name}）？\n停用后该用户不能再登录，已登录的会话会被退出。`;
  if (!confirm(question)) return;
  await api("PATCH", `/api/users/${enc(user.username)}`, { json: { disabled: !user.disabled } });
  await reload();
  say(`已${user.disabled ? "启用" : "停用"}用户 ${user.username}`);
}

function userRows(user, { me, names, reload }) {
  const self = user.username === me;
  const toggleButton = h("button", {
    type: "button",
    class: user.disabled ? "" : "danger",
    testid: "user-toggle",
    text: user.disabled ? "启用" : "停用",
    // Stopping one's own account would lock the last way in.
    disabled: self && !user.disabled,
    title: self && !user.disabled ? "不能停用自己的账号" : null,
    on: { click: () => toggle(user, reload).catch(report) },
  });
  const resetButton = h("button", { type: "button", testid: "user-reset", text: "重置密码", "aria-expanded": "false" });
  const resetRow = h("tr", { class: "reset-row", hidden: true }, h("td", { colspan: String(HEADERS.length) }));
  resetButton.addEventListener("click", () => {
    if (!resetRow.hidden) return close(false);
    const { form, focus } = resetForm(user, close);
    clear(resetRow.firstChild, form);
    resetRow.hidden = false;
    resetButton.setAttribute("aria-expanded", "true");
    focus();
  });
  function close(done) {
    resetRow.hidden = true;
    clear(resetRow.firstChild);
    resetButton.setAttribute("aria-expanded", "false");
    if (!done) resetButton.focus();
  }
  const row = h(
    "tr",
    { testid: "user-row", class: user.disabled ? "disabled-user" : "", dataset: { username: user.username } },
    h("td", null, h("code", { text: user.username }), self ? h("small", { class: "muted block", text: "（本人）" }) : null),
    h("td", { text: user.name }),
    h("td", { text: ROLES[user.role] || user.role }),
    departmentCell(user.department, names),
    h("td", { text: user.department ? (user.include_sub ? "是" : "否") : "—" }),
    h("td", null, statusBadge(user)),
    h("td", { text: formatTime(user.created_at) }),
    h("td", null, h("div", { class: "row-actions" }, toggleButton, resetButton)),
  );
  return [row, resetRow];
}

export async function usersPage(ctx) {
  const { main, signal } = ctx;
  // The provinces: names for the table and suggestions for the form.
  const national = await department("national").catch(() => null);
  const provinces = national?.children || [];
  const names = new Map(provinces.map((d) => [d.code, d.name]));
  const listBox = h("section", { class: "panel", "aria-labelledby": "users-title" }, h("p", { class: "loading", text: "正在加载…" }));
  const count = h("p", { class: "muted" });

  async function load() {
    const list = await api("GET", "/api/users", { signal });
    const enabled = list.filter((user) => !user.disabled).length;
    count.textContent = `共${list.length}个账号，${enabled}个启用。只有全国管理员能看到这一页。`;
    clear(
      listBox,
      h("h2", { id: "users-title", text: "账号" }),
      list.length
        ? table(HEADERS, list.map((user) => userRows(user, { me: ctx.user.username, names, reload: load })), { label: "用户", testid: "users-table" })
        : h("p", { class: "muted", text: "还没有用户。" }),
    );
  }

  const form = addUserForm(provinces, async (user) => {
    await load();
    say(`已添加用户 ${user.username}`);
  });
  await load();
  clear(
    main,
    h(
      "div",
      { class: "page users-page" },
      h("header", { class: "page-head" }, h("h1", { text: "用户" }), count),
      listBox,
      form,
    ),
  );
}
