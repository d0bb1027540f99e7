// A node's prompt: hear the text as callers will (试听), or replace it with a
// recording, uploaded or made with the microphone. A recording is only
// stored here; it reaches callers once the node is saved and published.

import { api, report } from "./api.js";
import { h, say } from "./dom.js";

const MAX_BYTES = 10 * 1024 * 1024; // the API's limit: 10 MB
const MAX_RECORDING_MS = 120_000; // and two minutes
const ACCEPT = ".wav,.mp3,.m4a";

// Recordings uploaded in this visit: prompt_id -> audio_url.
const uploaded = new Map();

function audioUrl(node, spec) {
  if (spec.prompt) {
    if (uploaded.has(spec.prompt)) return uploaded.get(spec.prompt);
    if (node?.prompt === spec.prompt && node.audio_url) return node.audio_url;
    return `/api/prompts/${encodeURIComponent(spec.prompt)}/audio`;
  }
  return node?.audio_url || null;
}

function recordingSupported() {
  return Boolean(navigator.mediaDevices?.getUserMedia && window.MediaRecorder);
}

/**
 * The prompt part of the node editor. `getText()` gives the text in the
 * editor now; `onChange()` is called when spec.prompt changes.
 */
export function promptSection({ scope, node, spec, editable, getText, onChange }) {
  const box = h("fieldset", { class: "prompt-box" }, h("legend", { text: "提示音" }));
  const current = h("div", { class: "current-prompt" });
  const status = h("p", { class: "upload-status", testid: "upload-status", "aria-live": "polite" });
  const preview = h("audio", { controls: true, testid: "preview-audio", class: "preview-audio", hidden: true, preload: "auto" });
  let previewUrl = null;

  function showCurrent() {
    const url = audioUrl(node, spec);
    current.replaceChildren(
      h("p", {
        class: "prompt-source",
        text: spec.prompt ? `使用录音：${spec.prompt}` : "使用文字合成：来电者听到的是上面的文字。",
      }),
    );
    if (url) {
      const label = spec.prompt ? "录音" : "现在来电者听到的提示音";
      current.append(h("audio", { controls: true, src: url, preload: "none", class: "current-audio", "aria-label": label, testid: "current-audio" }));
    }
  }

  function tell(message, tone) {
    status.textContent = message;
    status.className = `upload-status ${tone || ""}`;
    if (tone === "error") status.setAttribute("role", "alert");
    else status.removeAttribute("role");
  }

  async function upload(file, name) {
    if (file.size > MAX_BYTES) {
      tell("文件超过10MB，请剪短或压缩后再上传。", "error");
      say("文件超过10MB，请剪短或压缩后再上传。", "error");
      return;
    }
    const form = new FormData();
    form.append("scope", scope);
    form.append("file", file, name || file.name);
    tell("正在上传…");
    try {
      const answer = await api("POST", "/api/prompts/uploads", { form });
      uploaded.set(answer.prompt_id, answer.audio_url);
      spec.prompt = answer.prompt_id;
      const seconds = Math.round((answer.duration_ms || 0) / 100) / 10;
      tell(`已上传，时长${seconds}秒。请点击“保存到草稿”。`, "ok");
      say(`录音已上传（${seconds}秒），保存到草稿后生效。`);
      showCurrent();
      onChange();
    } catch (error) {
      tell(error.message, "error");
      report(error);
    }
  }

  const previewButton = h("button", { type: "button", testid: "preview-button", text: "试听" });
  previewButton.addEventListener("click", async () => {
    const text = getText().trim();
    if (!text) {
      say("请先填写文字，再试听。", "error");
      return;
    }
    previewButton.disabled = true;
    previewButton.textContent = "正在合成…";
    try {
      const blob = await api("POST", "/api/prompts/preview", { json: { text }, blob: true });
      if (previewUrl) URL.revokeObjectURL(previewUrl);
      previewUrl = URL.createObjectURL(blob);
      preview.src = previewUrl;
      preview.hidden = false;
      preview.play().catch(() => {}); // the browser may refuse to start by itself; the controls remain
    } catch (error) {
      report(error);
    } finally {
      previewButton.disabled = false;
      previewButton.textContent = "试听";
    }
  });

  const fileInput = h("input", { type: "file", accept: ACCEPT, id: `upload-${node?.id || "new"}`, class: "visually-hidden", testid: "upload-input" });
  fileInput.addEventListener("change", () => {
    const file = fileInput.files?.[0];
    if (file) upload(file).finally(() => (fileInput.value = ""));
  });
  const uploadLabel = h("label", { for: fileInput.id, class: "button-like", text: "上传录音" });

  const recordButton = h("button", { type: "button", testid: "record-button", "aria-pressed": "false", text: "录音" });
  recordButton.hidden = !recordingSupported();
  let recorder = null;
  recordButton.addEventListener("click", async () => {
    if (recorder) {
      recorder.stop();
      return;
    }
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      const chunks = [];
      recorder = new MediaRecorder(stream);
      const started = Date.now();
      const tick = setInterval(() => {
        const seconds = Math.floor((Date.now() - started) / 1000);
        recordButton.textContent = `停止录音 ${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
        if (Date.now() - started >= MAX_RECORDING_MS) recorder?.stop();
      }, 500);
      recorder.addEventListener("dataavailable", (event) => event.data.size && chunks.push(event.data));
      recorder.addEventListener("stop", () => {
        clearInterval(tick);
        stream.getTracks().forEach((track) => track.stop());
        const type = recorder.mimeType || "audio/webm";
        recorder = null;
        recordButton.textContent = "录音";
        recordButton.setAttribute("aria-pressed", "false");
        const name = type.includes("ogg") ? "recording.ogg" : "recording.webm";
        upload(new File(chunks, name, { type }), name);
      });
      recorder.start();
      recordButton.textContent = "停止录音 0:00";
      recordButton.setAttribute("aria-pressed", "true");
      tell("正在录音，说完后点击“停止录音”。");
    } catch (error) {
      recorder = null;
      tell(`无法使用麦克风：${error.message}`, "error");
    }
  });

  const useTts = h("button", { type: "button", testid: "use-tts-button", text: "使用文字合成" });
  useTts.addEventListener("click", () => {
    if (!spec.prompt) {
      tell("这个节点已经在使用文字合成。", "ok");
      return;
    }
    spec.prompt = null;
    tell("已改为文字合成。请点击“保存到草稿”。", "ok");
    showCurrent();
    onChange();
  });

  showCurrent();
  const tools = h("div", { class: "button-row" }, previewButton);
  if (editable) tools.append(fileInput, uploadLabel, recordButton, useTts);
  box.append(current, tools, preview, status);
  return box;
}
