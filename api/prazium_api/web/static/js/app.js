// The dashboard's shell: who is signed in, the hash router, sign in and out.
// Pages reach it only through nav.js's events (they cannot import it back).
import { ApiError, get, post, setCsrf } from "./api.js";
import { append, clear, clearNotice, h, notify } from "./dom.js";
import { go, ROUTE_EVENT, showError, SIGNED_OUT_EVENT } from "./nav.js";
import { projectPage } from "./project.js";
import { projectsPage } from "./projects.js";
import { runPage } from "./run.js";
import { filesPage } from "./files.js";
import { statsPage } from "./stats.js";

const main = document.getElementById("main");
const session = { me: null };
// The page shown: what it stops when another one opens (streams, timers) and, for a
// page that follows its own URL (a run and its open task), how it takes a new one.
let current = null; // {page, key, leave, update}

// [pattern, page, how many leading arguments name the page's object]: a new URL
// with the same page and those arguments goes to the page's update(), not a redraw.
const routes = [
  [/^#\/projects$/, projectsPage, 0],
  [/^#\/projects\/([^/]+)$/, projectPage, 1],
  [/^#\/projects\/([^/]+)\/runs\/([^/]+)(?:\/tasks\/([^/]+))?$/, runPage, 2],
  [/^#\/projects\/([^/]+)\/files$/, filesPage, 1],
  [/^#\/admin\/stats$/, statsPage, 0],
];

function parseHash() {
  const [path, search] = (location.hash || "#/projects").split("?");
  return { path, params: new URLSearchParams(search || "") };
}

function stopPage() {
  if (current && current.leave) current.leave();
  current = null;
}

async function route(keepNotice = false, redraw = false) {
  if (!session.me) {
    stopPage();
    if (keepNotice !== true) clearNotice();
    loginPage();
    return;
  }
  const { path, params } = parseHash();
  for (const [pattern, page, keyArgs] of routes) {
    const match = path.match(pattern);
    if (match) {
      const args = match.slice(1).map((a) => (a === undefined ? undefined : decodeURIComponent(a)));
      const key = JSON.stringify(args.slice(0, keyArgs));
      if (!redraw && current && current.update && current.page === page && current.key === key) {
        current.update(args, params); // the same run: open or close its task panel
        return;
      }
      stopPage();
      if (keepNotice !== true) clearNotice();
      clear(main);
      try {
        const shown = (await page(main, args, params)) || null;
        const handle = typeof shown === "function" ? { leave: shown } : shown || {};
        current = { page, key, leave: handle.leave, update: handle.update };
      } catch (error) {
        showError(error);
      }
      const heading = main.querySelector("h1");
      if (heading) {
        heading.setAttribute("tabindex", "-1");
        heading.focus({ preventScroll: true });
        document.title = `${heading.textContent} · Prazium`;
      }
      return;
    }
  }
  go("#/projects");
}

function signedIn(me) {
  session.me = me;
  setCsrf(me.csrfToken);
  document.getElementById("nav").hidden = false;
  document.getElementById("nav-stats").hidden = !me.admin;
  document.getElementById("whoami").textContent = `${me.tenant} (${me.tier}${me.admin ? ", admin" : ""})`;
}

function signedOut() {
  session.me = null;
  setCsrf(null);
  document.getElementById("nav").hidden = true;
  route();
}

function loginPage() {
  clear(main);
  document.title = "Sign in · Prazium";
  const input = h("input", {
    id: "api-key",
    name: "apiKey",
    type: "password",
    autocomplete: "off",
    required: true,
    spellcheck: "false",
    placeholder: "pzm_…",
  });
  const form = h(
    "form",
    { class: "card narrow", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, "Sign in"),
    h("p", {}, "Sign in with an API key. The key is exchanged for a session cookie and is not stored in the browser."),
    h("label", { for: "api-key" }, "API key"),
    input,
    h("button", { type: "submit" }, "Sign in"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const result = await post("/auth/login", { apiKey: input.value.trim() });
      input.value = "";
      setCsrf(result.csrfToken);
      signedIn(await get("/auth/me"));
      clearNotice();
      route();
    } catch (error) {
      notify(error.status === 401 ? "That API key is not valid." : error.message, "error");
      input.focus();
    }
  });
  append(main, form);
  input.focus();
}

document.getElementById("signout").addEventListener("click", async () => {
  try {
    await post("/auth/logout");
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) {
      showError(error);
      return;
    }
  }
  signedOut();
  notify("Signed out.");
});

window.addEventListener("hashchange", () => route());
// go() to the URL shown and rerender() draw the page again from the API.
window.addEventListener(ROUTE_EVENT, (event) => route(event.detail.keepNotice, true));
window.addEventListener(SIGNED_OUT_EVENT, () => signedOut());

async function start() {
  try {
    signedIn(await get("/auth/me"));
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) notify(error.message, "error");
  }
  route();
}

// The vendored libraries load with defer; modules run after them.
start();
