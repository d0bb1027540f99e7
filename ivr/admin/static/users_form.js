// The add-user form of the users page. The role decides whether a department
// is asked for (ivr/auth.py validate_role); the checks here repeat the API's
// so that most mistakes are named, in Chinese, before anything is sent.

import { api, report, ApiError } from "./api.js";
import { h, field, say } from "./dom.js";
import { ROLES } from "./labels.js";

export const MIN_PASSWORD = 10; // ivr/auth.py MIN_PASSWORD
const MAX_PASSWORD = 200; // ivr/auth.py MAX_PASSWORD
const USERNAME = /^[a-z0-9][a-z0-9._-]{0,63}$/; // ivr/db/users.py USERNAME
const NAME_MAX = 64;
const DEPARTMENT = /^\d{6}$/;
// Roles that belong to one department; a national admin belongs to none, and
// an auditor may do either (none: a national auditor).
const IN_DEPARTMENT = ["department_admin", "operator"];

/** What is wrong with a new password typed twice; "" if nothing. */
export function passwordProblem(password, again) {
  const length = [...password].length; // the API counts characters, not UTF-16 units
  if (length < MIN_PASSWORD) return `密码至少要${MIN_PASSWORD}个字符。`;
  if (length > MAX_PASSWORD) return `密码最多${MAX_PASSWORD}个字符。`;
  if (password !== again) return "两次输入的密码不一样。";
  return "";
}

/** A new password typed twice, as two inputs with these testids. */
export function passwordInputs(testid) {
  const attrs = { type: "password", autocomplete: "new-password", minlength: String(MIN_PASSWORD), maxlength: String(MAX_PASSWORD) };
  return [h("input", { ...attrs, testid }), h("input", { ...attrs, testid: `${testid}2` })];
}

function departmentHint(role) {
  if (role === "auditor") return "6位区划代码；留空表示全国审计员";
  return "6位区划代码，例如 340000";
}

function readForm(f) {
  const role = f.role.value;
  const department = f.department.value.trim();
  return {
    username: f.username.value.trim(),
    name: f.name.value.trim(),
    role,
    department: role === "national_admin" || !department ? null : department,
    include_sub: role === "department_admin" && f.sub.checked,
    password: f.password.value,
  };
}

/** [what is wrong, the control to fix] or ["", null]. */
function problemOf(f, body) {
  if (!USERNAME.test(body.username)) return ["用户名只能用小写字母、数字和 . _ -，以字母或数字开头，最多64个字符。", f.username];
  if (!body.name || body.name.length > NAME_MAX) return [`请填写姓名（最多${NAME_MAX}个字符）。`, f.name];
  if (IN_DEPARTMENT.includes(body.role) && !body.department) return [`${ROLES[body.role]}属于一个部门：请填写部门的区划代码。`, f.department];
  if (body.department && !DEPARTMENT.test(body.department)) return ["部门代码是6位数字，例如 340000。", f.department];
  const password = passwordProblem(f.password.value, f.password2.value);
  return password ? [password, f.password] : ["", null];
}

/** An API error about this form in Chinese, if it is one the API words in English. */
function refusal(error, body) {
  // The form already asks for a department exactly when the role needs one,
  // so a department the API refuses is one missing from the directory.
  if (error.errorId === "invalid_input" && error.details.field === "department") {
    return `部门名录中没有区划代码 ${body.department}：请检查部门代码。`;
  }
  return "";
}

function controls() {
  const f = {
    username: h("input", { testid: "user-username", autocomplete: "off", spellcheck: "false", autocapitalize: "none", maxlength: "64", required: true }),
    name: h("input", { testid: "user-fullname", autocomplete: "off", maxlength: String(NAME_MAX), required: true }),
    role: h("select", { testid: "user-role" }, Object.entries(ROLES).map(([value, label]) => h("option", { value, selected: value === "department_admin", text: label }))),
    department: h("input", { testid: "user-department", inputmode: "numeric", autocomplete: "off", maxlength: "6", list: "user-department-list" }),
    sub: h("input", { type: "checkbox", testid: "user-sub" }),
  };
  [f.password, f.password2] = passwordInputs("user-password");
  return f;
}

/** The department field (with 含下级部门), shown as the chosen role needs it. */
function departmentPart(f, departments) {
  const part = field("部门（区划代码）", f.department, departmentHint(f.role.value));
  // Inside the department's field, so that no grid cell holds a lone checkbox.
  const subBox = h("div", { class: "sub-box" }, h("label", { class: "check" }, f.sub, "含下级部门"), h("small", { class: "hint", text: "也能管理下级部门的菜单、工作时间和工单" }));
  part.append(h("datalist", { id: "user-department-list" }, departments.map((d) => h("option", { value: d.code, text: d.name }))), subBox);
  function show() {
    const role = f.role.value;
    part.hidden = role === "national_admin";
    f.department.nextElementSibling.textContent = departmentHint(role);
    f.department.required = IN_DEPARTMENT.includes(role);
    subBox.hidden = role !== "department_admin";
  }
  f.role.addEventListener("change", show);
  show();
  return part;
}

async function send(f, body, onAdded) {
  try {
    const user = await api("POST", "/api/users", { json: body });
    // Role and department stay: the next user is often a colleague.
    for (const input of [f.username, f.name, f.password, f.password2]) input.value = "";
    await onAdded(user);
  } catch (failure) {
    const text = failure instanceof ApiError ? refusal(failure, body) : "";
    if (text) say(text, "error");
    else report(failure);
  }
}

/** The form; `onAdded(user)` runs after the API added the user. */
export function addUserForm(departments, onAdded) {
  const f = controls();
  const error = h("p", { class: "error-text", role: "alert", hidden: true });
  const submit = h("button", { type: "submit", class: "primary", testid: "user-add-submit", text: "添加用户" });
  const form = h(
    "form",
    { class: "panel user-add", testid: "user-add-form", novalidate: true, "aria-labelledby": "user-add-title" },
    h("h2", { id: "user-add-title", text: "添加用户" }),
    h(
      "div",
      { class: "user-form-grid" },
      field("用户名", f.username, "小写字母、数字和 . _ -，例如 zhang.san"),
      field("姓名", f.name),
      field("角色", f.role),
      departmentPart(f, departments),
      field("密码", f.password, `至少${MIN_PASSWORD}个字符`),
      field("再次输入密码", f.password2),
    ),
    error,
    h("div", { class: "button-row" }, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = readForm(f);
    const [problem, at] = problemOf(f, body);
    error.textContent = problem;
    error.hidden = !problem;
    if (problem) {
      at.focus();
      return;
    }
    submit.disabled = true;
    await send(f, body, onAdded);
    submit.disabled = false;
  });
  return form;
}
