// A run: the live task graph (SSE, resuming with Last-Event-ID), the event
// timeline, a task panel with its log, verification, export and preview.
import { ApiError, get, post, streamText } from "./api.js";
import { append, badge, clear, duration, h, notify, when } from "./dom.js";
import { definitionToApiId, TaskGraph } from "./graph.js";
import { go, showError } from "./nav.js";

const FINAL_EVENTS = new Set(["RUN_COMPLETED", "RUN_FAILED", "RUN_CANCELLED"]);
const ACTIVE_RUN = new Set(["pending", "decomposing", "executing", "merging", "verifying"]);
const TASK_PHASE_OF_EVENT = {
  TASK_QUEUED: "queued",
  TASK_STARTED: "running",
  TASK_FAILED: "failed",
  TASK_CANCELLED: "cancelled",
};
const REFETCH_ON = new Set(["PLAN_CREATED", "TASK_QUEUED", "MERGE_COMPLETED", "VERIFICATION_COMPLETED", ...FINAL_EVENTS]);

export async function runPage(main, [projectId, runId]) {
  const base = `/projects/${projectId}/runs/${runId}`;
  const page = new RunView(main, projectId, runId, base);
  await page.load();
  page.follow();
  return () => page.close();
}

class RunView {
  constructor(main, projectId, runId, base) {
    Object.assign(this, { main, projectId, runId, base });
    this.phases = new Map();
    this.seen = new Set();
    this.source = null;
    this.logAbort = null;
    this.openTask = null;
    this.liveFiles = new Map(); // task id -> {created:Set, modified:Set} from events
  }

  async load() {
    this.run = await get(this.base);
    for (const task of this.run.tasks) this.phases.set(task.id, task.status);
    const project = await get(`/projects/${this.projectId}`);
    this.header = h("div", { class: "page-head" });
    this.graphBox = h("div", { class: "graph-box", id: "graph", tabindex: 0, role: "region", "aria-label": "Task graph (scrolls)" });
    this.graph = new TaskGraph(this.graphBox, (id) => this.openPanel(id));
    this.mergeList = h("ol", { id: "merge-order", class: "merge-order" });
    this.timeline = h("ol", { id: "timeline", class: "timeline", tabindex: 0, "aria-label": "Event timeline" });
    this.panel = h("aside", { id: "task-panel", class: "card task-panel", "aria-labelledby": "task-title", hidden: true });
    this.verification = h("div", { id: "verification" });
    this.tools = h("div", { class: "tools" });
    this.streamState = h("span", { id: "stream-state", class: "muted" }, "connecting…");
    this.projectName = project.name;
    append(this.main,
      this.header,
      h(
        "div",
        { class: "run-grid" },
        h(
          "section",
          { class: "card graph-card", "aria-labelledby": "graph-title" },
          h("h2", { id: "graph-title" }, "Task graph ", this.streamState),
          h("p", { class: "legend" }, ["pending", "queued", "running", "succeeded", "failed", "cancelled"].map((p) => badge(p))),
          this.graphBox,
          h("h3", {}, "Merge order"),
          this.mergeList,
        ),
        this.panel,
        h("section", { class: "card", "aria-labelledby": "verify-title" }, h("h2", { id: "verify-title" }, "Verification"), this.verification),
        h("section", { class: "card", "aria-labelledby": "tools-title" }, h("h2", { id: "tools-title" }, "Export and preview"), this.tools),
        h("section", { class: "card timeline-card", "aria-labelledby": "timeline-title" }, h("h2", { id: "timeline-title" }, "Events"), this.timeline),
      ),
    );
    this.renderAll();
  }

  renderAll() {
    this.renderHeader();
    this.renderGraph();
    this.renderVerification();
    this.renderTools();
  }

  renderHeader() {
    const run = this.run;
    const active = ACTIVE_RUN.has(run.status);
    append(clear(this.header),
      h("p", { class: "crumbs" }, h("a", { href: "#/projects" }, "Projects"), " / ", h("a", { href: `#/projects/${this.projectId}` }, this.projectName), " /"),
      h("h1", {}, `Run #${run.runNumber}`),
      h(
        "p",
        {},
        h("span", { id: "run-status" }, badge(run.status)),
        ` ${run.trigger} · started `,
        when(run.startedAt || run.createdAt),
        run.completedAt ? [" · took ", duration(run.startedAt, run.completedAt)] : "",
      ),
      run.message ? h("p", { class: "muted" }, run.message) : "",
      h(
        "div",
        { class: "actions" },
        active
          ? h("button", { type: "button", class: "danger", id: "cancel-run", onclick: () => this.cancel() }, "Cancel run")
          : h("button", { type: "button", class: "secondary", id: "retry-run", onclick: () => this.retry() }, "Retry run"),
        run.mergedCommit
          ? h("a", { class: "button secondary", id: "browse-files", href: `#/projects/${this.projectId}/files?ref=${run.mergedCommit}` }, "Browse files at this run's commit")
          : "",
      ),
    );
  }

  graphTasks() {
    const plan = this.run.tasksJson;
    const order = plan ? plan.mergeOrder.map(definitionToApiId) : [];
    const source = plan && plan.tasks.length ? plan.tasks : this.run.tasks;
    return source.map((task) => {
      const id = definitionToApiId(task.id);
      const brief = this.run.tasks.find((t) => t.id === id);
      const position = order.indexOf(id);
      return {
        id,
        slug: task.slug,
        dependencies: (task.dependencies || []).map(definitionToApiId),
        status: this.phases.get(id) || (brief && brief.status) || "pending",
        mergePosition: position >= 0 ? position + 1 : null,
      };
    });
  }

  graphShape() {
    const plan = this.run.tasksJson;
    return JSON.stringify([plan ? plan.mergeOrder : null, this.run.tasks.map((t) => t.id)]);
  }

  renderGraph() {
    this.drawnShape = this.graphShape();
    const tasks = this.graphTasks();
    if (!tasks.length) {
      append(clear(this.graphBox), h("p", { class: "empty" }, "The plan is being written…"));
      clear(this.mergeList);
      return;
    }
    this.graph.render(tasks);
    append(clear(this.mergeList),
      [...tasks]
        .filter((t) => t.mergePosition)
        .sort((a, b) => a.mergePosition - b.mergePosition)
        .map((t) => h("li", {}, h("button", { type: "button", class: "link", onclick: () => this.openPanel(t.id) }, t.slug), " ", h("span", { class: "muted" }, t.id))),
    );
  }

  renderVerification() {
    const result = this.run.verificationResult;
    // Drawn again only when it changed (replayed events refetch the run often).
    const shape = JSON.stringify([result, ACTIVE_RUN.has(this.run.status)]);
    if (shape === this.verificationShape) return;
    this.verificationShape = shape;
    clear(this.verification);
    if (!result) {
      append(this.verification, h("p", { class: "muted" }, ACTIVE_RUN.has(this.run.status) ? "Runs after the merge." : "No verification result."));
      return;
    }
    const passed = result.exitCode === 0;
    append(this.verification,
      h("p", {}, h("span", { class: `badge phase-${passed ? "succeeded" : "failed"}` }, passed ? "passed" : "failed"), ` exit code ${result.exitCode}`),
    );
    const output = result.output || result.stdout || result.log;
    if (output) append(this.verification, h("pre", { class: "log", tabindex: 0, role: "region", "aria-label": "Verification output" }, output));
    const pre = h("pre", { class: "log", hidden: true, id: "verification-log", tabindex: 0, role: "region", "aria-label": "Verification log" });
    append(this.verification, pre);
    streamText(`${this.base}/verification/logs?tail=200`, (text) => {
      pre.hidden = false;
      append(pre, text);
    }).catch(() => {}); // the verification log route may be absent; the result stands
  }

  renderTools() {
    const run = this.run;
    // Only when the run's status changed: an export or preview under way keeps its output.
    if (run.status === this.toolsStatus) return;
    this.toolsStatus = run.status;
    clear(this.tools);
    if (run.status !== "succeeded") {
      append(this.tools, h("p", { class: "muted" }, "Export and preview are available once the run succeeds."));
      return;
    }
    const format = h("select", { id: "export-format" }, h("option", { value: "zip" }, "zip"), h("option", { value: "tar.gz" }, "tar.gz"));
    const exportOut = h("p", { id: "export-result", role: "status" });
    const deployOut = h("p", { id: "deploy-result", role: "status" });
    append(this.tools,
      h(
        "div",
        { class: "inline-form" },
        h("label", { for: "export-format" }, "Archive format"),
        format,
        h("button", { type: "button", id: "export", onclick: () => this.exportRun(format.value, exportOut) }, "Export"),
      ),
      exportOut,
      h("button", { type: "button", class: "secondary", id: "deploy", onclick: () => this.deploy(deployOut) }, "Deploy a preview"),
      deployOut,
    );
  }

  async exportRun(format, out) {
    const projectBase = `/projects/${this.projectId}`;
    try {
      append(clear(out), "Packing…");
      const created = await post(`${projectBase}/export`, { runId: this.runId, format });
      const status = await waitFor(() => get(`${projectBase}/exports/${created.id}`), (s) => s.status !== "processing", 1000, 120);
      clear(out);
      if (status.status === "completed") {
        append(out, h("a", { href: `/v1${status.downloadUrl}`, id: "download", download: "" }, `Download ${format} (${Math.round(status.sizeBytes / 1024)} KiB)`));
      } else {
        append(out, `Export failed: ${status.error || status.status}`);
      }
    } catch (error) {
      clear(out);
      showError(error);
    }
  }

  async deploy(out) {
    const projectBase = `/projects/${this.projectId}`;
    try {
      append(clear(out), "Deploying…");
      const created = await post(`${projectBase}/deploy`, { runId: this.runId, provider: "kubernetes" });
      const render = (d) => {
        append(clear(out), "Preview: ", badge(d.status), d.url ? [" ", h("a", { href: d.url, target: "_blank", rel: "noopener noreferrer" }, d.url)] : "");
      };
      render({ status: created.status });
      const final = await waitFor(() => get(`${projectBase}/deployments/${created.deploymentId}`), (d) => (render(d), d.status !== "deploying"), 2000, 150);
      render(final);
    } catch (error) {
      clear(out);
      showError(error);
    }
  }

  follow() {
    if (this.closed) return;
    // EventSource sends Last-Event-ID itself when it reconnects after a drop (the
    // server's frames carry ids), so the stream resumes where it stopped.
    const source = new EventSource(`/v1${this.base}/events/stream`);
    this.source = source;
    source.onopen = () => (this.streamState.textContent = "live");
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) this.streamState.textContent = "disconnected";
      else this.streamState.textContent = "reconnecting…";
    };
    const types = ["RUN_STARTED", "PLAN_CREATED", "TASK_QUEUED", "TASK_STARTED", "FILE_CREATED", "FILE_MODIFIED", "TASK_COMPLETED", "TASK_FAILED", "TASK_CANCELLED", "MERGE_STARTED", "MERGE_COMPLETED", "MERGE_CONFLICT", "VERIFICATION_STARTED", "VERIFICATION_COMPLETED", "RUN_COMPLETED", "RUN_FAILED", "RUN_CANCELLED"];
    for (const type of types) source.addEventListener(type, (event) => this.onEvent(type, event));
  }

  onEvent(type, event) {
    if (event.lastEventId && this.seen.has(event.lastEventId)) return;
    if (event.lastEventId) this.seen.add(event.lastEventId);
    let data = {};
    try {
      data = JSON.parse(event.data);
    } catch {
      /* keep the type alone */
    }
    this.addTimeline(type, data, event.lastEventId);
    const taskId = data.taskId;
    if (taskId) {
      let phase = TASK_PHASE_OF_EVENT[type];
      if (type === "TASK_COMPLETED") phase = data.status || "succeeded";
      if (phase) {
        this.phases.set(taskId, phase);
        this.graph.setPhase(taskId, phase);
        if (this.openTask === taskId) this.refreshPanel(taskId, phase);
      }
      if (type === "FILE_CREATED" || type === "FILE_MODIFIED") {
        const files = this.liveFiles.get(taskId) || { created: new Set(), modified: new Set() };
        (type === "FILE_CREATED" ? files.created : files.modified).add(data.path);
        this.liveFiles.set(taskId, files);
        if (this.openTask === taskId) this.renderLiveFiles(taskId);
      }
    }
    if (FINAL_EVENTS.has(type)) {
      this.source.close(); // the stream ends here; do not let EventSource reconnect
      this.streamState.textContent = "finished";
    }
    if (REFETCH_ON.has(type)) this.refetch(type);
  }

  async refetch(type) {
    try {
      this.run = await get(this.base);
      for (const task of this.run.tasks) if (!this.phases.has(task.id) || FINAL_EVENTS.has(type)) this.phases.set(task.id, task.status);
      // The plan (and the Task objects) may land after PLAN_CREATED: draw again
      // whenever the shape changed; phases alone only recolour nodes.
      if (this.graphShape() !== this.drawnShape) this.renderGraph();
      this.renderHeader();
      this.renderVerification();
      this.renderTools();
    } catch (error) {
      showError(error);
    }
  }

  addTimeline(type, data, id) {
    const detail = [data.taskId, data.slug, data.path, data.status, data.message || data.reason].filter(Boolean).join(" · ");
    append(this.timeline, h("li", { class: `event ev-${type}`, dataset: { eventId: id || "" } }, h("code", {}, type), detail ? ` ${detail}` : ""));
    this.timeline.scrollTop = this.timeline.scrollHeight;
  }

  async openPanel(taskId) {
    this.openTask = taskId;
    this.panel.hidden = false;
    await this.refreshPanel(taskId);
    const title = this.panel.querySelector("h2");
    if (title) {
      title.tabIndex = -1;
      title.focus();
    }
  }

  async refreshPanel(taskId, phase) {
    if (this.logAbort) this.logAbort.abort();
    let task;
    try {
      task = await get(`${this.base}/tasks/${taskId}`);
    } catch (error) {
      showError(error);
      return;
    }
    if (this.openTask !== taskId) return;
    const status = phase || task.status;
    const result = task.result || {};
    this.filesBox = h("div", { id: "task-files" });
    const log = h("pre", { class: "log", id: "task-log", tabindex: 0, role: "region", "aria-label": "Task log" });
    const logState = h("p", { class: "muted", id: "task-log-state" });
    append(clear(this.panel),
      h("div", { class: "panel-head" }, h("h2", { id: "task-title" }, task.slug), h("button", { type: "button", class: "link", onclick: () => this.closePanel(), "aria-label": "Close the task panel" }, "Close")),
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "Status"), h("dd", { id: "task-status" }, badge(status)),
        h("dt", {}, "Task"), h("dd", {}, task.id),
        h("dt", {}, "Branch"), h("dd", {}, h("code", {}, task.branchName || "—")),
        h("dt", {}, "Attempts"), h("dd", {}, String(task.attempts ?? "—")),
        h("dt", {}, "Duration"), h("dd", {}, duration(task.startedAt, task.completedAt) || "—"),
        h("dt", {}, "Commit"), h("dd", {}, h("code", {}, result.commitSha ? result.commitSha.slice(0, 12) : "—")),
      ),
      task.definition && task.definition.description ? h("p", {}, task.definition.description) : "",
      task.message ? h("p", { class: "muted" }, task.message) : "",
      this.filesBox,
      h("h3", {}, "Log"),
      logState,
      log,
    );
    this.renderFiles(task);
    this.followLog(task, status, log, logState);
  }

  renderFiles(task) {
    const result = task.result;
    clear(this.filesBox);
    if (!result) {
      this.renderLiveFiles(task.id);
      return;
    }
    const link = (path) => h("li", {}, h("a", { href: `#/projects/${this.projectId}/files?ref=${result.commitSha}&file=${encodeURIComponent(path)}` }, path));
    append(this.filesBox,
      h("h3", {}, `Files created (${result.filesCreated.length})`),
      h("ul", { class: "files", id: "files-created" }, result.filesCreated.map(link)),
      h("h3", {}, `Files modified (${result.filesModified.length})`),
      h("ul", { class: "files", id: "files-modified" }, result.filesModified.map(link)),
    );
  }

  renderLiveFiles(taskId) {
    const files = this.liveFiles.get(taskId);
    if (!files || !this.filesBox) return;
    append(clear(this.filesBox),
      h("h3", {}, `Files created so far (${files.created.size})`),
      h("ul", { class: "files" }, [...files.created].map((p) => h("li", {}, p))),
      h("h3", {}, `Files modified so far (${files.modified.size})`),
      h("ul", { class: "files" }, [...files.modified].map((p) => h("li", {}, p))),
    );
  }

  followLog(task, status, log, logState) {
    const running = status === "running" || status === "queued";
    const abort = new AbortController();
    this.logAbort = abort;
    logState.textContent = running ? "following…" : "";
    const path = `${this.base}/tasks/${task.id}/logs${running ? "?follow=true" : ""}`;
    streamText(path, (text) => {
      const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
      append(log, text);
      if (atEnd) log.scrollTop = log.scrollHeight;
    }, abort.signal)
      .then((headers) => {
        const attempt = headers.get("X-Prazium-Attempt");
        const truncated = headers.get("X-Prazium-Log-Truncated") === "true";
        logState.textContent = `${attempt ? `attempt ${attempt}` : ""}${truncated ? " · truncated" : ""}${running ? " · ended" : ""}`;
        if (!log.textContent) log.textContent = "(empty log)";
      })
      .catch((error) => {
        if (abort.signal.aborted) return;
        logState.textContent = error instanceof ApiError && error.status === 404 ? `No log: ${error.message}` : `Log unavailable: ${error.message}`;
      });
  }

  closePanel() {
    if (this.logAbort) this.logAbort.abort();
    this.openTask = null;
    this.panel.hidden = true;
    const node = this.graphBox.querySelector("g.node");
    if (node) node.focus();
  }

  async cancel() {
    try {
      await post(`${this.base}/cancel`);
      notify("Run cancelled.");
      this.refetch("RUN_CANCELLED");
    } catch (error) {
      showError(error);
    }
  }

  async retry() {
    try {
      const run = await post(`${this.base}/retry`);
      go(`#/projects/${this.projectId}/runs/${run.id}`);
    } catch (error) {
      showError(error);
    }
  }

  close() {
    this.closed = true;
    if (this.source) this.source.close();
    if (this.logAbort) this.logAbort.abort();
  }
}

async function waitFor(fetchOnce, done, intervalMs, tries) {
  let last;
  for (let i = 0; i < tries; i += 1) {
    last = await fetchOnce();
    if (done(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  return last;
}
