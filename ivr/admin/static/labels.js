// The words the staff read, by the ids the API uses.

export const ROLES = {
  national_admin: "全国管理员",
  department_admin: "部门管理员",
  operator: "话务员",
  auditor: "审计员",
};

export const KINDS = {
  menu: "菜单",
  info: "信息",
  message: "留言",
  callback: "预约回电",
  lookup: "查询办理进度",
  department: "转接部门",
  queue: "人工服务",
  hangup: "挂机",
};

// The seven service categories of 12371, in the order of the main menu.
export const CATEGORIES = {
  theory: "党章和理论政策",
  relations: "组织关系和党籍党龄",
  dues: "党费",
  rights: "义务和权利",
  building: "党的建设",
  difficulties: "特殊困难",
  opinions: "反映情况和意见建议",
};

export function categoryName(id) {
  if (!id) return "未分类";
  return CATEGORIES[id] || id;
}

export const CASE_KINDS = { message: "留言", callback: "预约回电", call: "来电登记" };

export const CASE_STATUSES = {
  registered: "已登记",
  assigned: "已分派",
  in_progress: "办理中",
  resolved: "已办结",
  closed: "已关闭",
};

export const CASE_ACTIONS = {
  registered: "登记",
  assign: "分派",
  start: "开始办理",
  resolve: "办结",
  close: "关闭",
  forward: "转交",
  note: "备注",
  urgent: "标为紧急",
  reopen: "重新办理",
  recording_replaced: "更换录音",
  escalated: "超期督办",
  recording_archived: "录音归档",
  recording_deleted: "录音删除",
};

export const OPERATOR_STATUSES = {
  signed_out: "未签入",
  available: "空闲",
  paused: "暂停",
  ringing: "振铃中",
  busy: "通话中",
  wrap_up: "话后整理",
};

// Whether Asterisk can ring an operator's phone (`phone.state` in /api/operators).
export const PHONE_STATES = {
  online: "在线",
  offline: "话机未注册",
  unknown: "未知",
};

export const CHANGES = { added: "新增", removed: "删除", changed: "修改" };

export const SPEC_FIELDS = {
  kind: "类型",
  text: "文字",
  prompt: "录音",
  choices: "按键选项",
  category: "分类",
  department: "转接部门",
};

export const WEEKDAYS = [
  ["mon", "周一"],
  ["tue", "周二"],
  ["wed", "周三"],
  ["thu", "周四"],
  ["fri", "周五"],
  ["sat", "周六"],
  ["sun", "周日"],
];

export function scopeLabel(code, name) {
  if (code === "national") return name || "全国";
  return name ? `${name}（${code}）` : code;
}

export function kindLabelOf(kind) {
  return KINDS[kind] || kind || "";
}

// An entry of one of the tables below; never something every object has ("constructor").
function entry(table, key) {
  return typeof key === "string" && Object.hasOwn(table, key) ? table[key] : null;
}

// Menu problems (ivr/menu_check.py) by their code: the API's `message` stays
// English for the command line and the log; staff read these, made from the
// problem's params. Every code needs an entry (tests/test_menu_problems.py).
const nodeName = (id) => `“${id}”`;
const PROBLEM_TEXTS = {
  too_many_nodes: (p) => `菜单有${p.count}个节点，超过${p.limit}个的上限，请删去一些节点`,
  no_root: (p) => `菜单的入口节点${nodeName(p.root)}不存在`,
  says_nothing: () => "这个节点没有要播放的内容：请填写文字或上传录音",
  menu_without_choices: () => "这个菜单还没有按键选项：请至少添加一个（按键1到9）",
  choices_not_menu: (p) => `这个节点的类型是“${kindLabelOf(p.kind)}”，不能有按键选项：只有“菜单”才能提供选项`,
  key_reserved: (p) => `按键0、*、#在每一级都有固定用途（0留言、*返回、#重听），不能用作选项：请把按键${p.key}改为1到9中的一个`,
  not_a_key: (p) => `“${p.key}”不是有效的按键：请用1到9中的一个数字`,
  key_twice: (p) => `按键${p.key}用了两次（${nodeName(p.first)}和${nodeName(p.to)}）：每个按键只能对应一个选项`,
  key_leads_nowhere: (p) => `按键${p.key}指向的节点${nodeName(p.to)}不存在`,
  unknown_category: (p) => `没有“${p.category}”这个分类：请在“分类”中重新选择`,
  department_missing: () => "“转接部门”节点需要填写转接到哪个部门：填写部门的区划代码，或选择“上级部门”",
  department_unknown: (p) => `要转接的部门${p.department}不在部门名录中，请检查区划代码`,
  department_not_transfer: (p) => `这个节点的类型是“${kindLabelOf(p.kind)}”，不能转接：只有“转接部门”节点才能填写转接部门，请清空该项`,
  standard_prompt_name: (p) => `这个节点的编号与系统提示音“${p.prompt}”重名：请给节点换一个编号`,
  no_audio: (p) =>
    p.source === "text"
      ? "这个节点的语音还没有生成：请联系技术人员生成提示音，或上传录音"
      : `录音“${p.prompt}”找不到，请重新上传`,
  old_audio: () => "这个节点的文字改过了，但语音还是按原来的文字生成的：请联系技术人员重新生成提示音",
  reached_twice: (p) => `${nodeName(p.to)}从两个地方都能到达（这里的按键${p.key}，以及 ${p.path}）：菜单必须是树形结构，请为每个位置单独建一个节点`,
  too_deep: (p) => `菜单超过${p.limit}层（${p.path}），请把它往上移`,
  loop: (p) => `按键${p.key}会回到${nodeName(p.to)}，形成循环（${p.path}）：返回上一级用*键即可`,
  overrides_unknown_department: (p) => `部门${p.department}不在部门名录中，却有自己的菜单节点`,
  unreachable: () => "没有任何按键通往这个节点：来电者听不到它",
  unreachable_inherited: (p) => `这个节点继承自${p.origin === "national" ? "全国" : p.origin}，但本级菜单没有按键通往它`,
};

/** A menu problem ({code, params, message}) in Chinese; the English message for a code not known here. */
export function problemText(problem) {
  const text = entry(PROBLEM_TEXTS, problem?.code);
  return text ? text(problem.params || {}) : problem?.message || "";
}
