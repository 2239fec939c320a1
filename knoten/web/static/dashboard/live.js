// Live panel of one occurrence: state, countdown, start early / stop / extend, join link + QR,
// the camera (source state, what is on air), partner outputs with state and bitrate, viewers,
// and an optional WebRTC preview (preview.js). Follows the occurrence over Server-Sent Events
// (GET /dashboard/occurrences/{id}/events: the API's JSON plus `viewers`, on every change); if
// the stream keeps failing it falls back to polling GET /api/v1/occurrences/{id} every 2 s.
// Both pause while the tab is hidden; blocks appear only when the API reports their fields.
import {
  T, tr, api, apiOptional, el, showNotice, wallDay, wallTime, formatDay, formatDuration, formatInstant, stateText,
} from "./common.js";
import { Preview } from "./preview.js";
import { explainOutput, setZone } from "./explain.js";

// Outputs whose FFmpeg detail the host opened: the table is rebuilt every second.
const openDetails = new Set();

const POLL_MS = 2000;
/** Errors in a row (without an event or an open in between) before falling back to polling. */
const STREAM_FAILURES = 3;
const main = document.getElementById("main");
const id = Number(main.dataset.occurrenceId);
const $ = (name) => document.getElementById(name);
const message = $("live-message");

let current = null;
let pollTimer = null;
let busy = false;
let stream = null; // the EventSource while it is open
let streamFailures = 0;
let streaming = typeof EventSource === "function"; // false once we fell back to polling

function render(o) {
  current = o;
  setZone(o.timezone);  // a clash on "Verlängern" names the other date in the room's time
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
  renderResume(o);
  $("extend-group").hidden = !(live || scheduled);
  $("cancel-date").hidden = !scheduled;
  $("restore-date").hidden = o.state !== "cancelled";
  $("date-actions").hidden = $("cancel-date").hidden && $("restore-date").hidden;

  const joinInput = $("join-url");
  if (joinInput.value !== o.join_url) joinInput.value = o.join_url;
  // Only where the service writes the public rendition (media.public_hls).
  $("public-hls").hidden = !o.public_hls_url;
  const hlsInput = $("public-hls-url");
  if (o.public_hls_url && hlsInput.value !== o.public_hls_url) hlsInput.value = o.public_hls_url;

  $("record-note").hidden = !(o.record && (live || scheduled));
  const after = $("recording-after");
  if (after) after.hidden = !(o.record && o.state === "ended" && o.actual_start);
  $("picture-card").hidden = !o.source && !(live || scheduled);
  renderSource(o);
  renderOutputs(o);
  renderPreview(o);
  tick();
  $("last-update").textContent = tr("last_update", {
    t: new Date().toLocaleTimeString(document.documentElement.lang, { hour: "2-digit", minute: "2-digit", second: "2-digit" }),
  });
}

/** A camera in trouble says what is wrong and what Knoten does about it. */
function renderProblem(source) {
  const box = $("source-problem");
  const trouble = Boolean(source && source.problem && (source.state === "lost" || source.state === "starting"));
  box.hidden = !trouble;
  if (!trouble) return;
  const retry = typeof source.retry_in_s === "number"
    ? tr("camera_retry_in", { s: Math.max(1, Math.ceil(source.retry_in_s)) })
    : T.camera_retrying;
  setText($("source-problem-text"), `${tr("camera_lost", { source: source.address || source.kind })}, ${retry}`);
  setText($("source-problem-detail"), tr("camera_error", { error: source.problem }));
}

/** Seconds of silence after which the host is warned (while the date is live). */
const SILENCE_WARNING_S = 30;

/** The room microphone: a meter of the last 100 ms, and a warning after 30 s of silence. */
function renderAudio(o, source) {
  const has = Boolean(source) && "audio_level_db" in source;
  $("audio-block").hidden = !has;
  const warning = $("audio-silent");
  if (!has) {
    warning.hidden = true;
    return;
  }
  const db = source.audio_level_db;
  $("audio-meter").value = typeof db === "number" ? Math.max(-60, Math.min(0, db)) : -60;
  setText($("audio-value"), typeof db === "number" ? tr("audio_level_value", { db: Math.round(db) }) : "—");
  const silent = o.state === "live" && typeof source.silent_s === "number" && source.silent_s >= SILENCE_WARNING_S;
  warning.hidden = !silent;
  if (silent) setText(warning, tr("audio_silent", { s: Math.floor(source.silent_s) }));
}

function renderSource(o) {
  const source = o.source || null;
  renderProblem(source);
  renderAudio(o, source);
  $("source-block").hidden = !source;
  $("source-idle").hidden = Boolean(source) || o.state === "ended";
  if (!source) return;
  const badge = $("source-state");
  setText(badge, T[`src_${source.state}`] || source.state);
  badge.className = `badge small src-${source.state}`;
  badge.dataset.state = source.state;
  const onAir = $("source-on-air");
  setText(onAir, source.on_air ? T[`on_air_${source.on_air}`] || source.on_air : "—");
  onAir.dataset.onAir = source.on_air || "";
  onAir.className = source.on_air === "slate" ? "on-air slate" : "on-air";
  const parts = [];
  if (source.width && source.height) parts.push(`${source.width}×${source.height}`);
  if (source.fps) parts.push(`${Math.round(source.fps)} fps`);
  setText($("source-format"), parts.join(" · ") || "—");
}

/** "Fortsetzen" for a date staff stopped, while its time lasts (the API checks again). */
function renderResume(o) {
  const can = o.state === "ended" && o.state_reason === "stopped by staff" && Date.parse(o.end) > Date.now();
  const button = $("resume-button");
  button.hidden = !can;
  // The stop that made it visible may still be winding down (FFmpeg leaving): wait for it.
  button.disabled = busy;
  const hint = $("resume-hint");
  hint.hidden = !can;
  if (can) setText(hint, tr("resume_hint", { time: wallTime(o.end) }));
}

/** Change text only when it differs (keeps screen readers and selections calm). */
function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/** Load shedding: the service refuses new viewers, has lowered their limit or reduced the
 * partner-only profiles (hidden: normal). */
function renderLoad(load) {
  const notice = $("load-notice");
  const parts = [];
  if (load && load.level && load.level !== "normal") parts.push(T.load_refuse);
  if (load && typeof load.viewer_limit === "number") parts.push(tr("load_lowered", { limit: load.viewer_limit }));
  if (load && load.partner_profiles_reduced) parts.push(T.load_partners);
  const text = parts.join(" ");
  notice.hidden = !text;
  setText(notice, text);
}

function renderViewers(count) {
  const has = typeof count === "number";
  $("viewers-block").hidden = !has;
  if (has) setText($("viewers"), String(count));
}

/** Viewer count from the WebRTC stats endpoint while live (hidden if that API is absent). */
async function refreshViewers(o) {
  if (o.state !== "live") return renderViewers(typeof o.viewers === "number" ? o.viewers : null);
  try {
    const stats = await apiOptional(`/occurrences/${id}/viewers`);
    renderViewers(stats && typeof stats.viewers === "number" ? stats.viewers : null);
    renderLoad(stats && stats.load);
  } catch {
    renderViewers(null);
  }
}

function renderOutputs(o) {
  const outputs = Array.isArray(o.outputs) ? o.outputs : null;
  $("outputs-card").hidden = !outputs || outputs.length === 0;
  if (!outputs) return;
  $("outputs").replaceChildren(
    ...outputs.map((out) => {
      const kbps = out.bitrate_kbps ?? (out.bitrate ? out.bitrate / 1000 : null);
      const trouble = out.state === "retrying" || out.state === "failed";
      const notes = [];
      const problem = trouble && out.last_error ? explainOutput(T, out.last_error, out.state) : null;
      const key = String(out.name ?? out.partner_id ?? out.id ?? "");
      if (out.restarts) notes.push(tr("output_restarts", { n: out.restarts }));
      return el(
        "tr",
        { "data-testid": "output", "data-state": out.state || "", "data-name": out.name || "" },
        el("th", { scope: "row" },
          out.name || out.partner_name || String(out.partner_id ?? out.id ?? ""),
          out.profile ? el("span", { class: "hint inline" }, ` · ${out.profile}`) : null,
          problem ? el("span", { class: "hint block", "data-testid": "output-problem" }, problem) : null,
          problem ? el("details", {
            class: "hint", open: openDetails.has(key), "data-testid": "output-detail",
            ontoggle: (e) => (e.currentTarget.open ? openDetails.add(key) : openDetails.delete(key)),
          }, el("summary", {}, T.error_detail), el("code", {}, out.last_error)) : null,
          notes.length ? el("span", { class: "hint block" }, notes.join(" · ")) : null),
        el("td", {}, el("span", { class: `badge small out-${out.state || ""}` }, T[`output_${out.state}`] || out.state || "—")),
        el("td", { class: "num", "data-testid": "output-bitrate" }, kbps ? `${Math.round(kbps).toLocaleString(document.documentElement.lang)} kbit/s` : "—"),
      );
    }),
  );
}

// -- preview ----------------------------------------------------------------------------------

const previewButton = $("preview-button");
const previewStatus = $("preview-status");
const preview = new Preview({
  occurrenceId: id,
  video: $("preview-video"),
  onStatus: (key, values) => {
    previewStatus.textContent = tr(key, values);
    previewStatus.classList.toggle("over-video", key === "preview_live");
    syncPreviewButton();
  },
});

function syncPreviewButton() {
  const open = preview.open;
  previewButton.textContent = open ? T.preview_hide : T.preview_show;
  const sound = $("preview-sound");
  sound.hidden = !open;
  const video = $("preview-video");
  if (!open) video.muted = true; // every new preview starts muted
  sound.textContent = video.muted ? T.preview_sound_on : T.preview_sound_off;
  sound.setAttribute("aria-pressed", String(!video.muted));
}

/** One click to hear the room in the preview (muted by default: a host in the room would
 * hear an echo). */
function togglePreviewSound() {
  const video = $("preview-video");
  video.muted = !video.muted;
  if (!video.muted) video.play().catch(() => {});
  syncPreviewButton();
}

function renderPreview(o) {
  const live = o.state === "live";
  $("preview-block").hidden = !live;
  if (!live && preview.open) preview.close();
}

async function togglePreview() {
  if (preview.open) {
    preview.close();
    return;
  }
  if (!current || current.state !== "live") return;
  let iceServers = [];
  try {
    // The join page's own state document tells which ICE servers (if any) the service uses.
    const url = new URL(current.join_url, location.href);
    const response = await fetch(`/join/${id}/state${url.search}`, { cache: "no-store", credentials: "omit" });
    if (response.ok) iceServers = (await response.json()).ice_servers || [];
  } catch {
    iceServers = [];
  }
  await preview.start(current.join_url, iceServers);
  syncPreviewButton();
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
    if (error.status === 0) lostConnection();
    else {
      showNotice(message, T.updating_failed, "bad");
      message.dataset.kind = "poll";
    }
  }
}

function lostConnection() {
  showNotice(message, T.connection_lost, "offline");
  message.dataset.kind = "poll";
}

// -- updates: the event stream, or polling as the fallback -------------------------------------

function openStream() {
  if (stream || !streaming) return;
  const source = new EventSource(`/dashboard/occurrences/${id}/events`);
  stream = source;
  source.addEventListener("open", () => {
    streamFailures = 0;
  });
  source.addEventListener("occurrence", (event) => {
    if (stream !== source) return;
    let o;
    try {
      o = JSON.parse(event.data);
    } catch {
      return;
    }
    streamFailures = 0;
    render(o);
    renderViewers(typeof o.viewers === "number" ? o.viewers : null);
    renderLoad(o.load);
    if (message.dataset.kind === "poll") showNotice(message, "");
  });
  source.addEventListener("gone", () => {
    // The date was deleted: one plain request shows the API's message (and stops there).
    closeStream();
    streaming = false;
    refresh();
  });
  source.addEventListener("error", () => {
    if (stream !== source) return;
    streamFailures += 1;
    // The stream broke: the service may be gone. Say so at once instead of showing a frozen
    // "Live" (an event or a successful poll clears it).
    lostConnection();
    // CLOSED: the browser gave up (the answer was no event stream: a 401 after sign-out, a
    // 404 …); polling then shows why. Otherwise it reconnects by itself — a few times.
    if (source.readyState === EventSource.CLOSED || streamFailures >= STREAM_FAILURES) {
      closeStream();
      streaming = false;
      refresh().then(schedule);
    } else {
      // Fills the panel if nothing is shown yet, and tells a broken stream (the API still
      // answers: the notice goes) from a service that is gone (it stays).
      refresh();
    }
  });
}

function closeStream() {
  if (stream) stream.close();
  stream = null;
}

/** Start following the occurrence (after load, and when the tab becomes visible again). */
function follow() {
  if (streaming) openStream();
  else refresh().then(schedule);
}

/** Stop every update (tab hidden, page left). */
function pause() {
  closeStream();
  stopPolling();
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

// -- asking before start and stop ---------------------------------------------------------------

const dialog = $("confirm-dialog");

/** Show the confirmation dialog; resolves true when the host pressed the OK button. */
function ask({ title, early = "", lines, ok }) {
  $("confirm-title").textContent = title;
  const earlyNode = $("confirm-early");
  earlyNode.textContent = early;
  earlyNode.hidden = !early;
  $("confirm-what").replaceChildren(...lines.map((line) => el("li", {}, line)));
  $("confirm-ok").textContent = ok;
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
    $("confirm-cancel").focus(); // the safe choice has the focus
  });
}

/** What starting this date will do: camera, recording, partners, until when. */
async function startLines(o, endMs) {
  const [seminar, room, partners] = await Promise.all([
    api(`/seminars/${o.seminar_id}`).catch(() => null),
    api(`/rooms/${o.room_id}`).catch(() => null),
    apiOptional("/partners").catch(() => null),
  ]);
  const lines = [];
  if (room) {
    const source = T[`src_kind_${room.source}`] || room.source;
    lines.push(tr("start_what_camera", { room: room.name, source }));
  }
  lines.push(o.record ? T.start_what_record : T.start_what_no_record);
  const ids = (seminar && seminar.partner_ids) || [];
  const names = ids.map((pid) => (partners || []).find((p) => p.id === pid)?.name || `#${pid}`);
  lines.push(names.length ? tr("start_what_partners", { names: names.join(", ") }) : T.start_what_no_partners);
  const end = new Date(endMs).toISOString();
  const day = formatInstant(end, o.timezone, { weekday: "long", day: "numeric", month: "long", year: "numeric" });
  const time = formatInstant(end, o.timezone, { hour: "2-digit", minute: "2-digit" });
  lines.push(tr("start_what_until", { day, time }));
  return lines;
}

/** "Jetzt starten": say what will happen; a date far ahead is offered a move to now. */
async function confirmStart(button, tooEarly = false) {
  if (busy || !current) return;
  const o = current;
  const early = tooEarly || (o.early_start_from && Date.now() < Date.parse(o.early_start_from));
  // Moved to now, the date keeps its length.
  const end = early ? Date.now() + Date.parse(o.end) - Date.parse(o.start) : Date.parse(o.end);
  const ok = await ask({
    title: T.start_confirm_title,
    early: early ? tr("start_too_early", { day: formatDay(wallDay(o.start)), time: wallTime(o.start) }) : "",
    lines: await startLines(o, end),
    ok: early ? T.start_move_ok : T.start_confirm_ok,
  });
  if (!ok) return;
  const error = await act(button, `/occurrences/${id}/start`, early ? { body: { move_to_now: true } } : {});
  // The service's clock decides: a refusal it saw as too early offers the move.
  if (error && error.code === "start_too_early" && !early) confirmStart(button, true);
}

async function confirmStop(button) {
  if (busy || !current) return;
  const ok = await ask({
    title: T.stop_confirm,
    lines: [T.stop_what, tr("stop_what_undo", { time: wallTime(current.end) })],
    ok: T.stop_confirm_ok,
  });
  if (ok) await act(button, `/occurrences/${id}/stop`);
}

/** Run one control action; the answer is the updated occurrence. Returns the error, if any. */
async function act(button, path, options = {}) {
  if (busy) return null;
  let failure = null;
  busy = true;
  button.disabled = true;
  try {
    render(await api(path, { method: "POST", ...options }));
    message.dataset.kind = "";
    showNotice(message, "");
  } catch (error) {
    failure = error;
    if (error.code !== "start_too_early") showNotice(message, error.message, "bad");
  } finally {
    busy = false;
    button.disabled = false;
    if (current) renderResume(current);
    // Focus follows the action: the next sensible control, never lost on a hidden button.
    const next = [$("stop-button"), $("resume-button"), $("start-button"), $("copy-button")].find((b) => !b.hidden);
    if (button.hidden && next) next.focus();
  }
  return failure;
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
  $("start-button").addEventListener("click", (e) => confirmStart(e.currentTarget));
  $("stop-button").addEventListener("click", (e) => confirmStop(e.currentTarget));
  $("resume-button").addEventListener("click", (e) => act(e.currentTarget, `/occurrences/${id}/resume`));
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
  previewButton.addEventListener("click", togglePreview);
  $("preview-sound").addEventListener("click", togglePreviewSound);
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) {
      pause();
      preview.close(); // no picture for nobody: free the viewer slot while the tab is hidden
    } else follow();
  });
  // Leaving the page (or going into the back/forward cache) closes the stream at once; coming
  // back from that cache opens it again.
  window.addEventListener("pagehide", pause);
  window.addEventListener("pageshow", (event) => {
    if (event.persisted && !document.hidden) follow();
  });
  setInterval(tick, 1000);
  follow();
}

// For tests and for people reading the console.
window.knotenLive = {
  preview: () => preview.peer,
  current: () => current,
  mode: () => (stream ? "stream" : pollTimer !== null ? "polling" : "paused"),
};

start();
