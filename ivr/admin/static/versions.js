// The published versions of a menu or of working hours: who published what
// and when, what changed since (menus), and going back to one (恢复此版本),
// which publishes a new version with the old content.

import { api, enc, report } from "./api.js";
import { h, clear, formatTime, say } from "./dom.js";
import { CHANGES, SPEC_FIELDS, kindLabelOf, categoryName } from "./labels.js";
import { choicesText } from "./menu_model.js";

function specValue(name, value) {
  if (value === undefined || value === null || value === "") return "—";
  if (name === "choices") return choicesText(value) || "（无）";
  if (name === "kind") return `${kindLabelOf(value)}（${value}）`;
  if (name === "category") return categoryName(value);
  return typeof value === "string" ? value : JSON.stringify(value);
}

function changeRows(change) {
  const before = change.before || {};
  const after = change.after || {};
  const names = [...new Set([...Object.keys(SPEC_FIELDS), ...Object.keys(before), ...Object.keys(after)])];
  return names
    .filter((name) => JSON.stringify(before[name] ?? null) !== JSON.stringify(after[name] ?? null))
    .map((name) =>
      h(
        "tr",
        null,
        h("th", { scope: "row", text: SPEC_FIELDS[name] || name }),
        h("td", { class: "before", text: change.before ? specValue(name, before[name]) : "—" }),
        h("td", { class: "after", text: change.after ? specValue(name, after[name]) : "—" }),
      ),
    );
}

/** The changes of a diff, node by node, before and after. */
export function renderDiff(box, diff, fromNumber, toNumber) {
  const changes = diff.changes || [];
  clear(
    box,
    h("h3", { text: `第${fromNumber}版 → 第${toNumber}版（当前）` }),
    changes.length ? null : h("p", { class: "muted", text: "两个版本的内容相同。" }),
    changes.map((change) =>
      h(
        "article",
        { class: `change change-${change.change}`, testid: "diff-change", dataset: { node: change.node } },
        h("h4", null, h("span", { class: `badge change-${change.change}`, text: CHANGES[change.change] || change.change }), " ", h("code", { text: change.node })),
        h(
          "div",
          { class: "table-wrap" },
          h("table", { class: "diff-table" }, h("thead", null, h("tr", null, h("th", { scope: "col", text: "字段" }), h("th", { scope: "col", text: "修改前" }), h("th", { scope: "col", text: "修改后" }))), h("tbody", null, changeRows(change))),
        ),
      ),
    ),
  );
  box.hidden = false;
}

/**
 * The versions panel. `base` is "/api/menus/340121" or "/api/hours/340121";
 * `withDiff` adds 查看差异 (menus); `afterRestore()` reloads the page.
 */
export async function renderVersions(panel, { base, editable, withDiff, afterRestore, signal }) {
  const list = await api("GET", `${base}/versions`, { signal });
  const active = list.find((version) => version.active);
  const diffBox = h("section", { class: "diff", testid: "diff", hidden: true, "aria-live": "polite", "aria-label": "版本差异" });
  const rows = h("ol", { class: "version-list" });
  for (const version of list) {
    const n = version.number;
    const meta = [formatTime(version.published_at), version.published_by].filter(Boolean).join(" · ");
    const buttons = h("div", { class: "button-row" });
    // The active version has nothing to compare with or go back to.
    if (withDiff && active && !version.active) {
      const diffButton = h("button", { type: "button", testid: "diff-button", text: "查看差异" });
      diffButton.addEventListener("click", async () => {
        try {
          const diff = await api("GET", `${base}/diff?from=${enc(n)}&to=${enc(active.number)}`);
          renderDiff(diffBox, diff, n, active.number);
          diffBox.scrollIntoView({ block: "nearest" });
        } catch (error) {
          report(error);
        }
      });
      buttons.append(diffButton);
    }
    if (editable && !version.active) {
      const restore = h("button", { type: "button", testid: "restore-button", text: "恢复此版本" });
      restore.addEventListener("click", async () => {
        if (!confirm(`恢复第${n}版？\n将以第${n}版的内容发布一个新版本，来电者随即听到它。`)) return;
        restore.disabled = true;
        try {
          const made = await api("POST", `${base}/versions/${enc(n)}/restore`);
          await afterRestore();
          say(`已恢复第${n}版，发布为第${made.number}版。`);
        } catch (error) {
          restore.disabled = false;
          report(error);
        }
      });
      buttons.append(restore);
    }
    rows.append(
      h(
        "li",
        { class: `version-row${version.active ? " active" : ""}`, testid: "version-row", dataset: { version: String(n) } },
        h(
          "div",
          { class: "version-main" },
          h("strong", { text: `第${n}版` }),
          version.active ? h("span", { class: "badge current", text: "当前" }) : null,
          version.restored_from ? h("span", { class: "badge", text: `恢复自第${version.restored_from}版` }) : null,
          h("span", { class: "muted", text: meta }),
        ),
        version.note ? h("p", { class: "version-note", text: version.note }) : null,
        buttons.childElementCount ? buttons : null,
      ),
    );
  }
  if (!list.length) rows.append(h("li", { class: "muted", text: "还没有发布过版本。" }));
  clear(panel, h("h2", { text: "版本" }), rows, diffBox);
}
