// The task graph: dagre lays the plan out (dependencies as edges, left to right);
// nodes are SVG groups coloured by phase (the phase is also written in the node,
// so colour is never the only cue) and reachable with the keyboard.
import { svg } from "./dom.js";

const NODE_W = 180;
const NODE_H = 58;

export function definitionToApiId(id) {
  return /^task-\d+$/.test(id) ? id.replace("task-", "task_") : id;
}

export class TaskGraph {
  constructor(container, onSelect) {
    this.container = container;
    this.onSelect = onSelect;
    this.nodes = new Map(); // api task id -> {group, phaseText}
  }

  // tasks: [{id (api id), slug, dependencies: [api ids], status, mergePosition, duration,
  //          reused (taken over from the retried run), repair (a repair round's task)}]
  render(tasks) {
    const graph = new window.dagre.graphlib.Graph();
    graph.setGraph({ rankdir: "LR", nodesep: 24, ranksep: 56, marginx: 12, marginy: 12 });
    graph.setDefaultEdgeLabel(() => ({}));
    for (const task of tasks) graph.setNode(task.id, { width: NODE_W, height: NODE_H });
    for (const task of tasks) {
      for (const dependency of task.dependencies) {
        if (graph.hasNode(dependency)) graph.setEdge(dependency, task.id);
      }
    }
    window.dagre.layout(graph);
    const { width, height } = graph.graph();
    const root = svg("svg", {
      class: width > 576 ? "task-graph wide" : "task-graph",
      viewBox: `0 0 ${Math.ceil(width)} ${Math.ceil(height)}`,
      width: Math.ceil(width),
      height: Math.ceil(height),
      role: "group",
      "aria-label": "Task graph: tasks and their dependencies",
    });
    root.append(
      svg(
        "defs",
        {},
        svg(
          "marker",
          { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
          svg("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrow-head" }),
        ),
      ),
    );
    for (const edge of graph.edges()) {
      const points = graph.edge(edge).points;
      const d = points.map((p, i) => `${i ? "L" : "M"} ${p.x.toFixed(1)} ${p.y.toFixed(1)}`).join(" ");
      root.append(svg("path", { d, class: "edge", "marker-end": "url(#arrow)" }));
    }
    this.nodes.clear();
    for (const task of tasks) {
      const box = graph.node(task.id);
      const x = box.x - NODE_W / 2;
      const y = box.y - NODE_H / 2;
      const phaseText = svg("text", { x: x + 10, y: y + 44, class: "node-phase" }, phaseLabel(task, task.status));
      const group = svg(
        "g",
        {
          class: nodeClass(task, task.status),
          tabindex: 0,
          role: "button",
          "data-task-id": task.id,
          "data-phase": task.status,
          "data-duration": task.duration || "",
          onclick: () => this.onSelect(task.id),
          onkeydown: (event) => {
            if (event.key === "Enter" || event.key === " ") {
              event.preventDefault();
              this.onSelect(task.id);
            }
          },
        },
        svg("rect", { x, y, width: NODE_W, height: NODE_H, rx: 8 }),
        svg("text", { x: x + 10, y: y + 22, class: "node-title" }, truncate(task.slug, 20)),
        svg("text", { x: x + NODE_W - 10, y: y + 22, class: "node-merge", "text-anchor": "end" }, task.mergePosition ? `#${task.mergePosition}` : ""),
        phaseText,
      );
      this.nodes.set(task.id, { group, phaseText, task: { ...task } });
      root.append(group);
    }
    this.container.replaceChildren(root);
  }

  setPhase(taskId, phase) {
    const node = this.nodes.get(taskId);
    if (!node) return;
    node.task.status = phase;
    node.group.setAttribute("class", nodeClass(node.task, phase));
    node.group.setAttribute("data-phase", phase);
    node.phaseText.textContent = phaseLabel(node.task, phase);
  }

  // How long the task took (or has been running), e.g. "0.17 s"; "" for none.
  setDuration(taskId, text) {
    const node = this.nodes.get(taskId);
    if (!node) return;
    node.task.duration = text;
    node.group.setAttribute("data-duration", text || "");
    node.phaseText.textContent = phaseLabel(node.task, node.task.status);
  }
}

function phaseLine(phase, duration) {
  return duration ? `${phase} · ${duration}` : phase;
}

// A reused task says so in words beside its phase; a repair task is drawn apart.
function phaseLabel(task, phase) {
  return phaseLine(task.reused ? `${phase} · reused` : phase, task.duration);
}

function nodeClass(task, phase) {
  return `node phase-${phase}${task.reused ? " reused" : ""}${task.repair ? " repair" : ""}`;
}

function truncate(text, length) {
  return text.length > length ? text.slice(0, length - 1) + "…" : text;
}
