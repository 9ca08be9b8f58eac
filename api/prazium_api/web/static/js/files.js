// The project's repository at a ref (a run's commit, a branch): a directory tree
// and a syntax-highlighted viewer (highlight.js escapes the text it marks up).
import { get, query } from "./api.js";
import { append, clear, h } from "./dom.js";
import { go } from "./nav.js";

const LANGUAGES = {
  py: "python", js: "javascript", mjs: "javascript", ts: "typescript", tsx: "typescript", jsx: "javascript",
  json: "json", md: "markdown", html: "xml", xml: "xml", css: "css", sh: "bash", yml: "yaml", yaml: "yaml",
  toml: "ini", ini: "ini", sql: "sql", go: "go", rs: "rust", txt: "plaintext", cfg: "ini", dockerfile: "dockerfile",
};

export async function filesPage(main, [projectId], params) {
  let ref = params.get("ref") || "";
  const runId = params.get("run");
  if (runId && !ref) {
    const run = await get(`/projects/${projectId}/runs/${runId}`);
    ref = run.mergedCommit || "main";
  }
  ref = ref || "main";
  const dir = params.get("path") || "/";
  const file = params.get("file");
  const project = await get(`/projects/${projectId}`);
  const link = (extra) => `#/projects/${projectId}/files${query({ ref, ...extra })}`;

  const refInput = h("input", { id: "ref", name: "ref", value: ref, maxlength: 200 });
  const refForm = h("form", { class: "inline-form" }, h("label", { for: "ref" }, "Ref (branch, tag or commit)"), refInput, h("button", { type: "submit", class: "secondary" }, "Show"));
  refForm.addEventListener("submit", (event) => {
    event.preventDefault();
    go(`#/projects/${projectId}/files${query({ ref: refInput.value.trim() || "main" })}`);
  });
  const tree = h("nav", { class: "card tree", "aria-label": "Files" });
  const viewer = h("section", { class: "card viewer", id: "viewer", "aria-labelledby": "viewer-title" });
  append(main,
    h(
      "div",
      { class: "page-head" },
      h("p", { class: "crumbs" }, h("a", { href: "#/projects" }, "Projects"), " / ", h("a", { href: `#/projects/${projectId}` }, project.name), " /"),
      h("h1", {}, "Files"),
      refForm,
    ),
    h("div", { class: "files-grid" }, tree, viewer),
  );

  const listing = await get(`/projects/${projectId}/files${query({ ref, path: dir })}`);
  const parent = dir.replace(/\/[^/]*\/?$/, "") || "/";
  const crumbs = dir === "/" ? [] : dir.split("/").filter(Boolean);
  append(tree,
    h("h2", {}, `${dir}`),
    h("p", { class: "muted" }, "at ", h("code", {}, (listing.commit || ref).slice(0, 12))),
    h(
      "ul",
      { class: "tree-list", id: "tree" },
      crumbs.length ? h("li", {}, h("a", { href: link({ path: parent }) }, "⬑ ..")) : "",
      listing.entries.map((entry) => {
        const path = `${dir.replace(/\/$/, "")}/${entry.name}`;
        return h(
          "li",
          { class: entry.type },
          entry.type === "directory"
            ? h("a", { href: link({ path }) }, `${entry.name}/`)
            : h("a", { href: link({ path: dir, file: path.replace(/^\//, "") }) }, entry.name, h("span", { class: "muted" }, ` ${entry.size ?? ""} B`)),
        );
      }),
    ),
  );
  if (!file) {
    append(viewer, h("h2", { id: "viewer-title" }, "No file open"), h("p", { class: "muted" }, "Choose a file in the tree."));
    return;
  }
  const content = await get(`/projects/${projectId}/files/${file.split("/").map(encodeURIComponent).join("/")}${query({ ref })}`);
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
