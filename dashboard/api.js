// The HTTP API client: adds the bearer key, asks for one when the server wants it, and turns
// error answers into sentences that say what to do (never raw JSON).
export class UserError extends Error {
  constructor(message, status) { super(message); this.status = status; }
}

let askKey = async () => false;
export function setKeyHandler(f) { askKey = f; }

const KEY = "attune.apiKey";

function advice(status, message) {
  const m = (message || "").replace(/^\w/, (c) => c.toUpperCase());
  switch (status) {
    case 413: return "The file is larger than this server accepts. Upload a smaller file, or restart the server with a higher limit.";
    case 404: return m ? `${m}.` : "Not found: it may have been deleted. Go back to Models.";
    case 409: return `${m}.`;
    case 422: return m ? `${m}.` : "The server could not use this input; check it and try again.";
    case 400: return m ? `${m}.` : "The request was not accepted; check the form and try again.";
    default:
      if (status >= 500) return `The server failed (${m || "no details"}). Try again; if it keeps failing, read the server's log.`;
      return m ? `${m}.` : `The server answered ${status}.`;
  }
}

// opts: fetch options, plus `json` (a body to send as JSON) and `accept` (error statuses whose
// JSON body the caller handles itself).
export async function api(path, opts = {}) {
  const { json, accept = [], ...init } = opts;
  const headers = new Headers(init.headers || {});
  const key = localStorage.getItem(KEY);
  if (key) headers.set("Authorization", `Bearer ${key}`);
  if (json !== undefined) {
    headers.set("Content-Type", "application/json");
    init.body = JSON.stringify(json);
  }
  let res;
  try {
    res = await fetch(path, { ...init, headers });
  } catch {
    throw new UserError("The attune server cannot be reached. Check that `attune serve` is still running, then try again.");
  }
  if (res.status === 401) {
    const reason = key
      ? "The server refused this API key: it is wrong or no longer valid. Enter the right key."
      : "This server needs an API key. Enter one of the keys it was started with.";
    if (key) localStorage.removeItem(KEY);
    if (await askKey(reason)) return api(path, opts);
    throw new UserError("This page needs an API key to talk to the server. Use the “API key” button at the top.", 401);
  }
  if (res.status === 204) return null;
  let body = null;
  try { body = await res.json(); } catch { /* not JSON */ }
  if (res.ok || accept.includes(res.status)) return body;
  throw new UserError(advice(res.status, body?.message?.replace(/\.$/, "")), res.status);
}
