// Talking to /api/: the session cookie goes by itself (same origin); the CSRF
// token is kept in memory and in sessionStorage, so a reload of the tab keeps
// working, and is sent on every request that changes something.

import { say } from "./dom.js";
import { errorText } from "./errors.js";

const CSRF_KEY = "ivr.csrf";
// Only a hint that this browser signed in (the cookie itself is HttpOnly):
// without it there is no session to restore, and no 401 to ask for.
const HINT_KEY = "ivr.signedIn";

export const session = {
  user: null,
  csrf: sessionStorage.getItem(CSRF_KEY),
};

let onSignedOut = () => {};
/** What to do when any answer says 401: the app goes back to sign-in. */
export function whenSignedOut(fn) {
  onSignedOut = fn;
}

// `message` is what the staff read: Chinese, from the one catalogue
// (errors.js); `apiMessage` keeps the API's own (English) sentence.
export class ApiError extends Error {
  constructor(status, body) {
    super(errorText(body, status));
    this.apiMessage = body?.message || "";
    this.status = status;
    this.errorId = body?.error_id || "";
    this.details = body?.details || {};
  }
}

function keep(body) {
  session.user = body.user;
  session.csrf = body.csrf_token;
  sessionStorage.setItem(CSRF_KEY, body.csrf_token);
  localStorage.setItem(HINT_KEY, "1");
}

export function forget() {
  session.user = null;
  session.csrf = null;
  sessionStorage.removeItem(CSRF_KEY);
  localStorage.removeItem(HINT_KEY);
}

async function errorBody(response) {
  try {
    return await response.json();
  } catch {
    return { message: `${response.status} ${response.statusText}`.trim() };
  }
}

/**
 * api("GET", "/api/menus/national") -> parsed JSON (or null for 204).
 * Options: json (a body), form (FormData), blob (answer as a Blob), file
 * (answer as {blob, name}, the name the server gave the attachment),
 * quiet401 (a 401 is the caller's business, not a signing out).
 */
export async function api(method, path, options = {}) {
  const headers = { Accept: "application/json" };
  let body;
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.json);
  } else if (options.form) {
    body = options.form;
  }
  if (method !== "GET" && session.csrf) headers["X-CSRF-Token"] = session.csrf;
  let response;
  try {
    response = await fetch(path, { method, headers, body, credentials: "same-origin", signal: options.signal });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, { error_id: "network", message: "无法连接服务器，请检查网络后重试。" });
  }
  if (!response.ok) {
    const error = new ApiError(response.status, await errorBody(response));
    if (response.status === 401 && !options.quiet401) {
      forget();
      onSignedOut(error);
    }
    throw error;
  }
  if (response.status === 204) return null;
  if (options.blob) return response.blob();
  if (options.file) return { blob: await response.blob(), name: attachmentName(response) };
  const type = response.headers.get("Content-Type") || "";
  return type.includes("json") ? response.json() : response.text();
}

function attachmentName(response) {
  const header = response.headers.get("Content-Disposition") || "";
  return /filename="([^"]+)"/.exec(header)?.[1] || "download";
}

export async function signIn(username, password) {
  const body = await api("POST", "/api/session", { json: { username, password }, quiet401: true });
  keep(body);
  return body;
}

/** The session of the cookie, if it is still good; null if not. */
export async function restore() {
  if (!session.csrf && !localStorage.getItem(HINT_KEY)) return null;
  try {
    keep(await api("GET", "/api/session", { quiet401: true }));
    return session.user;
  } catch (error) {
    if (error.status === 401) {
      forget();
      return null;
    }
    throw error;
  }
}

export async function signOut() {
  try {
    await api("DELETE", "/api/session", { quiet401: true });
  } finally {
    forget();
  }
}

/** Shows an error in the status region, in Chinese (errors.js). */
export function report(error) {
  if (error?.name === "AbortError") return;
  if (!(error instanceof ApiError)) {
    console.error(error);
    say(`出错了：${error?.message || error}`, "error");
    return;
  }
  if (error.status === 401) return; // already back at sign-in
  if (error.status === 403) say(`无权访问：${error.message}`, "error");
  else say(error.message, "error");
}

export const enc = encodeURIComponent;
