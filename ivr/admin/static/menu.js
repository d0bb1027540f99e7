// The menu page (#/menu/{scope}): the effective menu as a tree, the editor of
// the selected node, the draft (校验, 发布, 放弃草稿) and the versions.
// Every change goes to the API as the whole `own` of the scope (PUT draft);
// unsaved edits stay in this page, per node, until saved.

import { api, enc, report, ApiError } from "./api.js";
import { h, clear, say, formatTime } from "./dom.js";
import { scopeLabel, problemText } from "./labels.js";
import { clone, cleanSpec, effectiveSpec, withoutNode, withChild, byId } from "./menu_model.js";
import { originBadge, pendingBadge, renderTree, markSelected, nodeButton, reveal } from "./menu_tree.js";
import { renderEditor } from "./menu_editor.js";
import { renderVersions } from "./versions.js";

export async function menuPage(ctx) {
  const { main, scope, signal } = ctx;
  const base = `/api/menus/${enc(scope)}`;
  const dept = await ctx.dept;
  const editable = !ctx.readOnly && dept?.editable !== false;
  const s = { view: null, local: null, selected: null, pending: new Map(), problems: [], note: "" };

  const title = h("h1");
  const versionLine = h("p", { class: "muted" });
  const draftBar = h("section", { class: "draft-bar", testid: "draft-bar", "aria-label": "草稿" });
  const problemsBox = h("section", { class: "problems", testid: "problems", hidden: true });
  const tree = h("ul", { class: "tree", testid: "tree", "aria-label": "菜单结构" });
  const editor = h("section", { class: "panel editor-panel", testid: "node-editor" });
  const versions = h("section", { class: "panel versions", testid: "versions", "aria-label": "版本" });
  clear(
    main,
    h(
      "div",
      { class: "page menu-page" },
      h("header", { class: "page-head" }, title, versionLine),
      draftBar,
      problemsBox,
      h(
        "div",
        { class: "menu-layout" },
        h(
          "section",
          { class: "panel tree-panel", "aria-labelledby": "tree-title" },
          h("h2", { id: "tree-title", text: "菜单结构" }),
          h("p", { class: "muted small", text: "来电者在非工作时间听到的自助语音菜单。点击节点进行编辑。" }),
          tree,
        ),
        editor,
      ),
      versions,
    ),
  );

  const nodeById = () => byId(s.view.tree);

  function setView(view) {
    s.view = view;
    s.local = clone(view.draft || view.own);
    s.problems = view.problems || [];
    if (!s.selected || !nodeById().has(s.selected)) s.selected = view.root;
    draw();
  }

  function draw() {
    const v = s.view;
    title.textContent = `菜单 · ${scopeLabel(scope, v.name)}`;
    versionLine.textContent = v.version
      ? `来电者现在听到的是第${v.version.number}版（${formatTime(v.version.published_at)} 由 ${v.version.published_by} 发布）。`
      : "这一级还没有发布过自己的菜单。";
    drawDraftBar();
    drawProblems();
    drawTree();
    drawEditor();
    reveal(tree, s.selected);
  }

  function drawDraftBar() {
    const v = s.view;
    const text = v.draft
      ? `草稿：${v.draft_by || "（未知）"} 于 ${formatTime(v.draft_at)} 保存，尚未发布。`
      : "没有草稿。保存修改后会生成草稿，校验通过即可发布。";
    const note = h("input", { id: "publish-note", testid: "publish-note", maxlength: "200", placeholder: "例如：更新党费标准", value: s.note, disabled: !editable });
    note.addEventListener("input", () => (s.note = note.value));
    const bar = [h("p", { class: "draft-state", text })];
    if (editable) {
      bar.push(
        h(
          "div",
          { class: "draft-actions" },
          h("div", { class: "publish-field" }, h("label", { for: "publish-note", text: "发布说明（可选）" }), note),
          h(
            "div",
            { class: "draft-buttons" },
            h("button", { type: "button", testid: "validate-button", on: { click: validate }, text: "校验" }),
            h("button", { type: "button", class: "primary", testid: "publish-button", disabled: !v.draft, title: v.draft ? null : "没有草稿可以发布", on: { click: () => publish(note.value.trim()) }, text: "发布" }),
            h("button", { type: "button", class: "danger", testid: "discard-button", disabled: !v.draft, on: { click: discard }, text: "放弃草稿" }),
          ),
        ),
      );
    }
    draftBar.classList.toggle("has-draft", Boolean(v.draft));
    clear(draftBar, bar);
  }

  function drawProblems() {
    problemsBox.hidden = !s.problems.length;
    if (!s.problems.length) {
      problemsBox.removeAttribute("role");
      clear(problemsBox);
      return;
    }
    problemsBox.setAttribute("role", "alert");
    clear(
      problemsBox,
      h("h2", { text: `发现${s.problems.length}个问题，修改后才能发布` }),
      h(
        "ul",
        null,
        s.problems.map((problem) =>
          h(
            "li",
            null,
            problem.node && nodeById().has(problem.node)
              ? h("button", { type: "button", class: "link", on: { click: () => select(problem.node, true) }, text: problem.node })
              : problem.node
                ? h("code", { text: problem.node })
                : null,
            problem.node ? "：" : "",
            problemText(problem),
            problem.department && problem.department !== scope ? h("span", { class: "muted", text: `（${problem.department}）` }) : null,
          ),
        ),
      ),
    );
  }

  function drawTree() {
    renderTree(tree, s.view.tree, { scope, selected: s.selected, pending: s.pending, problems: s.problems, onSelect: (id) => select(id) });
  }

  function workingSpec(id) {
    if (!s.pending.has(id)) return effectiveSpec(s.local, s.view.tree, id);
    return s.pending.get(id);
  }

  function drawEditor() {
    const node = nodeById().get(s.selected);
    if (!node) {
      clear(editor, h("p", { class: "muted", text: "在菜单结构中选择一个节点进行编辑。" }));
      return;
    }
    const spec = workingSpec(node.id);
    renderEditor(editor, {
      scope,
      node,
      spec,
      tree: s.view.tree,
      editable,
      isRoot: node.id === s.view.root,
      badge: originBadge(node, scope),
      pending: s.pending.has(node.id),
      childDepartments: dept?.children || [],
      onDirty: () => {
        if (!s.pending.has(node.id)) {
          s.pending.set(node.id, spec);
          tree.querySelector(`[data-node-id="${CSS.escape(node.id)}"] .node-line`)?.append(pendingBadge());
        }
      },
      onSave: () => saveNode(node.id, spec),
      onRevert: () => revert(node),
      onAddChild: (id, kind) => addChild(node, id, kind),
      onDelete: () => remove(node),
      onBack: () => {
        const button = nodeButton(tree, node.id);
        button?.scrollIntoView({ block: "center" });
        button?.focus({ preventScroll: true });
      },
    });
  }

  function select(id, focus) {
    s.selected = id;
    markSelected(tree, id);
    drawEditor();
    if (focus) {
      reveal(tree, id);
      nodeButton(tree, id)?.focus({ preventScroll: true });
    }
    // On a phone the editor is below the tree: bring it into view.
    if (window.matchMedia("(max-width: 900px)").matches) editor.scrollIntoView({ block: "start", behavior: "smooth" });
  }

  function summary(problems) {
    return problems.length ? `，发现${problems.length}个问题，请在发布前修改。` : "。";
  }

  async function putDraft(own, message, saved) {
    const view = await api("PUT", `${base}/draft`, { json: own });
    if (saved) saved();
    setView(view);
    say(`${message}${summary(view.problems || [])}`, view.problems?.length ? "warn" : "ok");
    return view;
  }

  async function guarded(fn) {
    try {
      await fn();
    } catch (error) {
      if (error instanceof ApiError && error.status === 422) showProblems(error);
      report(error);
    }
  }

  function showProblems(error) {
    s.problems = error.details?.problems || [];
    drawProblems();
    drawTree();
  }

  const saveNode = (id, spec) =>
    guarded(async () => {
      const own = clone(s.local);
      own.nodes = own.nodes || {};
      own.nodes[id] = cleanSpec(spec);
      await putDraft(own, `已保存到草稿：${id}`, () => s.pending.delete(id));
    });

  const revert = (node) =>
    guarded(async () => {
      const own = clone(s.local);
      delete own.nodes[node.id];
      await putDraft(own, `已恢复继承：${node.id}`, () => s.pending.delete(node.id));
    });

  const addChild = (parent, id, kind) =>
    guarded(async () => {
      const parentSpec = s.pending.has(parent.id) ? cleanSpec(s.pending.get(parent.id)) : null;
      const made = withChild(s.local, s.view.tree, parent.id, parentSpec, id, kind);
      if (made.error) {
        say(made.error, "error");
        return;
      }
      await putDraft(made.own, `已添加子节点 ${id}（${parent.id} 按${made.key}），请填写内容后保存。`, () => {
        s.pending.delete(parent.id);
        s.selected = id;
      });
    });

  const remove = (node) =>
    guarded(async () => {
      if (!confirm(`删除节点“${node.id}”？\n它将从上级菜单的按键中去掉${node.here ? "，本级对它的定义也一并删除" : ""}。发布后生效。`)) return;
      const own = withoutNode(s.local, s.view.tree, node);
      await putDraft(own, `已删除节点：${node.id}`, () => {
        s.pending.delete(node.id);
        const parentEdit = s.pending.get(node.parent);
        if (parentEdit?.choices) parentEdit.choices = parentEdit.choices.filter((c) => c.to !== node.id);
        s.selected = node.parent || s.view.root;
      });
    });

  async function validate() {
    await guarded(async () => {
      if (!s.view.draft) {
        const view = await api("GET", base);
        setView(view);
      } else {
        const view = await api("PUT", `${base}/draft`, { json: s.local });
        setView(view);
      }
      const n = s.problems.length;
      if (n) say(`校验发现${n}个问题，请查看问题列表。`, "warn");
      else say("校验通过。");
    });
  }

  async function publish(note) {
    await guarded(async () => {
      const version = await api("POST", `${base}/publish`, { json: note ? { note } : {} });
      s.note = "";
      await reload();
      say(`已发布 第${version.number}版`);
    });
  }

  async function discard() {
    if (!confirm("放弃草稿？\n草稿中所有未发布的修改都会丢失，菜单回到当前发布的版本。")) return;
    await guarded(async () => {
      await api("DELETE", `${base}/draft`);
      s.pending.clear();
      await reload();
      say("已放弃草稿。");
    });
  }

  async function reload() {
    setView(await api("GET", base, { signal }));
    await renderVersions(versions, { base, editable, withDiff: true, afterRestore: reload, signal }).catch(report);
  }

  await reload();
}
