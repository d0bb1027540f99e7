// Every error the page can show, in Chinese: one catalogue by the API's
// error_id (and, where one error_id covers several cases, details.error or
// details.reason). The API's `message` stays English for scripts, the CLI
// and the log; staff read these. Every error_id raised in ivr/ needs an
// entry here, and every entry says something in Chinese whatever the details
// hold (tests/test_admin_errors.py).

import { CASE_ACTIONS, CASE_STATUSES, OPERATOR_STATUSES } from "./labels.js";

// An entry of a table; never something every object has ("constructor").
function entry(table, key) {
  return typeof key === "string" && Object.hasOwn(table, key) ? table[key] : null;
}

function megabytes(bytes) {
  return `${Math.ceil((bytes * 10) / (1024 * 1024)) / 10}MB`;
}

function minutesSeconds(seconds) {
  const whole = Math.ceil(seconds);
  const minutes = Math.floor(whole / 60);
  const rest = whole % 60;
  if (!minutes) return `${rest}秒`;
  return rest ? `${minutes}分${rest}秒` : `${minutes}分钟`;
}

const scopeName = (scope) => (scope === "national" ? "全国" : scope);

// Why an upload was refused (ivr/audio/uploads.py, details.reason of audio_rejected).
const AUDIO_TEXTS = {
  bad_name: () => "文件名只能是普通文件名，例如“问候.mp3”",
  bad_suffix: () => "只能上传WAV、MP3、M4A、WebM或Ogg格式的录音（文件名以.wav、.mp3、.m4a、.webm或.ogg结尾）",
  empty: () => "文件是空的",
  too_large: (d) => (d.size && d.limit ? `文件为${megabytes(d.size)}，超过${megabytes(d.limit)}的上限` : "文件太大"),
  too_short: () => "录音太短，听不清",
  too_long: (d) =>
    d.seconds && d.limit
      ? `录音长${minutesSeconds(d.seconds)}，超过${minutesSeconds(d.limit)}的上限`
      : `录音超过${minutesSeconds(d.limit || 120)}的上限`,
  not_audio: () => "这个文件不是可识别的录音（请上传WAV、MP3或M4A）",
  silent: () => "录音没有声音",
  unusable: () => "这个文件无法转换，可能已经损坏：请重新另存为MP3后再上传",
  timeout: () => "这个文件转换时间太长：请上传短一些的录音，或另存为MP3",
};

// By details.error: one error_id (conflict, not_found) that says several things.
const DETAIL_TEXTS = {
  no_draft: () => "没有草稿：请先把修改保存到草稿",
  draft_outdated: () => "保存这份草稿之后，这一级的菜单又发布了新版本：请重新保存草稿（会以新版本为基础），再发布",
};

// By error_id. Each gives Chinese whatever the details hold.
const ERROR_TEXTS = {
  // Signing in and permissions (ivr/admin/auth.py, sessions.py, limits.py).
  csrf_failed: () => "页面已过期，或请求不是从本系统页面发出的：请刷新页面后重试",
  too_many_attempts: (d) =>
    `从这里登录失败次数过多，请${d.retry_after ? Math.max(1, Math.ceil(d.retry_after / 60)) : 15}分钟后再试`,
  sign_in_failed: () => "用户名或密码错误",
  not_signed_in: () => "登录已失效",
  forbidden: (d) => (d.scope ? `您的账号不能查看或修改${scopeName(d.scope)}的内容` : "您的账号没有这项权限"),
  rate_limited: (d) => (d.retry_after ? `操作太频繁，请${minutesSeconds(d.retry_after)}后再试` : "操作太频繁，请稍后再试"),
  // Input and things asked for (ivr/errors.py and their kin).
  invalid_input: (d) => (d.field || d.parameter ? `“${d.field || d.parameter}”填写有误，请检查后重试` : "输入有误，请检查后重试"),
  not_found: (d) =>
    d.operator ? `没有编号为 ${d.operator} 的话务员`
    : d.call_id ? "没有找到这通来电"
    : d.department || d.scope ? `没有区划代码为 ${d.department || d.scope} 的部门`
    : d.prompt_id ? "没有找到这段录音"
    : "没有找到要查看的内容，它可能已被删除",
  case_not_found: (d) => (d.number ? `没有受理编号为 ${d.number} 的案件` : "没有找到这个案件"),
  escalation_not_found: () => "没有找到这条督办提醒",
  gone: (d) =>
    d.number ? `案件 ${d.number} 的录音已按保存期限${d.archived ? "归档并" : ""}删除` : "内容已按保存期限删除",
  conflict: (d) =>
    d.username ? `已经有用户名为 ${d.username} 的用户，请换一个用户名` : "这项内容刚被别人修改过：请刷新后重试",
  case_state: (d) => {
    const action = CASE_ACTIONS[d.action] || "这样处理";
    const status = CASE_STATUSES[d.status];
    return status ? `案件${d.number ? ` ${d.number} ` : ""}${status}，不能${action}` : `案件当前的状态不能${action}`;
  },
  operator_state: (d) => {
    const status = OPERATOR_STATUSES[d.status];
    return status ? `话务员${d.operator ? ` ${d.operator} ` : ""}当前${status}，不能这样操作` : "话务员当前的状态不能这样操作（暂停需要填写原因）";
  },
  menu_invalid: (d) => (d.problems?.length ? `菜单还有${d.problems.length}个问题，修改后才能发布` : "菜单还有问题，修改后才能发布"),
  audio_rejected: (d) => (entry(AUDIO_TEXTS, d.reason) || (() => "这个录音不能使用"))(d),
  // Faults of the platform or of the other side: staff can only wait or call for help.
  ivr_error: () => "系统出错了，请稍后重试；如果一直出错，请联系技术人员",
  config_error: () => "系统配置有误，请联系技术人员",
  flow_error: () => "通话流程出错，请联系技术人员",
  remote_error: () => "系统依赖的服务出错，请稍后重试",
  ari_error: () => "语音交换机（Asterisk）没有完成请求，请稍后重试",
  ari_unavailable: () => "暂时连不上语音交换机（Asterisk），请稍后重试",
  asterisk_error: () => "语音交换机（Asterisk）启动或配置失败，请联系技术人员",
  ari_codegen_error: () => "语音交换机接口定义生成失败，请联系技术人员",
  // Said by the page itself (api.js): no answer at all.
  network: () => "无法连接服务器，请检查网络后重试",
};

// Answers of the web server itself (`http_<status>`, ivr/admin/app.py json_errors).
const HTTP_TEXTS = {
  400: "请求有误，请刷新页面后重试",
  401: "登录已失效，请重新登录",
  403: "您的账号没有这项权限",
  404: "没有找到要查看的内容",
  405: "不支持这项操作",
  413: "提交的内容太大",
  415: "提交的内容格式不对",
  429: "操作太频繁，请稍后再试",
};

/** An API error answer ({error_id, message, details}) in Chinese. */
export function errorText(body, status = 0) {
  const details = body?.details || {};
  const id = body?.error_id || "";
  const text = entry(DETAIL_TEXTS, details.error) || entry(ERROR_TEXTS, id);
  if (text) return text(details);
  const http = /^http_(\d{3})$/.exec(id)?.[1] || String(status);
  if (Object.hasOwn(HTTP_TEXTS, http)) return HTTP_TEXTS[http];
  return status >= 500 || id ? `系统出错了（${status || id}），请稍后重试` : "请求失败，请稍后重试";
}
