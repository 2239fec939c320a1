// Week calendar and list view of one room's occurrences. State lives in the URL
// (?room=&week=&view=) so reload, back and bookmarks keep the place.
import {
  T, tr, api, el, addDays, mondayOf, todayIn, isoWeek, wallDay, wallTime, formatDay, stateText, showNotice,
  copyField, setDateState,
} from "./common.js";

const roomSelect = document.getElementById("room-select");
const calendar = document.getElementById("calendar");
const rangeLabel = document.getElementById("range-label");
const message = document.getElementById("cal-message");
const newSeminar = document.getElementById("new-seminar");
const viewWeek = document.getElementById("view-week");
const viewList = document.getElementById("view-list");

const LIST_WEEKS = 5;
let rooms = [];
const params = new URLSearchParams(location.search);
const state = { room: Number(params.get("room")) || null, week: params.get("week"), view: params.get("view") === "list" ? "list" : "week" };

function room() {
  return rooms.find((r) => r.id === state.room) || rooms[0];
}

function today() {
  return todayIn(room()?.timezone || "Europe/Berlin");
}

function syncUrl(push) {
  const query = new URLSearchParams({ room: state.room, week: state.week, view: state.view });
  const url = `${location.pathname}?${query}`;
  if (push) history.pushState(null, "", url);
  else history.replaceState(null, "", url);
  newSeminar.href = `/dashboard/seminars/new?room=${state.room}&date=${state.week === mondayOf(today()) ? today() : state.week}`;
}

/** The room's iCalendar feed (public: titles, times and join pages, no tokens) to subscribe to. */
function showFeed() {
  document.getElementById("feed").hidden = false;
  document.getElementById("feed-url").value = `${location.origin}/calendar/rooms/${state.room}.ics`;
  document.getElementById("feed-status").textContent = "";
}

/** Cancel or restore one date from the list, then show the calendar again. */
async function changeDate(o, wanted) {
  try {
    if (!(await setDateState(o, wanted))) return;
    showNotice(message, wanted === "cancelled" ? T.date_cancelled : T.date_restored, "ok");
    await load(false, true);
  } catch (error) {
    showNotice(message, error.message, "bad");
  }
}

async function load(push = false, keepMessage = false) {
  if (!room()) return;
  state.room = room().id;
  state.week = mondayOf(state.week || today());
  syncUrl(push);
  showFeed();
  viewWeek.setAttribute("aria-pressed", String(state.view === "week"));
  viewList.setAttribute("aria-pressed", String(state.view === "list"));
  const days = state.view === "week" ? 7 : 7 * LIST_WEEKS;
  const last = addDays(state.week, days - 1);
  rangeLabel.textContent = state.view === "week"
    ? `${tr("week_of", { n: isoWeek(state.week) })} · ${formatDay(state.week, { day: "numeric", month: "short" })} – ${formatDay(last, { day: "numeric", month: "short", year: "numeric" })}`
    : tr("list_range", { date: formatDay(state.week, { day: "numeric", month: "long", year: "numeric" }) });
  calendar.setAttribute("aria-busy", "true");
  try {
    // A day of margin on both sides: the window is in UTC, the days are the room's.
    const query = new URLSearchParams({
      from: `${addDays(state.week, -1)}T00:00:00Z`,
      to: `${addDays(state.week, days + 1)}T00:00:00Z`,
      room_id: state.room,
    });
    const occurrences = await api(`/occurrences?${query}`);
    const inRange = occurrences.filter((o) => wallDay(o.start) >= state.week && wallDay(o.start) <= last);
    if (!keepMessage) showNotice(message, "");
    calendar.replaceChildren(state.view === "week" ? weekView(inRange) : listView(inRange, days));
  } catch (error) {
    showNotice(message, `${T.load_failed} ${error.message}`, "bad");
  } finally {
    calendar.removeAttribute("aria-busy");
  }
}

function eventLink(o) {
  return el(
    "a",
    { class: `event ${o.state}`, href: `/dashboard/occurrences/${o.id}`, "data-testid": "event" },
    el("span", { class: "ev-time" }, `${wallTime(o.start)}–${wallTime(o.end)}`),
    el("span", { class: "ev-title" }, o.title),
    o.state !== "scheduled" ? el("span", { class: `badge small ${o.state}` }, stateText(o.state)) : null,
  );
}

function weekView(occurrences) {
  const now = today();
  const list = el("ol", { class: "week" });
  for (let i = 0; i < 7; i++) {
    const day = addDays(state.week, i);
    const items = occurrences.filter((o) => wallDay(o.start) === day);
    const isToday = day === now;
    list.append(
      el(
        "li",
        { class: `day${isToday ? " today" : ""}`, "aria-current": isToday ? "date" : null, "data-day": day },
        el(
          "h3",
          {},
          el("span", {}, formatDay(day, { weekday: "short", day: "numeric", month: "numeric" })),
          isToday ? el("span", { class: "today-tag" }, T.today) : null,
        ),
        items.length
          ? el("ul", {}, items.map((o) => el("li", {}, eventLink(o))))
          : el("p", { class: "empty" }, T.no_events_day),
      ),
    );
  }
  return list;
}

function listView(occurrences, days) {
  if (!occurrences.length) return el("p", { class: "notice" }, T.no_events);
  const now = today();
  const body = el("tbody");
  let current = null;
  for (const o of occurrences) {
    const day = wallDay(o.start);
    if (day !== current) {
      current = day;
      body.append(
        el(
          "tr",
          { class: `day-row${day === now ? " today-row" : ""}` },
          el("th", { colspan: 4, scope: "colgroup", "aria-current": day === now ? "date" : null },
            formatDay(day), day === now ? ` · ${T.today}` : ""),
        ),
      );
    }
    body.append(
      el(
        "tr",
        { "data-testid": "event" },
        el("td", {}, `${wallTime(o.start)}–${wallTime(o.end)}`),
        el("td", {}, o.title),
        el("td", {}, el("span", { class: `badge small ${o.state}` }, stateText(o.state))),
        el(
          "td",
          { class: "actions-cell" },
          el("a", { class: "button", href: `/dashboard/occurrences/${o.id}` }, T.open_live), " ",
          el("a", { class: "button", href: `/dashboard/seminars/${o.seminar_id}` }, T.edit), " ",
          dateButton(o),
        ),
      ),
    );
  }
  return el(
    "div",
    { class: "table-wrap" },
    el(
      "table",
      { class: "table" },
      el("thead", {}, el("tr", {}, [T.time, T.title, T.state, T.actions].map((h) => el("th", { scope: "col" }, h)))),
      body,
    ),
  );
}

/** "Absagen" for a coming date, "Wiederherstellen" for a cancelled one (else nothing). */
function dateButton(o) {
  const label = `${formatDay(wallDay(o.start), { weekday: "short", day: "numeric", month: "short" })}, ${wallTime(o.start)}`;
  if (o.state === "scheduled" && Date.parse(o.start) > Date.now()) {
    return el("button", { type: "button", class: "danger", "aria-label": `${T.cancel_one}: ${o.title}, ${label}`, onclick: () => changeDate(o, "cancelled") }, T.cancel_one);
  }
  if (o.state === "cancelled" && Date.parse(o.end) > Date.now()) {
    return el("button", { type: "button", "aria-label": `${T.restore_one}: ${o.title}, ${label}`, onclick: () => changeDate(o, "scheduled") }, T.restore_one);
  }
  return null;
}

function move(weeks) {
  state.week = addDays(state.week, 7 * weeks);
  load(true);
}

async function start() {
  try {
    rooms = await api("/rooms");
  } catch (error) {
    showNotice(message, `${T.load_failed} ${error.message}`, "bad");
    return;
  }
  if (!rooms.length) {
    showNotice(message, T.no_rooms_yet, "");
    message.append(" ", el("a", { href: "/dashboard/rooms" }, T.nav_rooms));
    document.getElementById("cal-toolbar").hidden = true;
    newSeminar.hidden = true;
    return;
  }
  roomSelect.replaceChildren(...rooms.map((r) => el("option", { value: r.id }, r.name)));
  if (!rooms.some((r) => r.id === state.room)) state.room = rooms[0].id;
  roomSelect.value = String(state.room);
  roomSelect.addEventListener("change", () => {
    state.room = Number(roomSelect.value);
    load(true);
  });
  document.getElementById("prev-week").addEventListener("click", () => move(-1));
  document.getElementById("next-week").addEventListener("click", () => move(1));
  document.getElementById("this-week").addEventListener("click", () => {
    state.week = mondayOf(today());
    load(true);
  });
  viewWeek.addEventListener("click", () => { state.view = "week"; load(true); });
  viewList.addEventListener("click", () => { state.view = "list"; load(true); });
  window.addEventListener("popstate", () => {
    const p = new URLSearchParams(location.search);
    state.room = Number(p.get("room")) || state.room;
    state.week = p.get("week") || state.week;
    state.view = p.get("view") === "list" ? "list" : "week";
    roomSelect.value = String(state.room);
    load(false);
  });
  document.getElementById("feed-copy").addEventListener("click", async () => {
    document.getElementById("feed-status").textContent = await copyField(document.getElementById("feed-url"));
  });
  if (params.get("saved") === "created") {
    showNotice(message, T.seminar_created, "ok");
    params.delete("saved");
  }
  load(false, true);
}

start();
