// Live panel of one occurrence: state, countdown, start early / stop / extend, join link + QR.
// Polls GET /api/v1/occurrences/{id} every 2 s (paused while the tab is hidden); the output and
// viewer blocks appear once the API reports those fields.
import {
  T, tr, api, apiOptional, el, showNotice, wallDay, wallTime, formatDay, formatDuration, formatInstant, stateText,
} from "./common.js";

const POLL_MS = 2000;
const main = document.getElementById("main");
const id = Number(main.dataset.occurrenceId);
const $ = (name) => document.getElementById(name);
const message = $("live-message");

let current = null;
let pollTimer = null;
let busy = false;

function render(o) {
  current = o;
  document.title = `${o.title} · Knoten`;
  $("live-title").textContent = o.title;
  $("live-when").textContent = `${formatDay(wallDay(o.start))}, ${wallTime(o.start)}–${wallTime(o.end)}`;
  $("back-to-calendar").href = `/dashboard?room=${o.room_id}&week=${wallDay(o.start)}`;
  const edit = $("edit-seminar");
  edit.href = `/dashboard/seminars/${o.seminar_id}`;
  edit.hidden = false;

  const badge = $("live-state");
  const text = stateText(o.state);
  if (badge.textContent !== text) badge.textContent = text; // aria-live announces real changes only
  badge.className = `badge ${o.state}`;
  badge.dataset.state = o.state;

  const live = o.state === "live";
  const scheduled = o.state === "scheduled";
  $("start-button").hidden = !scheduled;
  $("stop-button").hidden = !live;
  $("extend-group").hidden = !(live || scheduled);
  $("cancel-date").hidden = !scheduled;
  $("restore-date").hidden = o.state !== "cancelled";
  $("date-actions").hidden = $("cancel-date").hidden && $("restore-date").hidden;

  const joinInput = $("join-url");
  if (joinInput.value !== o.join_url) joinInput.value = o.join_url;

  renderSource(o);
  renderOutputs(o);
  tick();
  $("last-update").textContent = tr("last_update", {
    t: new Date().toLocaleTimeString(document.documentElement.lang, { hour: "2-digit", minute: "2-digit", second: "2-digit" }),
  });
}

function renderSource(o) {
  $("source-block").hidden = !o.source;
  if (!o.source) return;
  const size = o.source.width ? ` · ${o.source.width}×${o.source.height}` : "";
  $("source-state").textContent = `${T[`source_${o.source.state}`] || o.source.state}${size}`;
}

function renderViewers(count) {
  const has = typeof count === "number";
  $("viewers-block").hidden = !has;
  if (has) $("viewers").textContent = String(count);
}

/** Viewer count from the WebRTC stats endpoint while live (hidden if that API is absent). */
async function refreshViewers(o) {
  if (o.state !== "live") return renderViewers(typeof o.viewers === "number" ? o.viewers : null);
  try {
    const stats = await apiOptional(`/occurrences/${id}/viewers`);
    renderViewers(stats && typeof stats.viewers === "number" ? stats.viewers : null);
  } catch {
    renderViewers(null);
  }
}

function renderOutputs(o) {
  const outputs = Array.isArray(o.outputs) ? o.outputs : null;
  $("outputs-block").hidden = !outputs || outputs.length === 0;
  if (!outputs) return;
  $("outputs").replaceChildren(
    ...outputs.map((out) => {
      const kbps = out.bitrate_kbps ?? (out.bitrate ? Math.round(out.bitrate / 1000) : null);
      return el(
        "tr",
        { "data-testid": "output", "data-state": out.state || "" },
        el("td", {}, out.name || out.partner_name || String(out.partner_id ?? out.id ?? "")),
        el("td", {}, el("span", { class: `badge small ${out.state || ""}` }, T[`output_${out.state}`] || out.state || "—")),
        el("td", {}, kbps ? `${kbps} kbit/s` : "—"),
      );
    }),
  );
}

/** The countdown line, once a second, from the last known occurrence. */
function tick() {
  if (!current) return;
  const now = Date.now();
  const start = Date.parse(current.start);
  const end = Date.parse(current.end);
  let text = "";
  if (current.state === "scheduled") text = start > now ? tr("starts_in", { t: formatDuration(start - now) }) : "";
  else if (current.state === "live") {
    const since = Date.parse(current.actual_start || current.start);
    text = `${tr("running_for", { t: formatDuration(now - since) })} · ${tr("ends_in", { t: formatDuration(end - now) })}`;
  } else if (current.state === "ended" && current.actual_end) {
    text = tr("ended_at", { t: formatInstant(current.actual_end, current.timezone, { hour: "2-digit", minute: "2-digit" }) });
  }
  $("countdown").textContent = text;
}

async function refresh() {
  try {
    const o = await api(`/occurrences/${id}`);
    render(o);
    await refreshViewers(o);
    if (message.dataset.kind === "poll") showNotice(message, "");
  } catch (error) {
    if (error.status === 404) {
      showNotice(message, error.message, "bad");
      stopPolling();
      return;
    }
    showNotice(message, T.updating_failed, "bad");
    message.dataset.kind = "poll";
  }
}

function schedule() {
  stopPolling();
  pollTimer = setTimeout(async () => {
    await refresh();
    if (!document.hidden) schedule();
  }, POLL_MS);
}

function stopPolling() {
  if (pollTimer !== null) clearTimeout(pollTimer);
  pollTimer = null;
}

/** Run one control action; the answer is the updated occurrence. */
async function act(button, path, options = {}, confirmText = null) {
  if (busy || (confirmText && !confirm(confirmText))) return;
  busy = true;
  button.disabled = true;
  try {
    render(await api(path, { method: "POST", ...options }));
    message.dataset.kind = "";
    showNotice(message, "");
  } catch (error) {
    showNotice(message, error.message, "bad");
  } finally {
    busy = false;
    button.disabled = false;
    // Focus follows the action: the next sensible control, never lost on a hidden button.
    const next = [$("stop-button"), $("start-button"), $("copy-button")].find((b) => !b.hidden);
    if (button.hidden && next) next.focus();
  }
}

async function copyLink() {
  const input = $("join-url");
  const status = $("copy-status");
  try {
    await navigator.clipboard.writeText(input.value);
    status.textContent = T.copied;
  } catch {
    input.select();
    status.textContent = document.execCommand && document.execCommand("copy") ? T.copied : T.copy_failed;
  }
}

function start() {
  $("start-button").addEventListener("click", (e) => act(e.currentTarget, `/occurrences/${id}/start`));
  $("stop-button").addEventListener("click", (e) => act(e.currentTarget, `/occurrences/${id}/stop`, {}, T.stop_confirm));
  $("extend-button").addEventListener("click", (e) =>
    act(e.currentTarget, `/occurrences/${id}/extend`, { body: { minutes: Number($("extend-minutes").value) } }));
  const setState = async (state, focusAfter) => {
    try {
      render(await api(`/occurrences/${id}`, { method: "PATCH", body: { state } }));
      if (!focusAfter.hidden) focusAfter.focus();
    } catch (error) {
      showNotice(message, error.message, "bad");
    }
  };
  $("cancel-date").addEventListener("click", () => {
    if (confirm(T.cancel_date_confirm)) setState("cancelled", $("restore-date"));
  });
  $("restore-date").addEventListener("click", () => setState("scheduled", $("cancel-date")));
  $("copy-button").addEventListener("click", copyLink);
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) stopPolling();
    else refresh().then(schedule);
  });
  setInterval(tick, 1000);
  refresh().then(schedule);
}

start();
