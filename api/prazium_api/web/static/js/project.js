// One project: the spec flow (questions, the four documents, approve, regenerate),
// its runs (start, cancel, retry) and its previews; archive and unarchive.
import { del, get, post } from "./api.js";
import { append, badge, clear, duration, h, notify, plural, when } from "./dom.js";
import { go, rerender, showError } from "./nav.js";
import { PreviewsView } from "./previews.js";

const DOCUMENTS = ["SPEC.md", "ACCEPTANCE.md", "ROUTES.md", "DATA.md"];
const ACTIVE_RUN = new Set(["pending", "decomposing", "executing", "merging", "verifying"]);

export async function projectPage(main, [projectId]) {
  const project = await get(`/projects/${projectId}`);
  const refresh = () => window.dispatchEvent(new HashChangeEvent("hashchange"));
  const archived = project.status === "archived";
  append(main,
    h(
      "div",
      { class: "page-head" },
      h("p", { class: "crumbs" }, h("a", { href: "#/projects" }, "Projects"), " / "),
      h("h1", {}, project.name),
      h("p", {}, badge(project.status), " ", h("span", { class: "muted" }, project.id)),
      h("p", { class: "description" }, project.description),
      project.message ? h("p", { class: "muted" }, project.message) : "",
      h(
        "div",
        { class: "actions" },
        h("a", { class: "button secondary", href: `#/projects/${projectId}/files` }, "Browse files"),
        archived
          ? h(
              "button",
              {
                type: "button",
                id: "unarchive",
                onclick: async (event) => {
                  event.target.disabled = true;
                  try {
                    const back = await post(`/projects/${projectId}/unarchive`);
                    notify(`Unarchived ${project.name} (${back.status}).`);
                  } catch (error) {
                    showError(error);
                  }
                  rerender();
                },
              },
              "Unarchive project",
            )
          : h(
              "button",
              {
                type: "button",
                class: "danger",
                onclick: async () => {
                  if (!window.confirm(`Archive (delete) project “${project.name}”?`)) return;
                  try {
                    await del(`/projects/${projectId}`);
                    notify(`Archived ${project.name}.`);
                    go("#/projects");
                  } catch (error) {
                    showError(error);
                  }
                },
              },
              "Archive project",
            ),
      ),
    ),
  );
  if (!archived) append(main, specSection(project, refresh));
  const runs = await get(`/projects/${projectId}/runs?pageSize=20`);
  append(main, runsSection(project, runs, refresh));
  const previews = new PreviewsView(projectId, { runNumbers: new Map(runs.map((r) => [r.id, r.runNumber])) });
  append(main, h("section", { class: "card", "aria-labelledby": "previews-title" }, h("h2", { id: "previews-title" }, "Previews"), previews.node));
  await previews.load();
  return () => previews.close();
}

function specSection(project, refresh) {
  const section = h("section", { class: "card", "aria-labelledby": "spec-title" }, h("h2", { id: "spec-title" }, "Specification"));
  const base = `/projects/${project.id}`;
  if (!project.spec && !(project.questions && project.questions.length)) {
    append(section,
      h("p", {}, "Prazium asks a few clarifying questions before writing the spec."),
      h(
        "button",
        {
          type: "button",
          id: "clarify",
          onclick: async (event) => {
            event.target.disabled = true;
            try {
              await post(`${base}/clarify`);
              refresh();
            } catch (error) {
              showError(error); // e.g. the operator is slow: the page shows what it has now
              rerender();
            }
          },
        },
        "Get clarifying questions",
      ),
    );
    return section;
  }
  if (project.questions && project.questions.length && (project.status === "clarifying" || !project.spec)) {
    append(section, questionsForm(project, refresh));
    return section;
  }
  if (project.spec) append(section, specDocuments(project, refresh));
  return section;
}

function questionsForm(project, refresh) {
  const answers = new Map((project.answers || []).map((a) => [a.questionId, a.answer]));
  const fields = project.questions.map((q) => questionField(q, answers.get(q.id)));
  const form = h(
    "form",
    { id: "questions", "aria-labelledby": "questions-title" },
    h("h3", { id: "questions-title" }, "Clarifying questions"),
    h("p", { class: "muted", id: "questions-count" }, `${plural(fields.length, "question")} before the spec is written.`),
    fields.map((f) => f.node),
    h("button", { type: "submit" }, "Submit answers"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const submit = form.querySelector("button[type=submit]");
    submit.disabled = true;
    submit.textContent = "Writing the spec…";
    try {
      await post(`/projects/${project.id}/answers`, {
        answers: fields.map((f) => ({ questionId: f.id, answer: f.value() })),
      });
      refresh();
    } catch (error) {
      showError(error);
      rerender();
    }
  });
  return form;
}

function questionField(question, previous) {
  const id = `q-${question.id}`;
  const options = question.options || [];
  if (question.type === "text") {
    const input = h("textarea", { id, name: question.id, rows: 2 }, typeof previous === "string" ? previous : "");
    return {
      id: question.id,
      node: h("div", { class: "question", dataset: { type: "text" } }, h("label", { for: id }, question.question), input),
      value: () => input.value.trim(),
    };
  }
  const multi = question.type === "multi_choice";
  const choices = question.type === "boolean" ? [["Yes", true], ["No", false]] : options.map((o) => [o, o]);
  const inputs = choices.map(([label, value], index) => {
    const checked = multi ? Array.isArray(previous) && previous.includes(value) : previous === value || (previous === undefined && index === 0 && !multi);
    const input = h("input", {
      type: multi ? "checkbox" : "radio",
      name: question.id,
      id: `${id}-${index}`,
      value: String(value),
      checked,
      required: !multi,
    });
    return { input, value, node: h("div", { class: "choice" }, input, h("label", { for: `${id}-${index}` }, label)) };
  });
  return {
    id: question.id,
    node: h(
      "fieldset",
      { class: "question", dataset: { type: question.type } },
      h("legend", {}, question.question, multi ? h("span", { class: "muted" }, " (choose any)") : ""),
      inputs.map((i) => i.node),
    ),
    value: () => {
      const picked = inputs.filter((i) => i.input.checked).map((i) => i.value);
      return multi ? picked : picked[0];
    },
  };
}

function renderMarkdown(text) {
  // html: false escapes any HTML in the documents; markdown-it also refuses
  // javascript:/data: links (validateLink).
  const md = window.markdownit({ html: false, linkify: true, typographer: false });
  const container = h("div", { class: "markdown" });
  container.innerHTML = md.render(text || "");
  for (const link of container.querySelectorAll("a")) link.setAttribute("rel", "noopener noreferrer");
  return container;
}

function specDocuments(project, refresh) {
  const spec = project.spec;
  const base = `/projects/${project.id}`;
  const panels = h("div", { class: "doc-panel" });
  const tabs = DOCUMENTS.filter((name) => name in spec.documents);
  const buttons = tabs.map((name, index) =>
    h(
      "button",
      {
        type: "button",
        role: "tab",
        id: `tab-${index}`,
        "aria-controls": "doc-view",
        "aria-selected": index === 0 ? "true" : "false",
        tabindex: index === 0 ? "0" : "-1",
        onclick: () => show(index),
        onkeydown: (event) => {
          const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
          if (step) {
            const next = (index + step + tabs.length) % tabs.length;
            show(next);
            buttons[next].focus();
          }
        },
      },
      name,
    ),
  );
  function show(index) {
    buttons.forEach((b, i) => {
      b.setAttribute("aria-selected", i === index ? "true" : "false");
      b.tabIndex = i === index ? 0 : -1;
    });
    clear(panels);
    panels.setAttribute("aria-labelledby", `tab-${index}`);
    append(panels, renderMarkdown(spec.documents[tabs[index]]));
  }
  panels.id = "doc-view";
  panels.setAttribute("role", "tabpanel");
  panels.tabIndex = 0;
  show(0);

  const feedback = h("textarea", { id: "feedback", name: "feedback", rows: 2 });
  const regenerate = h(
    "form",
    { id: "regenerate", class: "inline-form" },
    h("label", { for: "feedback" }, "Feedback for a new version"),
    feedback,
    h("button", { type: "submit", class: "secondary" }, "Regenerate spec"),
  );
  regenerate.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = regenerate.querySelector("button");
    button.disabled = true;
    button.textContent = "Writing a new version…";
    try {
      const text = feedback.value.trim();
      await post(`${base}/regenerate`, text ? { feedback: text } : {});
      notify("A new version of the spec was written.");
      rerender();
    } catch (error) {
      showError(error);
      rerender();
    }
  });
  const canApprove = project.status === "spec_review";
  return h(
    "div",
    { id: "spec" },
    h(
      "p",
      {},
      h("strong", { id: "spec-version" }, `Spec version ${spec.version}`),
      spec.approvedAt ? [" · approved ", when(spec.approvedAt)] : " · awaiting review",
    ),
    h("div", { role: "tablist", class: "tabs", "aria-label": "Spec documents" }, buttons),
    panels,
    h(
      "div",
      { class: "actions" },
      canApprove
        ? h(
            "button",
            {
              type: "button",
              id: "approve",
              onclick: async () => {
                try {
                  await post(`${base}/approve`);
                  notify("Spec approved.");
                  rerender();
                } catch (error) {
                  showError(error);
                }
              },
            },
            "Approve spec",
          )
        : "",
    ),
    ["spec_review", "approved", "built", "failed"].includes(project.status) ? regenerate : "",
  );
}

function runsSection(project, runs, refresh) {
  const base = `/projects/${project.id}`;
  const canStart = ["approved", "built", "failed"].includes(project.status);
  const section = h(
    "section",
    { class: "card", "aria-labelledby": "runs-title" },
    h("h2", { id: "runs-title" }, "Runs"),
    canStart
      ? h(
          "button",
          {
            type: "button",
            id: "start-run",
            onclick: async () => {
              try {
                const run = await post(`${base}/runs`, { trigger: "manual" });
                go(`#/projects/${project.id}/runs/${run.id}`);
              } catch (error) {
                showError(error);
              }
            },
          },
          "Start a run",
        )
      : "",
  );
  if (!runs.length) {
    append(section, h("p", { class: "empty" }, "No runs yet."));
    return section;
  }
  const action = (label, path, then) =>
    h(
      "button",
      {
        type: "button",
        class: "secondary",
        onclick: async () => {
          try {
            then(await post(path));
          } catch (error) {
            showError(error);
          }
        },
      },
      label,
    );
  const cell = (label, ...content) => h("td", { dataset: { label } }, ...content);
  const rows = runs.map((run) =>
    h(
      "tr",
      { dataset: { runId: run.id } },
      cell("Run", h("a", { href: `#/projects/${project.id}/runs/${run.id}` }, `Run #${run.runNumber}`)),
      cell("Status", badge(run.status)),
      cell("Tasks", `${run.tasksSummary.succeeded} of ${plural(run.tasksSummary.total, "task")} succeeded`),
      cell("Started", when(run.startedAt || run.createdAt)),
      cell(
        "Duration",
        h(
          "span",
          { class: "run-duration" },
          run.startedAt ? (run.completedAt ? duration(run.startedAt, run.completedAt) : `${duration(run.startedAt)} so far`) : "—",
        ),
      ),
      h(
        "td",
        { class: "actions", dataset: { label: "Actions" } },
        ACTIVE_RUN.has(run.status)
          ? action("Cancel", `${base}/runs/${run.id}/cancel`, () => refresh())
          : action("Retry", `${base}/runs/${run.id}/retry`, (r) => go(`#/projects/${project.id}/runs/${r.id}`)),
        run.status === "succeeded" ? h("a", { href: `#/projects/${project.id}/files?run=${run.id}`, "aria-label": `Files of run #${run.runNumber}` }, "Files") : "",
      ),
    ),
  );
  append(section,
    h(
      "div",
      { class: "table-wrap", tabindex: 0, role: "region", "aria-label": "Table (scrolls sideways)" },
      h(
        "table",
        { class: "stack", id: "runs-table" },
        h("caption", { class: "visually-hidden" }, "Runs"),
        h("thead", {}, h("tr", {}, ["Run", "Status", "Tasks", "Started", "Duration", "Actions"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, rows),
      ),
    ),
  );
  return section;
}
