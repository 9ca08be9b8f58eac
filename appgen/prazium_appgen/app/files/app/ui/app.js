// The app's web interface: one page per record type (list, create, edit, delete).
// Plain JavaScript, no libraries: it reads the data model from /ui/model.json and
// uses the same JSON API as any other client, whose validation errors it shows
// beside the fields they name. Views are addressed by the URL's hash:
//   #/                    every record type
//   #/pets?owner_id=3     a list (optionally one parent's records)
//   #/pets/new?owner_id=3 a form for a new record (a parent picked in advance)
//   #/pets/7              a record's form, its delete button and its children
"use strict";

const PAGE_SIZE = 50;
const PICKER_LIMIT = 1000;
const state = { model: null, notice: "", renders: 0 };

// ------------------------------------------------------------------ helpers

function h(tag, attributes, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name === "dataset") Object.assign(element.dataset, value);
    else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (value === true) element.setAttribute(name, "");
    else element.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

async function api(method, path, body) {
  const options = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch (error) {
      data = { error: { code: "bad_answer", message: text.slice(0, 200) } };
    }
  }
  return { status: response.status, data };
}

function errorMessage(answer) {
  const error = answer.data && answer.data.error;
  return error && error.message ? error.message : `The app answered ${answer.status}.`;
}

function entityBySegment(segment) {
  return state.model.entities.find((entity) => entity.segment === segment);
}

function entityByName(name) {
  return state.model.entities.find((entity) => entity.name === name);
}

function lowerFirst(text) {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

function recordTitle(entity, record) {
  const value = entity.display ? record[entity.display] : null;
  return value === null || value === undefined || value === "" ? `${entity.label} #${record.id}` : String(value);
}

function formatValue(field, value, parents) {
  if (value === null || value === undefined || value === "") return "—";
  if (field.references) {
    const parent = parents[field.name] && parents[field.name].get(value);
    return parent || `#${value}`;
  }
  if (field.type === "boolean") return value ? "Yes" : "No";
  if (field.format === "money") {
    const amount = Number(value).toFixed(2);
    return field.currency ? `${amount} ${field.currency}` : amount;
  }
  if (field.format === "datetime") return String(value).replace("T", " ");
  return String(value);
}

function go(hash, notice) {
  state.notice = notice || "";
  if (location.hash === hash) render();
  else location.hash = hash;
}

function parseHash() {
  const raw = location.hash.startsWith("#/") ? location.hash.slice(2) : "";
  const [path, query] = raw.split("?");
  return { parts: path.split("/").filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(query || "") };
}

function setTitle(text) {
  document.title = `${text} · ${state.model.app}`;
}

function show(...nodes) {
  const view = document.getElementById("view");
  view.replaceChildren(...nodes.flat().filter(Boolean));
  const notice = document.getElementById("notice");
  notice.textContent = state.notice;
  state.notice = "";
  const segment = parseHash().parts[0];
  for (const link of document.querySelectorAll("#record-types a")) {
    const current = segment !== undefined && link.getAttribute("href") === `#/${segment}`;
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const heading = view.querySelector("h1");
  if (heading) {
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
  }
}

function alertBox(message) {
  return h("p", { class: "alert", role: "alert" }, message);
}

/** id -> title of every record of the parents the entity's reference fields name. */
async function parentTitles(entity) {
  const titles = {};
  for (const field of entity.fields.filter((f) => f.references)) {
    const parent = entityByName(field.references);
    if (!parent) continue;
    const answer = await api("GET", `${parent.path}?limit=${PICKER_LIMIT}`);
    const items = answer.status === 200 ? answer.data.items : [];
    titles[field.name] = new Map(items.map((item) => [item.id, recordTitle(parent, item)]));
    titles[field.name].records = items;
  }
  return titles;
}

// -------------------------------------------------------------------- views

async function homeView() {
  setTitle("Home");
  const items = [];
  for (const entity of state.model.entities) {
    items.push(
      h(
        "li",
        { class: "card" },
        h("a", { href: `#/${entity.segment}`, class: "card-title" }, entity.plural),
        h("a", { href: `#/${entity.segment}/new`, class: "button secondary" }, `New ${lowerFirst(entity.label)}`),
      ),
    );
  }
  return [h("h1", {}, state.model.app), h("p", {}, "Choose the kind of record to work with."), h("ul", { class: "cards" }, items)];
}

async function listView(entity, query) {
  setTitle(entity.plural);
  const offset = Math.max(0, Number.parseInt(query.get("offset") || "0", 10) || 0);
  const filters = new URLSearchParams();
  let filterText = "";
  const parents = await parentTitles(entity);
  for (const field of entity.fields.filter((f) => f.references)) {
    const id = query.get(field.name);
    if (id && /^\d+$/.test(id)) {
      filters.set(field.name, id);
      const title = parents[field.name] && parents[field.name].get(Number(id));
      filterText = `${field.label}: ${title || `#${id}`}`;
    }
  }
  const listQuery = new URLSearchParams(filters);
  listQuery.set("limit", String(PAGE_SIZE + 1));
  listQuery.set("offset", String(offset));
  const answer = await api("GET", `${entity.path}?${listQuery}`);
  const heading = h("h1", {}, entity.plural);
  const filterQuery = filters.toString();
  const newLink = h("a", { href: `#/${entity.segment}/new${filterQuery ? `?${filterQuery}` : ""}`, class: "button" }, `New ${lowerFirst(entity.label)}`);
  if (answer.status !== 200) {
    return [heading, alertBox(errorMessage(answer))];
  }
  const records = answer.data.items.slice(0, PAGE_SIZE);
  const more = answer.data.items.length > PAGE_SIZE;
  const columns = entity.fields.filter((f) => !f.multiline).slice(0, 5);
  const displayField = entity.fields.find((f) => f.name === entity.display);
  const titleLabel = displayField ? displayField.label : entity.label;
  const body = records.map((record) =>
    h(
      "tr",
      {},
      h("td", { "data-label": titleLabel }, h("a", { href: `#/${entity.segment}/${record.id}` }, recordTitle(entity, record))),
      columns
        .filter((field) => field.name !== entity.display)
        .map((field) => h("td", { "data-label": field.label }, formatValue(field, record[field.name], parents))),
      h(
        "td",
        { class: "actions" },
        h("a", { href: `#/${entity.segment}/${record.id}`, class: "button secondary", "aria-label": `Edit ${recordTitle(entity, record)}` }, "Edit"),
        h(
          "button",
          { type: "button", class: "danger", "aria-label": `Delete ${recordTitle(entity, record)}`, onclick: () => removeRecord(entity, record) },
          "Delete",
        ),
      ),
    ),
  );
  const table = records.length
    ? h(
        "table",
        {},
        h("caption", { class: "visually-hidden" }, entity.plural),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "col" }, titleLabel),
            columns.filter((field) => field.name !== entity.display).map((field) => h("th", { scope: "col" }, field.label)),
            h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")),
          ),
        ),
        h("tbody", {}, body),
      )
    : h("p", { class: "empty" }, `No ${entity.plural.toLowerCase()} yet.`);
  const pager = [];
  const pageLink = (to, text) => {
    const target = new URLSearchParams(filters);
    if (to) target.set("offset", String(to));
    const targetQuery = target.toString();
    return h("a", { href: `#/${entity.segment}${targetQuery ? `?${targetQuery}` : ""}`, class: "button secondary" }, text);
  };
  if (offset > 0) pager.push(pageLink(Math.max(0, offset - PAGE_SIZE), "Previous page"));
  if (more) pager.push(pageLink(offset + PAGE_SIZE, "Next page"));
  return [
    heading,
    filterText ? h("p", { class: "filter" }, `Showing ${entity.plural.toLowerCase()} of ${filterText}. `, h("a", { href: `#/${entity.segment}` }, "Show all")) : null,
    h("div", { class: "toolbar" }, newLink),
    h("div", { class: "table-wrap" }, table),
    pager.length ? h("div", { class: "toolbar" }, pager) : null,
  ];
}

async function removeRecord(entity, record, afterwards) {
  const title = recordTitle(entity, record);
  if (!window.confirm(`Delete ${lowerFirst(entity.label)} “${title}”?`)) return;
  const answer = await api("DELETE", `${entity.path}/${record.id}`);
  if (answer.status === 204) {
    go(afterwards || `#/${entity.segment}`, `${entity.label} “${title}” deleted.`);
    return;
  }
  state.notice = "";
  const view = document.getElementById("view");
  view.querySelector(".alert")?.remove();
  view.querySelector("h1").after(alertBox(errorMessage(answer)));
}

function inputFor(field, value, parents, id) {
  const common = { id, name: field.name, "aria-describedby": `${id}-error`, required: field.required };
  if (field.references) {
    const records = (parents[field.name] && parents[field.name].records) || [];
    const parent = entityByName(field.references);
    const select = h(
      "select",
      common,
      h("option", { value: "" }, field.required ? `Choose ${lowerFirst(parent ? parent.label : field.label)}…` : "— none —"),
      records.map((record) => h("option", { value: String(record.id), selected: record.id === value }, recordTitle(parent, record))),
    );
    return select;
  }
  if (field.choices) {
    return h(
      "select",
      common,
      h("option", { value: "" }, field.required ? "Choose…" : "— none —"),
      field.choices.map((choice) => h("option", { value: choice, selected: choice === value }, choice)),
    );
  }
  if (field.type === "boolean") {
    return h("input", { ...common, type: "checkbox", checked: value === true, required: false });
  }
  const text = value === null || value === undefined ? "" : String(value);
  if (field.type === "integer" || field.type === "number") {
    const step = field.type === "integer" ? "1" : field.format === "money" ? "0.01" : "any";
    return h("input", { ...common, type: "number", inputmode: field.type === "integer" ? "numeric" : "decimal", step, min: field.minimum ?? null, value: text });
  }
  if (field.multiline) return h("textarea", { ...common, rows: 3 }, text);
  const types = { date: "date", time: "time", email: "email" };
  if (field.format === "datetime" && (text === "" || /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?$/.test(text))) {
    return h("input", { ...common, type: "datetime-local", step: 1, value: text });
  }
  if (field.format === "date" && text !== "" && !/^\d{4}-\d\d-\d\d$/.test(text)) {
    return h("input", { ...common, type: "text", value: text });
  }
  return h("input", { ...common, type: types[field.format] || "text", value: text });
}

function fieldHint(field) {
  if (field.format === "money" && field.currency) return `Amount in ${field.currency}`;
  if (field.format === "time") return "HH:MM";
  return "";
}

/** The JSON value of one input; undefined leaves the field out of the request. */
function valueOf(field, input, editing) {
  if (field.type === "boolean") return input.checked;
  const raw = input.value.trim();
  if (raw === "") return editing ? null : undefined;
  if (field.references || field.type === "integer") return /^-?\d+$/.test(raw) ? Number(raw) : raw;
  if (field.type === "number") return Number.isFinite(Number(raw)) ? Number(raw) : raw;
  return input.value;
}

async function formView(entity, record, query) {
  const editing = record !== null;
  const title = editing ? recordTitle(entity, record) : `New ${lowerFirst(entity.label)}`;
  setTitle(title);
  const parents = await parentTitles(entity);
  const rows = [];
  const inputs = new Map();
  for (const field of entity.fields) {
    const id = `field-${field.name}`;
    let value = editing ? record[field.name] : null;
    if (!editing && field.references && /^\d+$/.test(query.get(field.name) || "")) value = Number(query.get(field.name));
    const input = inputFor(field, value, parents, id);
    inputs.set(field.name, input);
    const hint = fieldHint(field);
    const label = h("label", { for: id }, field.label, field.required ? h("span", { class: "required", "aria-hidden": "true" }, " *") : null);
    const parent = field.references && entityByName(field.references);
    const help = [];
    if (hint) help.push(h("span", { class: "hint" }, hint));
    if (parent && !(parents[field.name] && parents[field.name].records.length)) {
      help.push(h("span", { class: "hint" }, `No ${parent.plural.toLowerCase()} yet: `, h("a", { href: `#/${parent.segment}/new` }, `add ${lowerFirst(parent.label)}`)));
    }
    const error = h("p", { class: "field-error", id: `${id}-error` });
    rows.push(
      h(
        "div",
        { class: field.type === "boolean" ? "field checkbox" : "field", dataset: { field: field.name } },
        field.type === "boolean" ? [input, label] : [label, input],
        help,
        error,
      ),
    );
  }
  const formError = h("div", { class: "form-error" });
  const submit = h("button", { type: "submit" }, editing ? "Save changes" : `Create ${lowerFirst(entity.label)}`);
  const form = h(
    "form",
    { novalidate: true, "aria-label": title },
    formError,
    rows,
    h("div", { class: "toolbar" }, submit, h("a", { href: `#/${entity.segment}`, class: "button secondary" }, "Cancel")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    for (const element of form.querySelectorAll(".field-error")) element.textContent = "";
    for (const element of form.querySelectorAll("[aria-invalid]")) element.removeAttribute("aria-invalid");
    formError.replaceChildren();
    const payload = {};
    const local = {};
    for (const field of entity.fields) {
      const input = inputs.get(field.name);
      if (input.validity && input.validity.badInput) local[field.name] = "must be a number";
      const value = valueOf(field, input, editing);
      if (value !== undefined) payload[field.name] = value;
    }
    submit.disabled = true;
    let answer;
    try {
      answer = Object.keys(local).length
        ? { status: 400, data: { error: { message: `invalid ${entity.name}`, fields: local } } }
        : await api(editing ? "PUT" : "POST", editing ? `${entity.path}/${record.id}` : entity.path, payload);
    } catch (error) {
      answer = { status: 0, data: { error: { message: `The app could not be reached: ${error.message}` } } };
    } finally {
      submit.disabled = false;
    }
    if (answer.status === 200 || answer.status === 201) {
      go(`#/${entity.segment}`, `${entity.label} “${recordTitle(entity, answer.data)}” ${editing ? "saved" : "created"}.`);
      return;
    }
    const fields = (answer.data && answer.data.error && answer.data.error.fields) || {};
    const unplaced = [];
    let first = null;
    for (const [name, reason] of Object.entries(fields)) {
      const input = inputs.get(name);
      if (!input) {
        unplaced.push(`${name}: ${reason}`);
        continue;
      }
      input.setAttribute("aria-invalid", "true");
      form.querySelector(`#field-${CSS.escape(name)}-error`).textContent = reason;
      first = first || input;
    }
    const what = `The ${lowerFirst(entity.label)} was not ${editing ? "saved" : "created"}`;
    formError.replaceChildren(
      alertBox(
        unplaced.length
          ? `${what}: ${errorMessage(answer)} (${unplaced.join("; ")}).`
          : first
            ? `${what}: correct the fields marked below.`
            : `${what}: ${errorMessage(answer)}`,
      ),
    );
    (first || formError).focus?.();
  });
  const extra = [];
  if (editing) {
    const children = [];
    for (const child of state.model.entities) {
      for (const field of child.fields.filter((f) => f.references === entity.name)) {
        const filter = `${field.name}=${record.id}`;
        children.push(
          h(
            "li",
            {},
            h("a", { href: `#/${child.segment}?${filter}` }, `${child.plural} of this ${lowerFirst(entity.label)}`),
            " · ",
            h("a", { href: `#/${child.segment}/new?${filter}` }, `Add ${lowerFirst(child.label)}`),
          ),
        );
      }
    }
    if (children.length) extra.push(h("section", { "aria-labelledby": "related" }, h("h2", { id: "related" }, "Related records"), h("ul", { class: "related" }, children)));
    extra.push(
      h(
        "section",
        { class: "danger-zone", "aria-label": "Delete" },
        h("button", { type: "button", class: "danger", onclick: () => removeRecord(entity, record) }, `Delete ${lowerFirst(entity.label)}`),
      ),
    );
  }
  return [h("p", { class: "crumbs" }, h("a", { href: `#/${entity.segment}` }, entity.plural)), h("h1", {}, title), form, extra];
}

/** The nodes of the view the hash names (each view reads what it shows first). */
async function viewFor(parts, query) {
  if (parts.length === 0) return homeView();
  const entity = entityBySegment(parts[0]);
  if (!entity) return [h("h1", {}, "Not found"), h("p", {}, "There is no such kind of record. "), h("a", { href: "#/" }, "Home")];
  if (parts.length === 1) return listView(entity, query);
  if (parts[1] === "new") return formView(entity, null, query);
  const answer = await api("GET", `${entity.path}/${encodeURIComponent(parts[1])}`);
  if (answer.status !== 200) return [h("h1", {}, entity.plural), alertBox(errorMessage(answer)), h("a", { href: `#/${entity.segment}` }, `All ${entity.plural.toLowerCase()}`)];
  return formView(entity, answer.data, query);
}

async function render() {
  const serial = ++state.renders;
  const { parts, query } = parseHash();
  let nodes;
  try {
    nodes = await viewFor(parts, query);
  } catch (error) {
    nodes = [h("h1", {}, "Something went wrong"), alertBox(`The app could not be reached: ${error.message}`)];
  }
  // A view whose reads answered late, after the person moved on (a quick second click),
  // must not replace the view they asked for last.
  if (serial === state.renders) show(...nodes);
}

async function start() {
  document.querySelector(".skip").addEventListener("click", (event) => {
    event.preventDefault();
    document.getElementById("main").focus();
  });
  try {
    const answer = await api("GET", "/ui/model.json");
    if (answer.status !== 200) throw new Error(errorMessage(answer));
    state.model = answer.data;
  } catch (error) {
    document.getElementById("view").replaceChildren(alertBox(`The data model could not be loaded: ${error.message}`));
    return;
  }
  window.addEventListener("hashchange", render);
  await render();
}

start();
