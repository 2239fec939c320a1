// Shared helpers of the dashboard pages: texts, the same-origin API client, dates, form errors.
// The session cookie authorises the calls; every state-changing call carries the CSRF header.

import { explain, explainDetail } from "./explain.js";

const textsNode = document.getElementById("knoten-texts");
export const T = textsNode ? JSON.parse(textsNode.textContent) : {};
export const LANG = document.documentElement.lang || "de";
const LOCALE = LANG === "de" ? "de-DE" : "en-GB";
const CSRF = document.querySelector('meta[name="csrf-token"]')?.content || "";

/** A text with {placeholders} filled in. */
export function tr(key, values = {}) {
  const text = T[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

/** An API error worded in the page's language (``message``); what the service said is kept
 * in ``detail`` and in each entry's ``detail`` (see explain.js). */
export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(explain(T, status, error));
    this.status = status;
    this.code = error.code || "http_error";
    this.field = error.field || null;
    this.detail = error.message || `HTTP ${status}`;
    this.details = (error.details || []).map((d) =>
      d.field === undefined ? d : { ...d, detail: d.message, message: explainDetail(T, d, error.code) });
  }
}

/** fetch() against /api/v1 with JSON in and out; throws ApiError for non-2xx answers. */
export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = CSRF;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(`/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, { error: { code: "network", message: T.error_network } });
  }
  if (response.status === 401) {
    // The session ended (restart, sign-out elsewhere): back to the sign-in page.
    window.location.assign(`/signin?next=${encodeURIComponent(location.pathname + location.search)}`);
    throw new ApiError(401, { error: { code: "unauthorized", message: T.error_session } });
  }
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** The GET answer, or null when the endpoint does not exist (yet). */
export async function apiOptional(path) {
  try {
    return await api(path);
  } catch (error) {
    if (error.status === 404 || error.status === 405) return null;
    throw error;
  }
}

// -- dates: ISO strings from the API carry the room's offset; wall time is read from the text --

export const pad = (n) => String(n).padStart(2, "0");
/** "2027-03-16" for a Date taken as UTC calendar day. */
export const isoDay = (d) => `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
/** A UTC Date for "YYYY-MM-DD" (calendar arithmetic without DST surprises). */
export const dayDate = (s) => new Date(`${s}T00:00:00Z`);
export const addDays = (s, n) => {
  const d = dayDate(s);
  d.setUTCDate(d.getUTCDate() + n);
  return isoDay(d);
};
/** Monday of the week that holds day ``s``. */
export const mondayOf = (s) => addDays(s, -((dayDate(s).getUTCDay() + 6) % 7));
/** Today's date in ``timeZone`` as "YYYY-MM-DD". */
export function todayIn(timeZone) {
  try {
    return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date());
  } catch {
    return isoDay(new Date());
  }
}
/** ISO week number of day ``s``. */
export function isoWeek(s) {
  const d = dayDate(s);
  d.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7) + 3); // the week's Thursday
  const jan4 = new Date(Date.UTC(d.getUTCFullYear(), 0, 4));
  return 1 + Math.round(((d - jan4) / 86400000 - 3 + ((jan4.getUTCDay() + 6) % 7)) / 7);
}
export const wallTime = (iso) => iso.slice(11, 16);
export const wallDay = (iso) => iso.slice(0, 10);
export function formatDay(s, options = { weekday: "long", day: "numeric", month: "long", year: "numeric" }) {
  return new Intl.DateTimeFormat(LOCALE, { ...options, timeZone: "UTC" }).format(dayDate(s));
}
/** An instant (ISO with offset or Z) as wall date/time in ``timeZone``. */
export function formatInstant(iso, timeZone, options) {
  try {
    return new Intl.DateTimeFormat(LOCALE, { ...options, timeZone }).format(new Date(iso));
  } catch {
    return iso;
  }
}
export function formatDuration(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const days = Math.floor(total / 86400);
  const h = Math.floor((total % 86400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (days > 0) return LANG === "de" ? `${days} T. ${h} Std.` : `${days} d ${h} h`;
  return `${pad(h)}:${pad(m)}:${pad(s)}`;
}

export const stateText = (state) => T[`state_${state}`] || state;

// -- DOM --------------------------------------------------------------------------------------

/** Create an element: el("a", { href: "/x", class: "y" }, "text", child). Text stays text. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Copy an input's text to the clipboard (selecting it where that is refused); the words to show. */
export async function copyField(input) {
  try {
    await navigator.clipboard.writeText(input.value);
    return T.copied;
  } catch {
    input.select();
    return document.execCommand && document.execCommand("copy") ? T.copied : T.copy_failed;
  }
}

/** Cancel one date (``cancelled``) or bring it back (``scheduled``) after asking; true if done. */
export async function setDateState(occurrence, state) {
  if (state === "cancelled" && !confirm(tr("cancel_one_confirm", { date: formatDay(wallDay(occurrence.start)), time: wallTime(occurrence.start) }))) return false;
  await api(`/occurrences/${occurrence.id}`, { method: "PATCH", body: { state } });
  return true;
}

export function showNotice(node, text, kind = "") {
  node.textContent = text;
  node.className = `notice ${kind}`.trim();
  node.hidden = !text;
}

/** Field errors next to the inputs: ``fields`` maps API field names to element ids. */
export class FormErrors {
  constructor(form, summary, fields) {
    this.form = form;
    this.summary = summary;
    this.fields = fields;
  }

  clear() {
    for (const node of this.form.querySelectorAll(".field-error")) {
      node.hidden = true;
      node.textContent = "";
    }
    for (const node of this.form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
    if (this.summary) this.summary.hidden = true;
  }

  /** Show ``message`` at the error slot for ``field`` (an API field name or slot id). */
  set(field, message) {
    const target = this.fields[field] || this.fields._default;
    const slot = document.getElementById(`${target.slot}-error`);
    slot.textContent = message;
    slot.hidden = false;
    const input = document.getElementById(target.input || target.slot);
    if (input) input.setAttribute("aria-invalid", "true");
    return input || slot;
  }

  /** Show several errors, a summary on top, and move focus to the first bad field. */
  show(errors) {
    let first = null;
    for (const [field, message] of errors) {
      const node = this.set(field, message);
      first = first || node;
    }
    if (this.summary) {
      this.summary.textContent = T.error_summary;
      this.summary.hidden = false;
    }
    if (first) first.focus();
  }
}
