// What a page asks of the shell (app.js): open a page, draw the current one again,
// show an error. The shell imports the pages, so the pages cannot import it back;
// they call these instead, which raise events on window that the shell listens for.
// dispatchEvent runs the listeners at once, so a call still acts before it returns.
import { ApiError } from "./api.js";
import { notify } from "./dom.js";

// detail.keepNotice: leave the notice shown (after a failed action).
export const ROUTE_EVENT = "prazium:route";
// The API refused the session (401): the shell shows the sign-in page.
export const SIGNED_OUT_EVENT = "prazium:signed-out";

export function go(hash) {
  if (location.hash === hash) window.dispatchEvent(new CustomEvent(ROUTE_EVENT, { detail: { keepNotice: false } }));
  else location.hash = hash; // the shell routes on hashchange
}

// Draw the current page again from the API, keeping the notice shown (after a
// failed action the page shows the state the API has now).
export function rerender() {
  window.dispatchEvent(new CustomEvent(ROUTE_EVENT, { detail: { keepNotice: true } }));
}

export function showError(error) {
  if (error instanceof ApiError && error.status === 401) {
    window.dispatchEvent(new CustomEvent(SIGNED_OUT_EVENT));
    return;
  }
  notify(`${error.code ? error.code + ": " : ""}${error.message}`, "error");
}
