// Edits to a scope's own menu (`own`: {nodes: {id: NodeSpec}}), as pure
// functions of the effective tree the API gave. A node the scope inherits is
// copied into `own` before it is changed: a department's node replaces the
// whole node from above, so the copy must be complete.

export const NODE_ID = /^[a-z0-9_]+(\.[a-z0-9_]+)*$/;
export const KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9"];
export const TEXT_MAX = 300;

export function clone(value) {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

export function byId(tree) {
  return new Map(tree.map((node) => [node.id, node]));
}

/** The choices of `id` as the tree shows them: its children, in key order. */
export function choicesInTree(tree, id) {
  return tree
    .filter((node) => node.depth >= 0 && node.parent === id)
    .map((node) => ({ key: String(node.key), to: node.id }))
    .sort((a, b) => a.key.localeCompare(b.key));
}

/**
 * The NodeSpec of an inherited node. The API may give it whole (`spec`);
 * otherwise it is rebuilt from the TreeNode. A category equal to the
 * parent's is left out: it holds for the node anyway.
 */
export function specFromTree(tree, node) {
  if (node.spec) return clone(node.spec);
  const spec = { kind: node.kind };
  if (node.text) spec.text = node.text;
  if (node.prompt) spec.prompt = node.prompt;
  const parent = node.parent ? byId(tree).get(node.parent) : null;
  if (node.category && node.category !== parent?.category) spec.category = node.category;
  if (node.department) spec.department = node.department;
  if (node.kind === "menu") spec.choices = choicesInTree(tree, node.id);
  return spec;
}

/** What the editor starts from: the scope's own spec, or the inherited one. */
export function effectiveSpec(own, tree, id) {
  const mine = own.nodes?.[id];
  if (mine) return clone(mine);
  const node = byId(tree).get(id);
  return node ? specFromTree(tree, node) : { kind: "info", text: "" };
}

/** `own.nodes[id]`, copied in from the tree first if the scope inherits it. */
export function ensureOwn(own, tree, id) {
  own.nodes = own.nodes || {};
  if (!own.nodes[id]) own.nodes[id] = effectiveSpec(own, tree, id);
  return own.nodes[id];
}

/** A spec as the API takes it: no empty optional fields, choices only on menus. */
export function cleanSpec(spec) {
  const clean = { kind: spec.kind };
  const text = (spec.text || "").trim();
  if (text) clean.text = text;
  if (spec.prompt) clean.prompt = spec.prompt;
  if (spec.category) clean.category = spec.category;
  if (spec.kind === "department" && spec.department) clean.department = spec.department.trim();
  if (spec.kind === "menu") {
    clean.choices = (spec.choices || [])
      .filter((choice) => choice.key && choice.to)
      .map((choice) => ({ key: String(choice.key), to: choice.to }));
  }
  return clean;
}

export function nextFreeKey(spec) {
  const used = new Set((spec.choices || []).map((choice) => String(choice.key)));
  return KEYS.find((key) => !used.has(key)) || null;
}

export function duplicateKeys(spec) {
  const seen = new Set();
  const twice = new Set();
  for (const choice of spec.choices || []) {
    const key = String(choice.key);
    if (seen.has(key)) twice.add(key);
    seen.add(key);
  }
  return [...twice];
}

/** The nodes below `id` that this scope added (本级新增): they go with it. */
export function ownDescendants(tree, id) {
  const below = new Set([id]);
  const found = [];
  for (const node of tree) {
    if (node.depth >= 0 && below.has(node.parent)) {
      below.add(node.id);
      if (node.here && !node.overridden) found.push(node.id);
    }
  }
  return found;
}

/** `own` with `node` taken out of the menu: off its parent's choices, out of `own`. */
export function withoutNode(own, tree, node) {
  const next = clone(own);
  if (node.parent) {
    const parent = ensureOwn(next, tree, node.parent);
    parent.choices = (parent.choices || []).filter((choice) => choice.to !== node.id);
  }
  if (node.here) delete next.nodes[node.id];
  for (const id of ownDescendants(tree, node.id)) delete next.nodes[id];
  return next;
}

/** `own` with a new node `id` of `kind` under `parentId`, on the next free key. */
export function withChild(own, tree, parentId, parentSpec, id, kind) {
  const next = clone(own);
  next.nodes = next.nodes || {};
  const parent = parentSpec ? (next.nodes[parentId] = clone(parentSpec)) : ensureOwn(next, tree, parentId);
  const key = nextFreeKey(parent);
  if (!key) return { error: "按键1到9都已使用，不能再添加子节点。" };
  parent.choices = [...(parent.choices || []), { key, to: id }];
  next.nodes[id] = { kind };
  return { own: next, key };
}

/** "按1 → theory；按2 → relations" */
export function choicesText(choices) {
  return (choices || []).map((choice) => `按${choice.key} → ${choice.to}`).join("；");
}
