// A project's previews (GET /projects/{id}/deployments), or one run's: status, link,
// age, when it expires, the run it came from, and Stop. Shown on the run page and the
// project page; polled while a preview is deploying or live, so a preview turning
// live, failing or expiring shows without a reload.
import { del, get, query, unreachable } from "./api.js";
import { ago, append, badge, clear, h, notify, plural } from "./dom.js";
import { showError } from "./nav.js";

const POLL_MS = 4000;
// Polls that may miss in a row while the API is unreachable (a restart) before the
// failure is shown: about half a minute.
const POLL_MISSES = 8;

export class PreviewsView {
  // runId: only that run's previews (the run page); runNumbers: run id -> number, for
  // the Run column of the project page (a run not in it shows its id).
  constructor(projectId, { runId = null, runNumbers = null } = {}) {
    Object.assign(this, { projectId, runId, runNumbers });
    this.node = h("div", { class: "previews", id: "previews" });
    this.timer = null;
    this.misses = 0;
    this.closed = false;
  }

  async load() {
    let result;
    try {
      result = await get(`/projects/${this.projectId}/deployments${query({ runId: this.runId, pageSize: 20 })}`, { whole: true });
    } catch (error) {
      if (unreachable(error) && this.timer !== null && this.misses < POLL_MISSES) {
        this.misses += 1;
        this.schedule(true);
        return;
      }
      showError(error);
      return;
    }
    this.misses = 0;
    if (this.closed) return;
    this.render(result.data, result.pagination);
    this.schedule(result.data.some((d) => d.status === "deploying" || d.status === "live"));
  }

  schedule(again) {
    clearTimeout(this.timer);
    this.timer = again && !this.closed ? setTimeout(() => this.load(), POLL_MS) : null;
  }

  render(previews, pagination) {
    clear(this.node);
    if (!previews.length) {
      append(this.node, h("p", { class: "empty" }, this.runId ? "This run has no preview." : "No previews yet."));
      return;
    }
    const columns = ["Preview", ...(this.runId ? [] : ["Run"]), "Status", "Address", "Age", "Expires", "Actions"];
    const rows = previews.map((d) => this.row(d));
    append(this.node,
      h(
        "div",
        { class: "table-wrap", tabindex: 0, role: "region", "aria-label": "Previews (scrolls sideways)" },
        h(
          "table",
          { class: "stack", id: "previews-table" },
          h("caption", { class: "visually-hidden" }, "Previews"),
          h("thead", {}, h("tr", {}, columns.map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", {}, rows),
        ),
      ),
      pagination.total > previews.length ? h("p", { class: "muted" }, `The newest ${previews.length} of ${plural(pagination.total, "preview")}.`) : "",
    );
  }

  row(d) {
    const cell = (label, ...content) => h("td", { dataset: { label } }, ...content);
    const runCell = () => {
      const number = this.runNumbers && this.runNumbers.get(d.runId);
      return cell("Run", h("a", { href: `#/projects/${this.projectId}/runs/${d.runId}` }, number ? `Run #${number}` : d.runId));
    };
    const expires =
      d.status === "stopped"
        ? [d.message ? h("span", {}, d.message) : "stopped", d.stoppedAt ? [" ", ago(d.stoppedAt)] : ""]
        : ago(d.expiresAt);
    return h(
      "tr",
      { dataset: { deploymentId: d.id, status: d.status } },
      cell("Preview", h("code", {}, d.id)),
      this.runId ? "" : runCell(),
      cell("Status", badge(d.status), d.status === "failed" && d.message ? h("span", { class: "muted" }, ` ${d.message}`) : ""),
      cell("Address", d.url ? h("a", { href: d.url, target: "_blank", rel: "noopener noreferrer", class: "preview-url" }, d.url) : h("span", { class: "muted" }, d.status === "deploying" ? "starting…" : "—")),
      cell("Age", ago(d.createdAt)),
      cell("Expires", expires),
      cell(
        "Actions",
        d.status === "stopped"
          ? ""
          : h("button", { type: "button", class: "secondary", "aria-label": `Stop preview ${d.id}`, onclick: () => this.stop(d) }, "Stop"),
      ),
    );
  }

  async stop(preview) {
    if (!window.confirm(`Stop preview ${preview.id}? Its app and the data it holds are removed.`)) return;
    try {
      await del(`/projects/${this.projectId}/deployments/${preview.id}`);
      notify(`Stopped preview ${preview.id}.`);
    } catch (error) {
      showError(error);
    }
    await this.load();
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
  }
}
