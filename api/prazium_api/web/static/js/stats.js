// The system statistics (admin keys only: /v1/admin/stats answers 403 otherwise).
import { get } from "./api.js";
import { append, h } from "./dom.js";

export async function statsPage(main) {
  const stats = await get("/admin/stats");
  append(main,
    h("div", { class: "page-head" }, h("h1", {}, "System statistics")),
    h(
      "div",
      { class: "stats" },
      Object.entries(stats).map(([group, values]) =>
        h(
          "section",
          { class: "card stat", "aria-labelledby": `stat-${group}` },
          h("h2", { id: `stat-${group}` }, group),
          h(
            "dl",
            { class: "facts" },
            Object.entries(values).map(([name, value]) => [h("dt", {}, name), h("dd", { dataset: { stat: `${group}.${name}` } }, typeof value === "object" ? JSON.stringify(value) : String(value))]),
          ),
        ),
      ),
    ),
  );
}
