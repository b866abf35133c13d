// The local server's host: a WebSocket to /ws carrying the page's own query string
// (the setup, and the token), uploads by POST /upload, the setup kept in the URL. The
// server writes the language and the page's words into <script id="rp-labels">.
import { mount } from "./app.js";

const data = JSON.parse(document.getElementById("rp-labels")?.textContent || "{}");
const labels = data.labels || {};
const t = (key, vars = {}) => (labels[key] || key).replace(/\{(\w+)\}/g,
  (m, k) => (k in vars ? String(vars[k]) : m));

const query = new URLSearchParams(location.search);
const token = query.get("token") || "";
const proto = location.protocol === "https:" ? "wss:" : "ws:";
const socket = new WebSocket(`${proto}//${location.host}/ws?${query.toString()}`);
const listeners = [];
const pending = [];

socket.addEventListener("message", (e) => {
  const msg = JSON.parse(e.data);
  for (const cb of listeners) cb(msg);
});
socket.addEventListener("open", () => { for (const m of pending.splice(0)) socket.send(m); });
socket.addEventListener("close", (e) => {
  const p = document.getElementById("error");
  if (p) {
    p.hidden = false;
    p.textContent = t("closed", {reason: e.reason ? ": " + e.reason : ""});
  }
});

const transport = {
  send(msg) {
    const text = JSON.stringify(msg);
    if (socket.readyState === WebSocket.OPEN) socket.send(text); else pending.push(text);
  },
  onMessage(cb) { listeners.push(cb); },
};

async function upload(file, columns = {}) {
  if (file.size > 2 * 1024 * 1024) throw new Error(t("upload_big", {kib: 2048}));
  const q = new URLSearchParams({name: file.name});
  for (const [k, v] of Object.entries(columns)) if (v && v.trim()) q.set(k, v.trim());
  const r = await fetch(`/upload?${q.toString()}`, {
    method: "POST", body: file, headers: {"Content-Type": "text/csv"},
  });
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || t("upload_refused", {status: r.status}));
  return body.upload;
}

function onSetup(setup) {
  // the URL holds the run: reload or share it and get the same run
  const q = new URLSearchParams(setup);
  if (token) q.set("token", token);
  const url = `${location.pathname}?${q.toString()}`;
  if (url !== location.pathname + location.search) history.replaceState(null, "", url);
}

window.playground = mount(document.getElementById("app"), transport,
                          {upload, onSetup, labels, lang: data.lang});
