// The effective menu as an indented list: each node with the key leading to
// it, its kind, a short text, where it is defined, and its problems.

import { h, clear, shorten } from "./dom.js";
import { kindLabelOf, problemText } from "./labels.js";
import { nameOf } from "./departments.js";

/** 继承自全国 / 继承自340100, 本级修改, 本级新增 (none on the national menu itself). */
export function originBadge(node, scope) {
  if (scope === "national" && node.origin === "national") return null;
  if (node.origin !== scope) {
    const from = node.origin === "national" ? "全国" : node.origin;
    return h("span", { class: "badge inherited", title: `由${nameOf(node.origin)}定义`, text: `继承自${from}` });
  }
  if (node.overridden) return h("span", { class: "badge modified", text: "本级修改" });
  return h("span", { class: "badge added", text: "本级新增" });
}

export function pendingBadge() {
  return h("span", { class: "badge pending", text: "未保存" });
}

function keyBadge(node) {
  if (node.key) return h("span", { class: "key-badge", text: `按${node.key}` });
  if (node.depth === 0) return h("span", { class: "key-badge root", text: "入口" });
  return null;
}

function item(node, o) {
  const problems = o.problems.filter((p) => p.node === node.id);
  const selected = node.id === o.selected;
  const problemsId = `problems-${node.id}`;
  const li = h(
    "li",
    {
      class: `tree-node${selected ? " selected" : ""}${problems.length ? " has-problem" : ""}${node.depth <= 0 ? " top" : ""}`,
      testid: "tree-node",
      dataset: { nodeId: node.id },
      css: { "--depth": Math.max(node.depth, 0) },
    },
    h(
      "button",
      { type: "button", class: "node-button", "aria-current": selected ? "true" : null, "aria-describedby": problems.length ? problemsId : null },
      h(
        "span",
        { class: "node-line" },
        keyBadge(node),
        h("span", { class: `kind kind-${node.kind}`, text: kindLabelOf(node.kind) }),
        h("code", { class: "node-id", text: node.id }),
        originBadge(node, o.scope),
        node.prompt ? h("span", { class: "badge recorded", title: `录音 ${node.prompt}`, text: "录音" }) : null,
        o.pending.has(node.id) ? pendingBadge() : null,
      ),
      node.text ? h("span", { class: "node-text", text: shorten(node.text, 48) }) : null,
    ),
    problems.length ? h("ul", { class: "node-problems", id: problemsId }, problems.map((p) => h("li", { text: problemText(p) }))) : null,
  );
  li.addEventListener("click", () => o.onSelect(node.id));
  return li;
}

/**
 * Fills `list` with `tree` (TreeNodes, depth first; the unreachable ones,
 * depth -1, last). o: {scope, selected, pending: Map, problems, onSelect}.
 */
export function renderTree(list, tree, o) {
  const reachable = tree.filter((node) => node.depth >= 0);
  const loose = tree.filter((node) => node.depth < 0);
  clear(list, reachable.map((node) => item(node, o)));
  if (loose.length) {
    list.append(h("li", { class: "tree-group", role: "presentation", text: "未连接的节点（来电者到达不了）" }), loose.map((node) => item(node, o)));
  }
}

/** Marks `id` selected without drawing the list again. */
export function markSelected(list, id) {
  for (const li of list.querySelectorAll(".tree-node")) {
    const on = li.dataset.nodeId === id;
    li.classList.toggle("selected", on);
    const button = li.querySelector(".node-button");
    if (on) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
  }
}

export function nodeButton(list, id) {
  return list.querySelector(`[data-node-id="${CSS.escape(id)}"] .node-button`);
}

/** Scrolls the list's own box (wide screens) so that `id` is in view. */
export function reveal(list, id) {
  const li = list.querySelector(`[data-node-id="${CSS.escape(id)}"]`);
  if (!li || list.scrollHeight <= list.clientHeight) return;
  const top = li.offsetTop - list.offsetTop;
  if (top < list.scrollTop || top + li.offsetHeight > list.scrollTop + list.clientHeight) {
    list.scrollTop = Math.max(0, top - list.clientHeight / 3);
  }
}
