// A run: the live task graph (SSE, resuming with Last-Event-ID), the event
// timeline, a task panel with its log (its own URL: #/projects/P/runs/R/tasks/T),
// verification, and the run's exports and preview.
//
// Task durations come from one source, the journal: a task's TASK_COMPLETED carries
// the attempt's duration as its worker measured it (the figure its log's last line
// gives too); a failed or cancelled task's is the time between its TASK_STARTED and
// its end event. The tasks' startedAt/completedAt are whole seconds, too coarse for
// tasks that take less than one.
import { ApiError, get, post, query, streamText, unreachable } from "./api.js";
import { ago, append, badge, clear, clock, commitHash, duration, h, notify, seconds, usageText, when } from "./dom.js";
import { definitionToApiId, TaskGraph } from "./graph.js";
import { LogView } from "./logview.js";
import { go, showError } from "./nav.js";
import { PreviewsView } from "./previews.js";

const FINAL_EVENTS = new Set(["RUN_COMPLETED", "RUN_FAILED", "RUN_CANCELLED"]);
const ACTIVE_RUN = new Set(["pending", "decomposing", "executing", "merging", "verifying"]);
const TASK_PHASE_OF_EVENT = {
  TASK_QUEUED: "queued",
  TASK_STARTED: "running",
  TASK_FAILED: "failed",
  TASK_CANCELLED: "cancelled",
};
const TASK_END_EVENTS = new Set(["TASK_COMPLETED", "TASK_FAILED", "TASK_CANCELLED"]);
// Up to about half a minute (1+2+4+8+8+8 s) before a failed refetch is an error.
const REFETCH_RETRIES = 6;
const REFETCH_ON = new Set(["PLAN_CREATED", "TASK_QUEUED", "TASK_REUSED", "REPAIR_STARTED", "MERGE_COMPLETED", "VERIFICATION_COMPLETED", ...FINAL_EVENTS]);
const EVENT_TYPES = ["RUN_STARTED", "PLAN_CREATED", "TASK_QUEUED", "TASK_STARTED", "FILE_CREATED", "FILE_MODIFIED", "TASK_COMPLETED", "TASK_FAILED", "TASK_CANCELLED", "MERGE_STARTED", "MERGE_COMPLETED", "MERGE_CONFLICT", "VERIFICATION_STARTED", "VERIFICATION_COMPLETED", "REPAIR_STARTED", "TASK_REUSED", "RUN_COMPLETED", "RUN_FAILED", "RUN_CANCELLED"];

export async function runPage(main, [projectId, runId, taskId]) {
  const base = `/projects/${projectId}/runs/${runId}`;
  const page = new RunView(main, projectId, runId, base);
  await page.load();
  page.follow();
  if (taskId) page.openPanel(taskId, { fromUrl: true });
  return {
    leave: () => page.close(),
    // The same run at another URL: its task panel opened, switched or closed.
    update: ([, , nextTask]) => (nextTask ? page.openPanel(nextTask, { fromUrl: true }) : page.closePanel({ fromUrl: true })),
  };
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
    this.timing = new Map(); // task id -> {startedAt, endedAt, seconds} from the journal
    this.ticker = null;
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
    this.panel = h("aside", {
      id: "task-panel",
      class: "card task-panel",
      "aria-labelledby": "task-title",
      hidden: true,
      onkeydown: (event) => {
        if (event.key === "Escape") this.closePanel();
      },
    });
    this.verification = h("div", { id: "verification" });
    this.tools = h("div", { class: "tools", id: "outputs" });
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

  taskUrl(taskId) {
    return `#/projects/${this.projectId}/runs/${this.runId}/tasks/${taskId}`;
  }

  runUrl() {
    return `#/projects/${this.projectId}/runs/${this.runId}`;
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
    const version = run.specSnapshot && run.specSnapshot.version;
    append(clear(this.header),
      h("p", { class: "crumbs" }, h("a", { href: "#/projects" }, "Projects"), " / ", h("a", { href: `#/projects/${this.projectId}` }, this.projectName), " /"),
      h("h1", {}, `Run #${run.runNumber}`),
      h(
        "p",
        {},
        h("span", { id: "run-status" }, badge(run.status)),
        ` ${run.trigger} · started `,
        when(run.startedAt || run.createdAt),
        run.completedAt ? [" · took ", h("span", { id: "run-duration" }, duration(run.startedAt, run.completedAt))] : "",
        version ? [" · ", h("span", { id: "run-spec-version" }, `spec version ${version}`)] : "",
        run.usage ? [" · ", h("span", { id: "run-usage" }, usageText(run.usage))] : "",
      ),
      run.message ? h("p", { class: "muted" }, run.message) : "",
      h(
        "div",
        { class: "actions" },
        active
          ? h("button", { type: "button", class: "danger", id: "cancel-run", onclick: () => this.cancel() }, "Cancel run")
          : h("button", { type: "button", class: "secondary", id: "retry-run", onclick: () => this.retry() }, "Retry run"),
        run.mergedCommit
          ? h("a", { class: "button secondary", id: "browse-files", href: `#/projects/${this.projectId}/files?run=${this.runId}` }, "Browse files at this run's commit")
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
        reused: Boolean(brief && brief.reusedFrom),
        repair: task.role === "repair" || Boolean(brief && brief.role === "repair"),
        duration: this.durationText(id),
      };
    });
  }

  graphShape() {
    const plan = this.run.tasksJson;
    return JSON.stringify([plan ? plan.mergeOrder : null, this.run.tasks.map((t) => [t.id, t.reusedFrom || ""])]);
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
        .map((t) => h("li", {}, h("a", { href: this.taskUrl(t.id) }, t.slug), " ", h("span", { class: "muted" }, t.id))),
    );
  }

  // A task's duration as the journal tells it (see the top of this file); while it
  // runs, the time since it started. "" when the journal has nothing on it yet.
  durationSeconds(taskId) {
    const t = this.timing.get(taskId);
    if (!t || !t.startedAt) return null;
    if (t.seconds !== null) return t.seconds;
    if (t.endedAt) return (new Date(t.endedAt) - new Date(t.startedAt)) / 1000;
    return this.phases.get(taskId) === "running" ? Math.max(0, Math.round((Date.now() - new Date(t.startedAt)) / 1000)) : null;
  }

  durationText(taskId) {
    const value = this.durationSeconds(taskId);
    return value === null ? "" : seconds(value);
  }

  noteTiming(type, taskId, data) {
    const at = data.createdAt;
    if (type === "TASK_STARTED") {
      // A retry starts again: its attempt is the one the panel and the log show.
      this.timing.set(taskId, { startedAt: at, endedAt: null, seconds: null });
    } else if (TASK_END_EVENTS.has(type)) {
      const t = this.timing.get(taskId) || { startedAt: null, endedAt: null, seconds: null };
      t.endedAt = at;
      if (typeof data.durationSeconds === "number") t.seconds = data.durationSeconds;
      this.timing.set(taskId, t);
    } else {
      return;
    }
    this.graph.setDuration(taskId, this.durationText(taskId));
    this.tick();
  }

  // While a task runs, its node (and open panel) count the seconds.
  tick() {
    const running = [...this.phases].some(([id, phase]) => phase === "running" && this.timing.has(id));
    if (running && !this.ticker && !this.closed) {
      this.ticker = setInterval(() => {
        for (const [id, phase] of this.phases) if (phase === "running") this.graph.setDuration(id, this.durationText(id));
        if (this.openTask) this.renderPanelDuration(this.openTask);
        if (![...this.phases.values()].includes("running")) this.stopTicker();
      }, 1000);
    } else if (!running) {
      this.stopTicker();
    }
  }

  stopTicker() {
    clearInterval(this.ticker);
    this.ticker = null;
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
      h(
        "p",
        {},
        h("span", { class: `badge phase-${passed ? "succeeded" : "failed"}` }, passed ? "passed" : "failed"),
        ` exit code ${result.exitCode}`,
        typeof result.durationSeconds === "number" ? ` · took ${seconds(result.durationSeconds)}` : "",
      ),
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
    if (this.previews) this.previews.close();
    this.previews = null;
    if (run.status !== "succeeded") {
      append(this.tools, h("p", { class: "muted" }, "Export and preview are available once the run succeeds."));
      return;
    }
    const format = h("select", { id: "export-format" }, h("option", { value: "zip" }, "zip"), h("option", { value: "tar.gz" }, "tar.gz"));
    const exportOut = h("p", { id: "export-result", role: "status" });
    const deployOut = h("p", { id: "deploy-result", role: "status" });
    this.exportList = h("div", { id: "exports" });
    this.previews = new PreviewsView(this.projectId, { runId: this.runId });
    append(this.tools,
      h(
        "div",
        { class: "inline-form" },
        h("label", { for: "export-format" }, "Archive format"),
        format,
        h("button", { type: "button", id: "export", onclick: () => this.exportRun(format.value, exportOut) }, "Export"),
      ),
      exportOut,
      h("h3", {}, "Exports"),
      this.exportList,
      h("h3", {}, "Preview"),
      h("p", { class: "muted" }, "One preview per run: deploying again opens the one it has. Its data lasts until it is stopped or expires."),
      h("button", { type: "button", class: "secondary", id: "deploy", onclick: () => this.deploy(deployOut) }, "Deploy a preview"),
      deployOut,
      this.previews.node,
    );
    this.loadExports();
    this.previews.load();
  }

  async loadExports() {
    let exports;
    try {
      exports = await get(`/projects/${this.projectId}/exports${query({ runId: this.runId, pageSize: 10 })}`);
    } catch (error) {
      showError(error);
      return;
    }
    clear(this.exportList);
    if (!exports.length) {
      append(this.exportList, h("p", { class: "empty" }, "No exports of this run yet."));
      return;
    }
    append(this.exportList,
      h(
        "ul",
        { class: "plain", id: "export-list" },
        exports.map((e) =>
          h(
            "li",
            { dataset: { exportId: e.id, status: e.status } },
            e.status === "completed"
              ? h("a", { href: `/v1${e.downloadUrl}`, download: "", class: "download" }, `Download ${e.format} (${Math.round(e.sizeBytes / 1024)} KiB)`)
              : [badge(e.status), ` ${e.format}`, e.error ? h("span", { class: "muted" }, ` ${e.error}`) : ""],
            " · made ",
            ago(e.createdAt),
            e.expiresAt ? [" · kept until ", when(e.expiresAt)] : "",
          ),
        ),
      ),
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
      this.loadExports();
    } catch (error) {
      clear(out);
      showError(error);
    }
  }

  async deploy(out) {
    try {
      append(clear(out), "Deploying…");
      const created = await post(`/projects/${this.projectId}/deploy`, { runId: this.runId, provider: "kubernetes" });
      const known = this.previews.node.querySelector(`tr[data-deployment-id="${created.deploymentId}"]`);
      append(clear(out), known ? `This run's preview is ${created.deploymentId} (${created.status}).` : `Preview ${created.deploymentId} is ${created.status}.`);
      await this.previews.load();
    } catch (error) {
      clear(out);
      showError(error);
    }
  }

  follow() {
    if (this.closed) return;
    // EventSource sends Last-Event-ID itself when it reconnects after a drop (the
    // server's frames carry ids), so the stream resumes where it stopped. With
    // timestamps each event's data carries its createdAt (an API extension).
    const source = new EventSource(`/v1${this.base}/events/stream?timestamps=true`);
    this.source = source;
    source.onopen = () => (this.streamState.textContent = "live");
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) this.streamState.textContent = "disconnected";
      else this.streamState.textContent = "reconnecting…";
    };
    for (const type of EVENT_TYPES) source.addEventListener(type, (event) => this.onEvent(type, event));
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
      }
      this.noteTiming(type, taskId, data);
      if (phase && this.openTask === taskId) this.refreshPanel(taskId);
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

  // Called on events; tried again with a growing pause while the API is unreachable
  // (a restart drops the stream as well, and the events that land around it must
  // still redraw the run), shown as an error only when it stays unreachable.
  async refetch(type, attempt = 0) {
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
      if (unreachable(error) && !this.closed && attempt < REFETCH_RETRIES) {
        setTimeout(() => this.refetch(type, attempt + 1), Math.min(1000 * 2 ** attempt, 8000));
        return;
      }
      showError(error);
    }
  }

  addTimeline(type, data, id) {
    const detail = [data.taskId, data.slug, data.path, data.status, data.message || data.reason || data.error].filter(Boolean).join(" · ");
    append(this.timeline,
      h("li", { class: `event ev-${type}`, dataset: { eventId: id || "" } }, clock(data.createdAt), data.createdAt ? " " : "", h("code", {}, type), detail ? ` ${detail}` : ""),
    );
    this.timeline.scrollTop = this.timeline.scrollHeight;
  }

  // Open a task's panel. Called with the task's URL (fromUrl); a click on a node
  // changes the URL instead, which calls this back.
  async openPanel(taskId, { fromUrl = false } = {}) {
    if (!fromUrl && location.hash !== this.taskUrl(taskId)) {
      location.hash = this.taskUrl(taskId); // the shell calls back with fromUrl
      return;
    }
    this.openTask = taskId;
    this.panel.hidden = false;
    this.panel.classList.add("open");
    await this.refreshPanel(taskId);
    const title = this.panel.querySelector("h2");
    if (title && this.openTask === taskId) {
      title.tabIndex = -1;
      title.focus();
    }
  }

  // Draw the open task's panel. Events replayed on load (or arriving fast) each ask
  // for it: only the latest request draws, with the phase the events say now.
  async refreshPanel(taskId) {
    if (this.logAbort) this.logAbort.abort();
    const request = (this.panelRequest = (this.panelRequest || 0) + 1);
    let task;
    try {
      task = await get(`${this.base}/tasks/${taskId}`);
    } catch (error) {
      if (request !== this.panelRequest) return;
      showError(error);
      if (error instanceof ApiError && error.status === 404) this.closePanel();
      return;
    }
    if (this.openTask !== taskId || request !== this.panelRequest) return;
    const status = this.phases.get(taskId) || task.status;
    const result = task.result || {};
    this.filesBox = h("div", { id: "task-files" });
    this.durationBox = h("dd", { id: "task-duration" });
    const logs = new LogView();
    const logState = h("p", { class: "muted", id: "task-log-state" });
    append(clear(this.panel),
      h(
        "div",
        { class: "panel-head" },
        h("h2", { id: "task-title" }, task.slug),
        h("a", { href: this.runUrl(), class: "close", id: "close-panel", "aria-label": "Close the task panel" }, "Close"),
      ),
      h("p", { class: "muted panel-link" }, "Link to this task: ", h("a", { href: this.taskUrl(task.id) }, task.id)),
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "Status"), h("dd", { id: "task-status" }, badge(status)),
        h("dt", {}, "Branch"), h("dd", {}, h("code", {}, task.branchName || "—")),
        h("dt", {}, "Attempts"), h("dd", {}, String(task.attempts ?? "—")),
        task.reusedFrom ? [h("dt", {}, "Reused from"), h("dd", { id: "task-reused-from" }, h("code", {}, task.reusedFrom))] : "",
        h("dt", {}, "Duration"), this.durationBox,
        task.usage ? [h("dt", {}, "Model usage"), h("dd", { id: "task-usage" }, usageText(task.usage), attemptsUsage(task.usage))] : "",
        h("dt", {}, "Started"), h("dd", {}, task.startedAt ? when(task.startedAt) : "—"),
        h("dt", {}, "Commit"), h("dd", {}, commitHash(result.commitSha, "task-commit")),
      ),
      task.definition && task.definition.description ? h("p", {}, task.definition.description) : "",
      task.message ? h("p", { class: "muted" }, task.message) : "",
      this.filesBox,
      h("h3", {}, "Log"),
      logState,
      logs.node,
    );
    this.renderPanelDuration(taskId, task);
    this.renderFiles(task);
    this.followLog(task, status, logs, logState);
  }

  // The same figure as the task's node (and its log's last line), else what the
  // task's own whole-second timestamps give.
  renderPanelDuration(taskId, task) {
    if (!this.durationBox) return;
    const value = this.durationSeconds(taskId);
    const t = this.timing.get(taskId);
    if (value !== null) {
      const measured = t && t.seconds !== null;
      this.durationBox.textContent = seconds(value);
      this.durationBox.title = measured ? "the attempt, as its worker measured it" : t && t.endedAt ? "from the task's start to its end event" : "so far";
    } else if (task) {
      this.durationBox.textContent = duration(task.startedAt, task.completedAt) || "—";
    }
  }

  fileLink(path, commitSha) {
    // The whole tree at the run's merged commit, the run kept in the breadcrumb; a
    // run not merged yet shows the task's own commit.
    const ref = this.run.mergedCommit ? undefined : commitSha;
    return `#/projects/${this.projectId}/files${query({ run: this.runId, ref, file: path })}`;
  }

  renderFiles(task) {
    const result = task.result;
    clear(this.filesBox);
    if (!result) {
      this.renderLiveFiles(task.id);
      return;
    }
    const link = (path) => h("li", {}, h("a", { href: this.fileLink(path, result.commitSha) }, path));
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

  followLog(task, status, logs, logState) {
    const running = status === "running" || status === "queued";
    const abort = new AbortController();
    this.logAbort = abort;
    logState.textContent = running ? "following…" : "";
    const path = `${this.base}/tasks/${task.id}/logs${running ? "?follow=true" : ""}`;
    streamText(path, (text) => logs.add(text), abort.signal)
      .then((headers) => {
        logs.end();
        const attempt = headers.get("X-Prazium-Attempt");
        const truncated = headers.get("X-Prazium-Log-Truncated") === "true";
        logState.textContent = `${attempt ? `attempt ${attempt}` : ""}${truncated ? " · truncated" : ""}${running ? " · ended" : ""}`;
      })
      .catch((error) => {
        if (abort.signal.aborted) return;
        logState.textContent = error instanceof ApiError && error.status === 404 ? `No log: ${error.message}` : `Log unavailable: ${error.message}`;
      });
  }

  // Close the panel. Called with the run's URL (fromUrl); otherwise the URL is
  // changed, which calls this back.
  closePanel({ fromUrl = false } = {}) {
    if (!fromUrl && location.hash !== this.runUrl()) {
      location.hash = this.runUrl(); // the shell calls back with fromUrl
      return;
    }
    if (this.logAbort) this.logAbort.abort();
    const wasOpen = this.openTask;
    this.openTask = null;
    this.durationBox = null;
    this.panel.hidden = true;
    this.panel.classList.remove("open");
    const node = (wasOpen && this.graphBox.querySelector(`g.node[data-task-id="${wasOpen}"]`)) || this.graphBox.querySelector("g.node");
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
    this.stopTicker();
    if (this.source) this.source.close();
    if (this.logAbort) this.logAbort.abort();
    if (this.previews) this.previews.close();
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

// Each attempt's model and why its loop stopped, when there was more than one attempt
// or the loop stopped early (BudgetExceeded, StepLimit, ...).
function attemptsUsage(usage) {
  const attempts = usage.attempts || [];
  if (attempts.length < 2 && !attempts.some((a) => a.reason && a.reason !== "Finished")) return "";
  return h(
    "ul",
    { class: "muted", id: "task-usage-attempts" },
    attempts.map((a) => h("li", {}, `attempt ${a.attempt}: ${a.model || "?"} · ${usageText(a)}${a.reason ? ` · ${a.reason}` : " · running"}`)),
  );
}
