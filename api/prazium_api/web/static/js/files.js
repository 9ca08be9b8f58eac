// The project's repository at a ref: a directory tree and a syntax-highlighted
// viewer (highlight.js escapes the text it marks up). Opened for a run (?run=R) it
// shows the whole tree at the run's merged commit and keeps the run in the
// breadcrumb; ?ref= shows a branch, tag or commit instead. Opening a folder keeps
// the open file open.
import { get, query } from "./api.js";
import { append, clear, commitHash, h } from "./dom.js";
import { go } from "./nav.js";

const LANGUAGES = {
  py: "python", js: "javascript", mjs: "javascript", ts: "typescript", tsx: "typescript", jsx: "javascript",
  json: "json", md: "markdown", html: "xml", xml: "xml", css: "css", sh: "bash", yml: "yaml", yaml: "yaml",
  toml: "ini", ini: "ini", sql: "sql", go: "go", rs: "rust", txt: "plaintext", cfg: "ini", dockerfile: "dockerfile",
};

export async function filesPage(main, [projectId], params) {
  const runId = params.get("run");
  const run = runId ? await get(`/projects/${projectId}/runs/${runId}`) : null;
  // A run's files are its merged commit's; ?ref= (a run not merged yet: a task's
  // commit) wins when given.
  const ref = params.get("ref") || (run && run.mergedCommit) || "main";
  const dir = params.get("path") || "/";
  const file = params.get("file");
  const project = await get(`/projects/${projectId}`);
  // Every link keeps the run (or the ref) and the open file unless it changes them.
  const state = { run: runId || undefined, ref: params.get("ref") || undefined, path: dir === "/" ? undefined : dir, file: file || undefined };
  const link = (changes) => `#/projects/${projectId}/files${query({ ...state, ...changes })}`;

  const refInput = h("input", { id: "ref", name: "ref", maxlength: 200, placeholder: "main, a tag or a commit" });
  const refForm = h(
    "form",
    { class: "inline-form" },
    h("label", { for: "ref" }, "Show another ref"),
    refInput,
    h("button", { type: "submit", class: "secondary" }, "Show"),
  );
  refForm.addEventListener("submit", (event) => {
    event.preventDefault();
    go(`#/projects/${projectId}/files${query({ ref: refInput.value.trim() || "main" })}`);
  });
  const tree = h("nav", { class: "card tree", "aria-label": "Files" });
  const viewer = h("section", { class: "card viewer", id: "viewer", "aria-labelledby": "viewer-title" });
  const at = h("p", { class: "muted", id: "files-at" });
  append(main,
    h(
      "div",
      { class: "page-head" },
      h(
        "p",
        { class: "crumbs", id: "files-crumbs" },
        h("a", { href: "#/projects" }, "Projects"),
        " / ",
        h("a", { href: `#/projects/${projectId}` }, project.name),
        " / ",
        run ? [h("a", { href: `#/projects/${projectId}/runs/${runId}` }, `Run #${run.runNumber}`), " / "] : "",
      ),
      h("h1", {}, run ? `Files of run #${run.runNumber}` : "Files"),
      at,
      refForm,
    ),
    h("div", { class: "files-grid" }, tree, viewer),
  );

  const listing = await get(`/projects/${projectId}/files${query({ ref, path: dir })}`);
  const commit = listing.commit || ref;
  append(at,
    run && !params.get("ref") ? "The run's merged commit " : ref !== commit ? [h("code", {}, ref), " at commit "] : "Commit ",
    commitHash(commit, "files-commit"),
  );
  const parent = dir.replace(/\/[^/]*\/?$/, "") || "/";
  const crumbs = dir === "/" ? [] : dir.split("/").filter(Boolean);
  append(tree,
    h(
      "h2",
      { class: "tree-path" },
      h("a", { href: link({ path: undefined }) }, "/"),
      crumbs.map((part, index) => [h("a", { href: link({ path: `/${crumbs.slice(0, index + 1).join("/")}` }) }, part), index < crumbs.length - 1 ? "/" : ""]),
    ),
    h(
      "ul",
      { class: "tree-list", id: "tree" },
      crumbs.length ? h("li", {}, h("a", { href: link({ path: parent === "/" ? undefined : parent }) }, "⬑ ..")) : "",
      listing.entries.map((entry) => {
        const path = `${dir.replace(/\/$/, "")}/${entry.name}`;
        const open = file === path.replace(/^\//, "");
        return h(
          "li",
          { class: entry.type },
          entry.type === "directory"
            ? h("a", { href: link({ path }) }, `${entry.name}/`)
            : h(
                "a",
                { href: link({ file: path.replace(/^\//, "") }), "aria-current": open ? "page" : undefined },
                entry.name,
                h("span", { class: "muted" }, ` ${entry.size ?? ""} B`),
              ),
        );
      }),
    ),
  );
  if (!file) {
    append(viewer, h("h2", { id: "viewer-title" }, "No file open"), h("p", { class: "muted" }, "Choose a file in the tree."));
    return;
  }
  const content = await get(`/projects/${projectId}/files/${file.split("/").map(encodeURIComponent).join("/")}${query({ ref: commit })}`);
  append(clear(viewer), h("h2", { id: "viewer-title" }, content.path), h("p", { class: "muted" }, `${content.size} bytes · ${content.encoding}`));
  if (content.encoding !== "utf-8") {
    append(viewer, h("p", {}, "Binary file: not shown."));
    return;
  }
  const code = h("code", {});
  const name = content.path.split("/").pop().toLowerCase();
  const extension = name === "dockerfile" ? "dockerfile" : name.includes(".") ? name.split(".").pop() : "";
  const language = LANGUAGES[extension];
  if (window.hljs && language && window.hljs.getLanguage(language)) {
    code.innerHTML = window.hljs.highlight(content.content, { language, ignoreIllegals: true }).value;
    code.className = `hljs language-${language}`;
  } else {
    code.textContent = content.content;
    code.className = "hljs";
  }
  append(viewer, h("pre", { class: "code", id: "file-content", tabindex: 0, role: "region", "aria-label": `Contents of ${content.path}` }, code));
}
