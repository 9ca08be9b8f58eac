// Projects: search, status and archived filters, pagination; create; archive and
// unarchive. The list leaves archived projects out unless asked (the API's list has
// them, as the contract says; ?archived= is its extension that filters them).
import { del, get, post, query } from "./api.js";
import { append, badge, clear, h, notify, plural, when } from "./dom.js";
import { go, rerender, showError } from "./nav.js";

const STATUSES = ["draft", "clarifying", "spec_review", "approved", "building", "built", "failed"];
// The "Show" filter: which projects, as the API's archived parameter.
const SHOW = [
  ["active", "active projects", "false"],
  ["archived", "archived projects", "true"],
  ["all", "all projects", ""],
];
const PAGE_SIZE = 10;

export async function projectsPage(main, _args, params) {
  const state = {
    search: params.get("search") || "",
    status: params.get("status") || "",
    show: SHOW.some(([key]) => key === params.get("show")) ? params.get("show") : "active",
    page: Number(params.get("page") || 1),
  };
  const listing = h("div", { id: "project-list" });
  const search = h("input", { id: "search", type: "search", value: state.search, name: "search" });
  const status = h(
    "select",
    { id: "status-filter", name: "status" },
    h("option", { value: "" }, "any status"),
    STATUSES.map((s) => h("option", { value: s, selected: s === state.status }, s)),
  );
  const show = h(
    "select",
    { id: "show-filter", name: "show" },
    SHOW.map(([key, label]) => h("option", { value: key, selected: key === state.show }, label)),
  );
  const filters = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Find projects" },
    h("div", {}, h("label", { for: "search" }, "Search"), search),
    h("div", {}, h("label", { for: "status-filter" }, "Status"), status),
    h("div", {}, h("label", { for: "show-filter" }, "Show"), show),
    h("button", { type: "submit" }, "Filter"),
  );
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = show.value === "active" ? undefined : show.value;
    go(`#/projects${query({ search: search.value.trim(), status: status.value, show: chosen, page: 1 })}`);
  });
  status.addEventListener("change", () => filters.requestSubmit());
  show.addEventListener("change", () => filters.requestSubmit());

  append(main,
    h("div", { class: "page-head" }, h("h1", {}, "Projects")),
    createForm(),
    h("section", { "aria-labelledby": "list-title" }, h("h2", { id: "list-title" }, "Your projects"), filters, listing),
  );
  await renderList(listing, state);
}

async function renderList(listing, state) {
  const archived = SHOW.find(([key]) => key === state.show)[2];
  const result = await get(
    `/projects${query({ page: state.page, pageSize: PAGE_SIZE, search: state.search, status: state.status, archived })}`,
    { whole: true },
  );
  clear(listing);
  const projects = result.data;
  if (!projects.length) {
    append(listing, h("p", { class: "empty" }, state.show === "archived" ? "No archived projects match." : "No projects match."));
    return;
  }
  const cell = (label, ...content) => h("td", { dataset: { label } }, ...content);
  const rows = projects.map((p) =>
    h(
      "tr",
      { dataset: { projectId: p.id } },
      cell("Name", h("a", { href: `#/projects/${p.id}` }, p.name)),
      cell("Status", badge(p.status)),
      cell("Latest run", p.latestRun ? h("a", { href: `#/projects/${p.id}/runs/${p.latestRun.id}` }, `#${p.latestRun.runNumber} `, badge(p.latestRun.status)) : "—"),
      cell("Updated", when(p.updatedAt)),
      cell(
        "Actions",
        p.status === "archived"
          ? h("button", { type: "button", class: "secondary", onclick: () => unarchive(p), "aria-label": `Unarchive ${p.name}` }, "Unarchive")
          : h("button", { type: "button", class: "secondary", onclick: () => archive(p), "aria-label": `Archive ${p.name}` }, "Archive"),
      ),
    ),
  );
  const { page, totalPages, total } = result.pagination;
  const linkState = { ...state, show: state.show === "active" ? undefined : state.show };
  const pager = h(
    "nav",
    { class: "pager", "aria-label": "Pages" },
    page > 1 ? h("a", { href: `#/projects${query({ ...linkState, page: page - 1 })}`, rel: "prev" }, "← Previous") : "",
    h("span", { id: "project-count" }, `Page ${page} of ${Math.max(1, totalPages)} (${plural(total, "project")})`),
    page < totalPages ? h("a", { href: `#/projects${query({ ...linkState, page: page + 1 })}`, rel: "next" }, "Next →") : "",
  );
  append(listing,
    h(
      "div",
      { class: "table-wrap", tabindex: 0, role: "region", "aria-label": "Table (scrolls sideways)" },
      h(
        "table",
        { class: "stack" },
        h("caption", { class: "visually-hidden" }, "Projects"),
        h("thead", {}, h("tr", {}, ["Name", "Status", "Latest run", "Updated", "Actions"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, rows),
      ),
    ),
    pager,
  );
}

async function unarchive(project) {
  try {
    const back = await post(`/projects/${project.id}/unarchive`);
    notify(`Unarchived ${project.name} (${back.status}).`);
  } catch (error) {
    showError(error);
  }
  rerender();
}

async function archive(project) {
  if (!window.confirm(`Archive (delete) project “${project.name}”? Its runs stop being startable.`)) return;
  try {
    await del(`/projects/${project.id}`);
    notify(`Archived ${project.name}.`);
    rerender();
  } catch (error) {
    showError(error);
  }
}

function createForm() {
  const name = h("input", { id: "new-name", name: "name", required: true, maxlength: 200 });
  const description = h("textarea", { id: "new-description", name: "description", required: true, rows: 3 });
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "create-title" },
    h("h2", { id: "create-title" }, "New project"),
    h("label", { for: "new-name" }, "Name"),
    name,
    h("label", { for: "new-description" }, "Describe the app"),
    description,
    h("button", { type: "submit" }, "Create project"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const project = await post("/projects", { name: name.value.trim(), description: description.value.trim() });
      go(`#/projects/${project.id}`);
    } catch (error) {
      showError(error);
    }
  });
  return form;
}
