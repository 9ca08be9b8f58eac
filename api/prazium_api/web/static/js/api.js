// The /v1 API with the session cookie (HttpOnly: script never sees it). The CSRF
// token comes from /v1/auth/login or /v1/auth/me and lives in memory only, never
// in localStorage; every write sends it as X-CSRF-Token.

let csrfToken = null;

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

// The request never got an answer: the API restarting, the connection dropped. A
// background refresh tries again after such a failure rather than show it as an
// error the person must act on; an answer with an error status is an ApiError.
export function unreachable(error) {
  return !(error instanceof ApiError) && error.name !== "AbortError";
}

export function setCsrf(token) {
  csrfToken = token || null;
}

export async function api(method, path, body, options = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  const response = await fetch(`/v1${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
    signal: options.signal,
  });
  let payload = null;
  const type = response.headers.get("content-type") || "";
  if (type.includes("application/json")) payload = await response.json();
  if (!response.ok) {
    const error = (payload && payload.error) || {};
    throw new ApiError(
      response.status,
      error.code || "HTTP_" + response.status,
      error.message || response.statusText,
      error.details,
    );
  }
  return options.whole ? payload : payload && payload.data;
}

export const get = (path, options) => api("GET", path, undefined, options);
export const post = (path, body, options) => api("POST", path, body, options);
export const del = (path) => api("DELETE", path);

export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

// A text stream (a task's log with follow=true): onText gets each chunk as it
// arrives; resolves with the response headers once the body ends.
export async function streamText(path, onText, signal) {
  const response = await fetch(`/v1${path}`, { credentials: "same-origin", signal });
  if (!response.ok) {
    let message = response.statusText;
    try {
      message = (await response.json()).error.message;
    } catch {
      /* not the error envelope */
    }
    throw new ApiError(response.status, "HTTP_" + response.status, message);
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    onText(decoder.decode(value, { stream: true }));
  }
  return response.headers;
}
