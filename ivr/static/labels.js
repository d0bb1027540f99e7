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

export const CASE_KINDS = { message: "留言", callback: "预约回电" };

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
};

export const OPERATOR_STATUSES = {
  signed_out: "未签入",
  available: "空闲",
  paused: "暂停",
  ringing: "振铃中",
  busy: "通话中",
  wrap_up: "话后整理",
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
