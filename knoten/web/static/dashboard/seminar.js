// Create / edit a seminar. Errors from the API appear next to the field they name; a room
// conflict (409) names the clashing seminar and its time.
import {
  T, LANG, tr, api, apiOptional, el, FormErrors, showNotice, todayIn, mondayOf, wallDay, wallTime,
  formatDay, formatInstant, stateText, setDateState,
} from "./common.js";
import { showRequest, showSeriesLink } from "./request.js";

const main = document.getElementById("main");
const form = document.getElementById("seminar-form");
const summary = document.getElementById("form-summary");
const status = document.getElementById("form-status");
const seminarId = Number(main.dataset.seminarId) || null;
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);

let rooms = [];
let partnersShown = false;
let seminar = null;

const errors = new FormErrors(form, summary, {
  title: { slot: "title" },
  description: { slot: "description" },
  host: { slot: "host" },
  room_id: { slot: "room" },
  timezone: { slot: "room" },
  start: { slot: "when", input: "date" },
  end: { slot: "when", input: "end-time" },
  recurrence: { slot: "repeat", input: "rrule" },
  exdates: { slot: "repeat", input: "rrule" },
  partner_ids: { slot: "partners", input: null },
  lead_in_minutes: { slot: "lead-in" },
  lead_out_minutes: { slot: "lead-in" },
});

const repeatMode = () => form.querySelector('input[name="repeat"]:checked').value;
const endsMode = () => form.querySelector('input[name="ends"]:checked').value;

function toggleRepeat() {
  const mode = repeatMode();
  $("rrule-field").hidden = mode !== "custom";
  $("ends-field").hidden = mode === "none";
}

function roomZone() {
  return rooms.find((r) => r.id === Number($("room").value))?.timezone || "Europe/Berlin";
}

function parseRule(rule) {
  const parts = (rule || "").split(";").filter(Boolean);
  const rest = [];
  let count = null;
  let until = null;
  for (const part of parts) {
    const [key, value] = part.split("=");
    if (key.toUpperCase() === "COUNT") count = value;
    else if (key.toUpperCase() === "UNTIL") until = `${value.slice(0, 4)}-${value.slice(4, 6)}-${value.slice(6, 8)}`;
    else rest.push(part);
  }
  return { rest: rest.join(";"), count, until };
}

// German weekday abbreviations in a typed rule (BYDAY=DI,DO) become the RRULE's own (TU,TH);
// a saved rule is shown with the German ones again on the German page.
const DE_DAYS = { MO: "MO", DI: "TU", MI: "WE", DO: "TH", FR: "FR", SA: "SA", SO: "SU" };
const EN_DAYS = Object.fromEntries(Object.entries(DE_DAYS).map(([de, en]) => [en, de]));
const mapDays = (rule, table) =>
  rule.replace(/(BYDAY=)([^;]*)/i, (_, key, days) =>
    key + days.replace(/[A-Z]{2}/gi, (day) => table[day.toUpperCase()] || day.toUpperCase()));
const ruleFromForm = (text) => mapDays(text.replace(/^RRULE:/i, ""), DE_DAYS);
const ruleForForm = (text) => (LANG === "de" ? mapDays(text, EN_DAYS) : text);

function buildRule() {
  const mode = repeatMode();
  if (mode === "none") return null;
  const base = mode === "weekly" ? "FREQ=WEEKLY" : ruleFromForm($("rrule").value.trim());
  if (/(^|;)(COUNT|UNTIL)=/i.test(base)) return base; // the custom rule says how it ends
  if (endsMode() === "count") return `${base};COUNT=${$("count").value}`;
  return `${base};UNTIL=${$("until").value.replaceAll("-", "")}T235959`;
}

/** Checks the browser can do before asking the service: [field, message] pairs. */
function localProblems() {
  const problems = [];
  if (!$("title").value.trim()) problems.push(["title", T.e_required]);
  if (!$("date").value || !$("start-time").value) problems.push(["start", T.e_required]);
  else if (!$("end-time").value) problems.push(["end", T.e_required]);
  else if ($("end-time").value <= $("start-time").value) problems.push(["end", T.e_end_before_start]);
  const mode = repeatMode();
  if (mode === "custom" && !$("rrule").value.trim()) problems.push(["recurrence", T.e_required]);
  if (mode !== "none" && !/(^|;)(COUNT|UNTIL)=/i.test($("rrule").value)) {
    if (endsMode() === "count" && !(Number($("count").value) >= 1)) problems.push(["recurrence", T.e_required]);
    if (endsMode() === "until" && !$("until").value) problems.push(["recurrence", T.e_required]);
  }
  return problems;
}

function body() {
  const date = $("date").value;
  const data = {
    title: $("title").value.trim(),
    description: $("description").value,
    host: $("host").value.trim(),
    room_id: Number($("room").value),
    start: `${date}T${$("start-time").value.slice(0, 5)}:00`,
    end: `${date}T${$("end-time").value.slice(0, 5)}:00`,
    recurrence: buildRule(),
    record: $("record").checked,
    lead_in_minutes: Number($("lead-in").value || 0),
  };
  if (partnersShown) {
    data.partner_ids = [...form.querySelectorAll('input[name="partner"]:checked')].map((c) => Number(c.value));
  }
  return data;
}

function conflictText(error) {
  const clash = error.details[0]?.existing;
  if (!clash) return error.message;
  const zone = roomZone();
  const text = tr("e_conflict", {
    title: clash.title,
    date: formatInstant(clash.start, zone, { weekday: "short", day: "numeric", month: "long", year: "numeric" }),
    start: formatInstant(clash.start, zone, { hour: "2-digit", minute: "2-digit" }),
    end: formatInstant(clash.end, zone, { hour: "2-digit", minute: "2-digit" }),
  });
  const more = error.details.length - 1;
  return more > 0 ? `${text} (${tr("e_conflict_more", { n: more })})` : text;
}

function showApiError(error) {
  if (error.code === "seminar_conflict") {
    errors.show([["start", conflictText(error)]]);
    return;
  }
  errors.fields.recurrence.input = repeatMode() === "custom" ? "rrule" : endsMode();
  const known = (field) => field && errors.fields[field.split(".")[0]];
  const problems = (error.details.length ? error.details : [{ field: error.field, message: error.message }])
    .filter((d) => known(d.field))
    .map((d) => [d.field.split(".")[0], d.type === "missing" ? T.e_required : d.message]);
  if (problems.length) errors.show(problems);
  else {
    summary.textContent = error.message;
    summary.hidden = false;
    summary.focus();
  }
}

async function submit(event) {
  event.preventDefault();
  errors.clear();
  showNotice(status, "");
  const problems = localProblems();
  if (problems.length) {
    errors.show(problems);
    return;
  }
  const save = $("save");
  save.disabled = true;
  save.textContent = T.saving;
  try {
    const data = body();
    if (seminarId) {
      seminar = await api(`/seminars/${seminarId}`, { method: "PATCH", body: data });
      showNotice(status, T.saved, "ok");
      renderOccurrences();
    } else {
      const created = await api("/seminars", { method: "POST", body: data });
      const week = mondayOf($("date").value);
      location.assign(`/dashboard?room=${created.room_id}&week=${week}&view=week&saved=created`);
    }
  } catch (error) {
    showApiError(error);
  } finally {
    save.disabled = false;
    save.textContent = T.save;
  }
}

async function loadPartners() {
  const list = $("partners-list");
  if (!list) return;
  let partners = null;
  try {
    partners = await apiOptional("/partners");
  } catch {
    partners = null;
  }
  if (partners === null) {
    $("partners-field").hidden = true;
    return;
  }
  partnersShown = true;
  const chosen = new Set(seminar?.partner_ids || []);
  list.replaceChildren(
    ...(partners.length
      ? partners.map((p) =>
        el("label", {}, el("input", { type: "checkbox", name: "partner", value: p.id, checked: chosen.has(p.id) }), ` ${p.name}`))
      : [el("p", { class: "hint" }, T.f_partners_none)]),
  );
}

function fill(s) {
  $("title").value = s.title;
  $("description").value = s.description;
  $("host").value = s.host;
  $("room").value = String(s.room_id);
  $("date").value = wallDay(s.start);
  $("start-time").value = wallTime(s.start);
  $("end-time").value = wallTime(s.end);
  $("record").checked = s.record;
  $("lead-in").value = s.lead_in_minutes;
  if (s.recurrence) {
    const { rest, count, until } = parseRule(s.recurrence);
    const weekly = rest.toUpperCase() === "FREQ=WEEKLY";
    form.querySelector(`input[name="repeat"][value="${weekly ? "weekly" : "custom"}"]`).checked = true;
    $("rrule").value = weekly ? "" : ruleForForm(rest);
    if (count) $("count").value = count;
    if (until) $("until").value = until;
    form.querySelector(`input[name="ends"][value="${until ? "until" : "count"}"]`).checked = true;
  }
  toggleRepeat();
}

function renderOccurrences() {
  const list = $("occurrence-list");
  if (!list || !seminar) return;
  list.replaceChildren(
    ...(seminar.occurrences || []).map((o) =>
      el(
        "li",
        {},
        el("span", {}, `${formatDay(wallDay(o.start), { weekday: "short", day: "numeric", month: "short", year: "numeric" })}, ${wallTime(o.start)}–${wallTime(o.end)}`),
        el("span", { class: `badge small ${o.state}` }, stateText(o.state)),
        el("a", { href: `/dashboard/occurrences/${o.id}` }, T.open_live),
        dateButton(o),
      ),
    ),
  );
}

/** "Absagen" for a coming date, "Wiederherstellen" for a cancelled one that has not passed. */
function dateButton(o) {
  const when = `${formatDay(wallDay(o.start), { weekday: "short", day: "numeric", month: "short" })}, ${wallTime(o.start)}`;
  const change = async (wanted) => {
    try {
      if (!(await setDateState(o, wanted))) return;
      seminar = await api(`/seminars/${seminarId}`);
      renderOccurrences();
      showNotice(status, wanted === "cancelled" ? T.date_cancelled : T.date_restored, "ok");
    } catch (error) {
      showNotice(status, error.message, "bad");
    }
  };
  if (o.state === "scheduled" && Date.parse(o.start) > Date.now()) {
    return el("button", { type: "button", class: "danger", "aria-label": `${T.cancel_one}: ${when}`, onclick: () => change("cancelled") }, T.cancel_one);
  }
  if (o.state === "cancelled" && Date.parse(o.end) > Date.now()) {
    return el("button", { type: "button", "aria-label": `${T.restore_one}: ${when}`, onclick: () => change("scheduled") }, T.restore_one);
  }
  return null;
}

async function cancelSeries() {
  if (!confirm(T.cancel_series_confirm)) return;
  const now = Date.now();
  try {
    for (const o of seminar.occurrences || []) {
      if (o.state === "scheduled" && Date.parse(o.start) > now) {
        await api(`/occurrences/${o.id}`, { method: "PATCH", body: { state: "cancelled" } });
      }
    }
    seminar = await api(`/seminars/${seminarId}`);
    renderOccurrences();
    showNotice(status, T.series_cancelled, "ok");
  } catch (error) {
    showNotice(status, error.message, "bad");
  }
}

async function deleteSeminar() {
  if (!confirm(T.delete_seminar_confirm)) return;
  try {
    await api(`/seminars/${seminarId}`, { method: "DELETE" });
    location.assign(`/dashboard?room=${seminar.room_id}&week=${mondayOf(wallDay(seminar.start))}`);
  } catch (error) {
    showNotice(status, error.message, "bad");
  }
}

async function start() {
  for (const radio of form.querySelectorAll('input[name="repeat"]')) radio.addEventListener("change", toggleRepeat);
  form.addEventListener("submit", submit);
  try {
    rooms = await api("/rooms");
    $("room").replaceChildren(...rooms.map((r) => el("option", { value: r.id }, r.name)));
    if (params.get("room")) $("room").value = params.get("room");
    if (seminarId) {
      seminar = await api(`/seminars/${seminarId}`);
      fill(seminar);
      renderOccurrences();
      showSeriesLink(seminar);
      showRequest(seminar, (confirmed) => {
        if (!confirmed) return location.assign(`/dashboard?room=${seminar.room_id}`);
        seminar = confirmed;
        renderOccurrences();
      });
      $("back").href = `/dashboard?room=${seminar.room_id}&week=${mondayOf(wallDay(seminar.start))}`;
      $("cancel-series").addEventListener("click", cancelSeries);
      $("delete-seminar").addEventListener("click", deleteSeminar);
    } else {
      // Only a default: what the host typed while the rooms were loading stays.
      const date = params.get("date");
      if (!$("date").value) $("date").value = /^\d{4}-\d{2}-\d{2}$/.test(date || "") ? date : todayIn(roomZone());
      $("back").href = `/dashboard?room=${$("room").value}&week=${mondayOf($("date").value)}`;
    }
  } catch (error) {
    showNotice(summary, `${T.load_failed} ${error.message}`, "bad");
  }
  toggleRepeat();
  await loadPartners();
}

start();
