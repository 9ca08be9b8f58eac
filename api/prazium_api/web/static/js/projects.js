// Projects: search, status filter, pagination; create; archive.
import { del, get, post, query } from "./api.js";
import { append, badge, clear, h, notify, when } from "./dom.js";
import { go, rerender, showError } from "./nav.js";

const STATUSES = ["draft", "clarifying", "spec_review", "approved", "building", "built", "failed", "archived"];
const PAGE_SIZE = 10;

export async function projectsPage(main, _args, params) {
  const state = {
    search: params.get("search") || "",
    status: params.get("status") || "",
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
  const filters = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Find projects" },
    h("label", { for: "search" }, "Search"),
    search,
    h("label", { for: "status-filter" }, "Status"),
    status,
    h("button", { type: "submit" }, "Filter"),
  );
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    go(`#/projects${query({ search: search.value.trim(), status: status.value, page: 1 })}`);
  });
  status.addEventListener("change", () => filters.requestSubmit());

  append(main,
    h("div", { class: "page-head" }, h("h1", {}, "Projects")),
    createForm(),
    h("section", { "aria-labelledby": "list-title" }, h("h2", { id: "list-title" }, "Your projects"), filters, listing),
  );
  await renderList(listing, state);
}

async function renderList(listing, state) {
  const result = await get(
    `/projects${query({ page: state.page, pageSize: PAGE_SIZE, search: state.search, status: state.status })}`,
    { whole: true },
  );
  clear(listing);
  const projects = result.data;
  if (!projects.length) {
    append(listing, h("p", { class: "empty" }, "No projects match."));
    return;
  }
  const rows = projects.map((p) =>
    h(
      "tr",
      { dataset: { projectId: p.id } },
      h("td", {}, h("a", { href: `#/projects/${p.id}` }, p.name)),
      h("td", {}, badge(p.status)),
      h("td", {}, p.latestRun ? h("a", { href: `#/projects/${p.id}/runs/${p.latestRun.id}` }, `#${p.latestRun.runNumber} `, badge(p.latestRun.status)) : "—"),
      h("td", {}, when(p.updatedAt)),
      h(
        "td",
        {},
        p.status === "archived"
          ? ""
          : h("button", { type: "button", class: "secondary", onclick: () => archive(p) , "aria-label": `Archive ${p.name}`}, "Archive"),
      ),
    ),
  );
  const { page, totalPages, total } = result.pagination;
  const pager = h(
    "nav",
    { class: "pager", "aria-label": "Pages" },
    page > 1 ? h("a", { href: `#/projects${query({ ...state, page: page - 1 })}`, rel: "prev" }, "← Previous") : "",
    h("span", {}, `Page ${page} of ${Math.max(1, totalPages)} (${total} projects)`),
    page < totalPages ? h("a", { href: `#/projects${query({ ...state, page: page + 1 })}`, rel: "next" }, "Next →") : "",
  );
  append(listing,
    h(
      "div",
      { class: "table-wrap", tabindex: 0, role: "region", "aria-label": "Table (scrolls sideways)" },
      h(
        "table",
        {},
        h("caption", { class: "visually-hidden" }, "Projects"),
        h("thead", {}, h("tr", {}, ["Name", "Status", "Latest run", "Updated", "Actions"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, rows),
      ),
    ),
    pager,
  );
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
