// The department picker: where the admin is (a breadcrumb up, as far as the
// API lets this user see) and where they can go (the children).

import { api, enc, ApiError } from "./api.js";
import { h, clear } from "./dom.js";
import { scopeLabel } from "./labels.js";

const cache = new Map();

/** GET /api/departments/{code}, kept for the session; null if not allowed. */
export async function department(code) {
  if (!cache.has(code)) {
    cache.set(
      code,
      api("GET", `/api/departments/${enc(code)}`).catch((error) => {
        if (error instanceof ApiError && (error.status === 403 || error.status === 404)) return null;
        cache.delete(code);
        throw error;
      }),
    );
  }
  return cache.get(code);
}

export function forgetDepartments() {
  cache.clear();
}

/**
 * The department and its ancestors that this user may see, top first; the
 * walk stops at `top` (the user's own department), above which the API
 * would refuse.
 */
export async function lineage(code, top) {
  const chain = [];
  let next = code;
  while (next && chain.length < 6) {
    const found = await department(next);
    if (!found) break;
    chain.unshift(found);
    if (found.code === top) break;
    next = found.parent || (found.code !== "national" ? "national" : null);
  }
  return chain;
}

/** A short name for a code, from what has been loaded; the code itself if not. */
const names = new Map([["national", "全国"]]);
export function nameOf(code) {
  return names.get(code) || code;
}
function learn(dept) {
  if (!dept) return;
  names.set(dept.code, dept.short_name || dept.name);
  for (const child of dept.children || []) names.set(child.code, child.name);
}

/**
 * Fills `box` with the breadcrumb and the picker for `scope` on `page`,
 * unless `stale()` says the admin has moved on meanwhile.
 */
export async function renderPicker(box, page, scope, top, stale = () => false) {
  const chain = await lineage(scope, top);
  chain.forEach(learn);
  const here = chain.at(-1)?.code === scope ? chain.at(-1) : null;
  const crumbs = h("ol", { class: "crumbs" });
  for (const dept of chain) {
    const label = scopeLabel(dept.code, dept.short_name || dept.name);
    crumbs.append(
      h(
        "li",
        null,
        dept.code === scope
          ? h("span", { "aria-current": "location", text: label })
          : h("a", { href: `#/${page}/${dept.code}`, text: label }),
      ),
    );
  }
  if (!here) crumbs.append(h("li", null, h("span", { "aria-current": "location", text: scope })));

  const select = h("select", { id: "dept-picker", testid: "dept-picker", "aria-label": "选择部门" });
  for (const dept of chain) {
    const current = dept.code === scope;
    select.append(
      h("option", {
        value: dept.code,
        selected: current,
        text: `${current ? "● " : "↑ "}${dept.short_name || dept.name}`,
      }),
    );
  }
  if (!here) {
    select.append(h("option", { value: scope, selected: true, text: `● ${scope}` }));
    const home = !chain.length && top && top !== scope ? await department(top) : null;
    if (home) select.append(h("option", { value: home.code, text: `↩ ${home.short_name || home.name}（本部门）` }));
  }
  const children = here?.children || [];
  if (children.length) {
    const group = h("optgroup", { label: "下级部门" });
    for (const child of children) {
      group.append(h("option", { value: child.code, text: `↳ ${child.name}${child.has_children ? " …" : ""}` }));
    }
    select.append(group);
  }
  if (stale()) return here;
  select.addEventListener("change", () => {
    if (select.value !== scope) location.hash = `#/${page}/${select.value}`;
  });
  clear(
    box,
    h("nav", { class: "crumbs-nav", "aria-label": "部门层级" }, crumbs),
    h("div", { class: "picker" }, h("label", { for: "dept-picker", text: "部门" }), select),
  );
  return here;
}
