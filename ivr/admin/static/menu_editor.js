// The editor of one menu node: kind, text, category, department, choices,
// prompt, and the actions on it. It edits `spec` (a working copy) in place
// and calls back; the menu page decides what reaches the API.

import { h, clear, field, shorten } from "./dom.js";
import { KINDS, CATEGORIES, kindLabelOf } from "./labels.js";
import { KEYS, NODE_ID, TEXT_MAX, duplicateKeys, nextFreeKey } from "./menu_model.js";
import { promptSection } from "./prompt_tools.js";

function options(pairs, selected) {
  return pairs.map(([value, label]) => h("option", { value, selected: value === (selected || ""), text: label }));
}

function choicesEditor(spec, tree, editable, changed) {
  const box = h("fieldset", { class: "choices", testid: "node-choices" }, h("legend", { text: "按键选项" }));
  const rows = h("ol", { class: "choice-rows" });
  const warning = h("p", { class: "error-text", role: "alert", hidden: true });
  const targets = tree.map((node) => [node.id, `${node.id} · ${kindLabelOf(node.kind)}${node.text ? ` · ${shorten(node.text, 12)}` : ""}`]);

  function draw() {
    spec.choices = spec.choices || [];
    clear(rows);
    spec.choices.forEach((choice, index) => {
      const key = h("select", { "aria-label": `第${index + 1}个选项的按键`, disabled: !editable, class: "key-select" }, options(KEYS.map((k) => [k, `按${k}`]), String(choice.key)));
      key.addEventListener("change", () => {
        choice.key = key.value;
        changed();
        check();
      });
      const known = targets.some(([id]) => id === choice.to);
      const target = h(
        "select",
        { "aria-label": `按${choice.key}转到的节点`, disabled: !editable, class: "target-select" },
        options([["", "（选择节点）"], ...(known || !choice.to ? [] : [[choice.to, `${choice.to}（不存在）`]]), ...targets], choice.to),
      );
      target.addEventListener("change", () => {
        choice.to = target.value;
        changed();
      });
      const move = (delta) => () => {
        const other = index + delta;
        [spec.choices[index], spec.choices[other]] = [spec.choices[other], spec.choices[index]];
        changed();
        draw();
      };
      const buttons = editable
        ? [
            h("button", { type: "button", class: "icon", "aria-label": `上移按${choice.key}`, title: "上移", disabled: index === 0, on: { click: move(-1) }, text: "↑" }),
            h("button", { type: "button", class: "icon", "aria-label": `下移按${choice.key}`, title: "下移", disabled: index === spec.choices.length - 1, on: { click: move(1) }, text: "↓" }),
            h("button", {
              type: "button",
              class: "icon danger-text",
              "aria-label": `删除按${choice.key}这一行`,
              title: "删除这一行",
              on: {
                click: () => {
                  spec.choices.splice(index, 1);
                  changed();
                  draw();
                },
              },
              text: "✕",
            }),
          ]
        : [];
      rows.append(h("li", { class: "choice-row", testid: "choice-row" }, key, target, h("span", { class: "row-buttons" }, buttons)));
    });
    if (!spec.choices.length) rows.append(h("li", { class: "muted", text: "还没有按键选项。" }));
    check();
  }

  function check() {
    const twice = duplicateKeys(spec);
    warning.hidden = !twice.length;
    warning.textContent = twice.length ? `按键重复：${twice.map((k) => `按${k}`).join("、")}` : "";
  }

  const add = h("button", { type: "button", testid: "choice-add", text: "添加按键" });
  add.addEventListener("click", () => {
    const key = nextFreeKey(spec);
    if (!key) {
      warning.hidden = false;
      warning.textContent = "按键1到9都已使用。";
      return;
    }
    spec.choices = [...(spec.choices || []), { key, to: "" }];
    changed();
    draw();
    rows.querySelector("li:last-child .target-select")?.focus();
  });
  draw();
  box.append(rows, warning);
  if (editable) box.append(add);
  return box;
}

function addChildForm(node, tree, onAddChild) {
  const id = h("input", { testid: "new-node-id", value: `${node.id}.`, autocomplete: "off", spellcheck: "false" });
  const kind = h("select", { testid: "new-node-kind" }, options(Object.entries(KINDS), "info"));
  const error = h("p", { class: "error-text", role: "alert", hidden: true });
  const form = h(
    "form",
    { class: "add-child", hidden: true, novalidate: true, "aria-label": "添加子节点" },
    field("新节点编号", id, "小写字母、数字、下划线和点，例如 dues.local"),
    field("类型", kind),
    error,
    h("div", { class: "button-row" }, h("button", { type: "submit", class: "primary", testid: "new-node-submit", text: "添加" }), h("button", { type: "button", class: "ghost", on: { click: () => (form.hidden = true) }, text: "取消" })),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = id.value.trim();
    let problem = "";
    if (!NODE_ID.test(value)) problem = "编号只能用小写字母、数字、下划线和点，例如 dues.local。";
    else if (tree.some((other) => other.id === value)) problem = `已有编号为 ${value} 的节点。`;
    error.hidden = !problem;
    error.textContent = problem;
    if (!problem) onAddChild(value, kind.value);
  });
  return { form, open: () => ((form.hidden = false), id.focus()) };
}

/** Fills `panel` with the editor of `node` (a TreeNode) working on `spec`. */
export function renderEditor(panel, o) {
  const { node, spec, tree, editable } = o;
  const changed = () => o.onDirty();
  const disabled = !editable;

  const kind = h("select", { testid: "node-kind", disabled }, options(Object.entries(KINDS), spec.kind));
  const text = h("textarea", { testid: "node-text", maxlength: String(TEXT_MAX), rows: "5", disabled, value: spec.text || "" });
  const counter = h("span", { class: "counter", "aria-live": "off", testid: "node-text-count" });
  const count = () => {
    counter.textContent = `${[...text.value].length}/${TEXT_MAX}`;
    counter.classList.toggle("near", text.value.length > TEXT_MAX - 30);
  };
  count();
  text.addEventListener("input", () => {
    spec.text = text.value;
    count();
    changed();
  });
  const category = h("select", { testid: "node-category", disabled }, options([["", "（无：沿用上级节点的分类）"], ...Object.entries(CATEGORIES)], spec.category));
  category.addEventListener("change", () => {
    spec.category = category.value || null;
    changed();
  });
  const listId = `dept-list-${node.id}`;
  const department = h("input", { testid: "node-department", value: spec.department || "", disabled, list: listId, inputmode: "text", autocomplete: "off" });
  department.addEventListener("input", () => {
    spec.department = department.value.trim();
    changed();
  });
  const departmentList = h("datalist", { id: listId }, h("option", { value: "parent", text: "上级部门" }), (o.childDepartments || []).map((c) => h("option", { value: c.code, text: c.name })));
  const departmentField = field("转接到的部门", department, "区划代码（6位），或 parent 表示上级部门");
  departmentField.append(departmentList);
  const choicesBox = h("div");

  function showKindParts() {
    departmentField.hidden = spec.kind !== "department";
    clear(choicesBox, spec.kind === "menu" ? choicesEditor(spec, tree, editable, changed) : null);
  }
  kind.addEventListener("change", () => {
    spec.kind = kind.value;
    changed();
    showKindParts();
  });
  showKindParts();

  const textHint = spec.kind === "info" ? "信息节点请控制在约90字以内；数字请用汉字书写（如三千元）。" : "数字请用汉字书写（如三千元），按键数字除外。";
  const textField = field("文字", text, textHint);
  textField.querySelector("label").append(" ", counter);

  const actions = h("div", { class: "button-row editor-actions" });
  const addChild = addChildForm(node, tree, (id, childKind) => o.onAddChild(id, childKind));
  if (editable) {
    actions.append(h("button", { type: "button", class: "primary", testid: "node-save", on: { click: () => o.onSave() }, text: "保存到草稿" }));
    if (node.here && node.overridden) {
      actions.append(h("button", { type: "button", testid: "node-revert", on: { click: () => o.onRevert() }, text: "恢复继承" }));
    }
    if (spec.kind === "menu" && node.depth >= 0) {
      actions.append(h("button", { type: "button", testid: "node-add-child", on: { click: addChild.open }, text: "添加子节点" }));
    }
    if (!o.isRoot && (node.depth >= 0 || node.here)) {
      actions.append(h("button", { type: "button", class: "danger", testid: "node-delete", on: { click: () => o.onDelete() }, text: "删除" }));
    }
  }

  const heading = h(
    "div",
    { class: "editor-head" },
    h("h2", { id: "editor-title" }, "编辑节点 ", h("code", { text: node.id })),
    o.badge,
    o.pending ? h("span", { class: "badge pending", text: "未保存" }) : null,
    h("button", { type: "button", class: "ghost back-to-tree", on: { click: () => o.onBack() }, text: "↑ 回到菜单结构" }),
  );
  clear(
    panel,
    heading,
    disabled ? h("p", { class: "notice", text: "只读：您可以查看和试听，但不能修改这一级的菜单。" }) : null,
    h("div", { class: "field-grid" }, field("类型", kind), field("分类", category)),
    textField,
    departmentField,
    choicesBox,
    promptSection({ scope: o.scope, node, spec, editable, getText: () => text.value, onChange: changed }),
    actions,
    addChild.form,
  );
  panel.setAttribute("aria-labelledby", "editor-title");
}
