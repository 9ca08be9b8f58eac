// A task's log as people read it: one row per line, time · level · message (the
// worker writes JSON lines), and the raw text behind a toggle. Text arrives in
// chunks (a followed log): a line cut between two chunks waits for its end.
import { append, clear, h, seconds } from "./dom.js";

export class LogView {
  constructor() {
    this.raw = "";
    this.pending = "";
    this.list = h("ol", {});
    // The scrolling region holds the list (a list keeps its own role for screen readers).
    this.rows = h("div", { class: "log log-rows", id: "task-log", tabindex: 0, role: "region", "aria-label": "Task log" }, this.list);
    this.rawBox = h("pre", { class: "log", id: "task-log-raw", tabindex: 0, role: "region", "aria-label": "Task log as written (JSON lines)", hidden: true });
    this.toggle = h(
      "button",
      { type: "button", class: "link", id: "task-log-toggle", "aria-controls": "task-log-raw", "aria-expanded": "false", onclick: () => this.flip() },
      "Show raw JSON",
    );
    this.node = h("div", { class: "log-view" }, this.toggle, this.rows, this.rawBox);
  }

  flip() {
    const showRaw = this.rawBox.hidden;
    this.rawBox.hidden = !showRaw;
    this.rows.hidden = showRaw;
    this.toggle.setAttribute("aria-expanded", String(showRaw));
    this.toggle.textContent = showRaw ? "Show as lines" : "Show raw JSON";
  }

  add(text) {
    const box = this.rows.hidden ? this.rawBox : this.rows;
    const atEnd = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
    this.raw += text;
    append(this.rawBox, text);
    const lines = (this.pending + text).split("\n");
    this.pending = lines.pop();
    for (const line of lines) if (line.trim()) append(this.list, row(line));
    if (atEnd) box.scrollTop = box.scrollHeight;
  }

  end() {
    if (this.pending.trim()) append(this.list, row(this.pending));
    this.pending = "";
    if (!this.raw) {
      clear(this.list);
      append(this.list, h("li", { class: "muted" }, "(empty log)"));
      this.toggle.hidden = true;
    }
  }
}

// What a line says beyond its message, in words: how long the attempt took (the same
// figure as the panel's Duration) and why it failed.
function extras(entry) {
  const parts = [];
  if (typeof entry.durationSeconds === "number") parts.push(`took ${seconds(entry.durationSeconds)}`);
  if (entry.error) parts.push(String(entry.error));
  if (entry.exc_info) parts.push(String(entry.exc_info));
  return parts;
}

function row(line) {
  let entry = null;
  try {
    entry = JSON.parse(line);
  } catch {
    /* a line that is not JSON (a tool's own output) is shown as it is */
  }
  if (!entry || typeof entry !== "object" || Array.isArray(entry)) {
    return h("li", { class: "log-line" }, h("span", { class: "log-message" }, line));
  }
  const level = String(entry.level || "").toUpperCase();
  const stamp = entry.timestamp || entry.time;
  const message = [entry.message ?? entry.msg ?? "", ...extras(entry)].filter(Boolean).join(" · ");
  return h(
    "li",
    { class: `log-line level-${level.toLowerCase() || "none"}` },
    stamp ? h("time", { datetime: stamp, title: stamp }, logClock(stamp)) : "",
    stamp ? " · " : "",
    level ? [h("span", { class: "log-level" }, level), " · "] : "",
    h("span", { class: "log-message" }, message),
  );
}

// HH:MM:SS.mmm in local time: a task's lines are often milliseconds apart.
function logClock(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const pad = (n, width = 2) => String(n).padStart(width, "0");
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}
