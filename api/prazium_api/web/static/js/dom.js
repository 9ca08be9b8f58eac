// Building DOM nodes without HTML strings: text always goes in as text, so nothing
// the API returns (names, descriptions, logs, file contents) can become markup.

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "class") {
      node.className = value;
    } else if (name === "dataset") {
      Object.assign(node.dataset, value);
    } else {
      node.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(node, children);
  return node;
}

export function append(node, ...children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const SVG = "http://www.w3.org/2000/svg";

export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (value !== undefined && value !== null) {
      node.setAttribute(name, String(value));
    }
  }
  for (const child of children.flat()) {
    if (child) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.firstChild.remove();
  return node;
}

export function badge(status) {
  return h("span", { class: `badge phase-${status}` }, status);
}

export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return h("time", { datetime: iso, title: iso }, date.toLocaleString());
}

// "1 project", "2 projects"; many defaults to one + "s".
export function plural(count, one, many = `${one}s`) {
  return `${count} ${count === 1 ? one : many}`;
}

// A length of time in seconds as people read it: 0.17 s, 4.2 s, 38 s, 2 min 5 s, 1 h 4 min.
export function seconds(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "";
  const s = Math.max(0, value);
  if (s < 10) return Number.isInteger(s) ? `${s} s` : `${s < 1 ? s.toFixed(2) : s.toFixed(1)} s`;
  const whole = Math.round(s);
  if (whole < 60) return `${whole} s`;
  const minutes = Math.floor(whole / 60);
  if (minutes < 60) return `${minutes} min ${whole % 60} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

export function duration(startIso, endIso) {
  if (!startIso) return "";
  const end = endIso ? new Date(endIso) : new Date();
  return seconds(Math.round((end - new Date(startIso)) / 1000));
}

// A moment relative to now ("3 min ago", "in 23 h"), the exact time on hover.
export function ago(iso) {
  if (!iso) return "";
  const delta = (Date.now() - new Date(iso)) / 1000;
  const size = seconds(Math.round(Math.abs(delta))) || "0 s";
  const text = Math.abs(delta) < 5 ? "just now" : delta > 0 ? `${size} ago` : `in ${size}`;
  return h("time", { datetime: iso, title: new Date(iso).toLocaleString() }, text);
}

// The time of day of an event (to the second), the whole timestamp on hover.
export function clock(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return h("time", { datetime: iso, title: iso, class: "clock" }, date.toLocaleTimeString([], { hour12: false }));
}

// A commit as its first 12 characters; the whole hash on hover and a button that
// copies it (the copy falls back to selecting the text where the clipboard is refused).
export function commitHash(sha, id) {
  if (!sha) return "—";
  const code = h("code", { title: sha, id, dataset: { sha } }, sha.slice(0, 12));
  const copy = h(
    "button",
    {
      type: "button",
      class: "link copy",
      "aria-label": `Copy the full commit hash ${sha}`,
      onclick: async () => {
        try {
          await navigator.clipboard.writeText(sha);
          copy.textContent = "copied";
        } catch {
          const range = document.createRange();
          code.textContent = sha;
          range.selectNodeContents(code);
          window.getSelection().removeAllRanges();
          window.getSelection().addRange(range);
          copy.textContent = "selected";
        }
      },
    },
    "copy",
  );
  return h("span", { class: "hash" }, code, " ", copy);
}

// A live region the pages announce outcomes in (screen readers hear them).
export function notify(message, kind = "info") {
  const region = document.getElementById("notice");
  clear(region);
  region.className = `notice ${kind}`;
  region.append(message);
  region.hidden = false;
}

export function clearNotice() {
  const region = document.getElementById("notice");
  clear(region);
  region.hidden = true;
}

// A run's or a task's model usage (the API's `usage`): tokens, requests and the cost at
// the operator's price table, "cost unknown" when a model in it has no price there.
export function usageText(usage) {
  const count = (value) => Number(value || 0).toLocaleString("en");
  const tokens = Number(usage.inputTokens || 0) + Number(usage.outputTokens || 0);
  const cost = typeof usage.cost === "number" ? `cost ${usage.cost.toFixed(4)}` : "cost unknown";
  return `${count(tokens)} tokens (${count(usage.inputTokens)} in, ${count(usage.cachedInputTokens)} cached; ${count(usage.outputTokens)} out) · ${plural(usage.requests || 0, "request")} · ${cost}`;
}
