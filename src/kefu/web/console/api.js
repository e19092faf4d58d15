// Calls to the kefu API: JSON in and out, the session cookie, the CSRF token on every unsafe
// request, and the one error shape {"error": {"code", "message", "field"?}} turned into ApiError.

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

let csrfToken = "";
let onUnauthorized = () => {};

export function setCsrf(token) {
  csrfToken = token || "";
}

/** Called on a 401 from any request but the login itself (the session is gone). */
export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

const SAFE = new Set(["GET", "HEAD"]);

export async function api(method, path, body, { quiet401 = false } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (!SAFE.has(method) && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch (err) {
    throw new ApiError(0, "network", err && err.message ? err.message : "network error");
  }
  if (res.status === 204) return null;
  let data = null;
  const type = res.headers.get("content-type") || "";
  if (type.includes("json")) {
    try {
      data = await res.json();
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const e = (data && data.error) || {};
    let message = e.message || res.statusText || `HTTP ${res.status}`;
    if (!e.message && data && data.detail) message = String(data.detail);
    const error = new ApiError(res.status, e.code || `http_${res.status}`, message, e.field);
    if (res.status === 401 && !quiet401) onUnauthorized(error);
    throw error;
  }
  return data;
}

export const get = (path, opts) => api("GET", path, undefined, opts);
export const post = (path, body, opts) => api("POST", path, body === undefined ? {} : body, opts);
export const patch = (path, body) => api("PATCH", path, body);

/** A query string from an object, skipping empty values. */
export function qs(params) {
  const parts = [];
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === "" || v === false) continue;
    parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(v)}`);
  }
  return parts.length ? `?${parts.join("&")}` : "";
}
