// Recordings: shown only when the archive API exists. A list with poster, date, length and
// size; a title search; play in the browser (the same-origin media URL is authorised by the
// session cookie and served with Range); keep flag; share link; delete with confirmation.
// While a recording is still being written or finalized, the list refreshes every 5 s.
import { T, tr, api, el, showNotice, formatInstant, copyField } from "./common.js";
import { explainReason } from "./explain.js";

const REFRESH_MS = 5000;
const $ = (id) => document.getElementById(id);
const list = $("recordings-list");
const message = $("recordings-message");
let recordings = [];
let playing = null; // id of the recording in the player
let timer = null;

// "0,4 MB" on the German page, "0.4 MB" on the English one.
const decimal = (n, digits) =>
  n.toLocaleString(document.documentElement.lang || "de", { minimumFractionDigits: digits, maximumFractionDigits: digits });

function size(bytes) {
  if (!bytes) return "—";
  const mb = bytes / 1e6;
  if (mb >= 1000) return `${decimal(mb / 1000, 1)} GB`;
  return mb >= 10 ? `${decimal(mb, 0)} MB` : `${decimal(mb, 1)} MB`;
}

function duration(seconds) {
  if (!seconds) return "—";
  const total = Math.round(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return h ? `${h}:${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}` : `${m}:${String(s).padStart(2, "0")}`;
}

// In the room's zone (the API names it), whatever zone the browser's machine is set to.
const when = (iso, zone) => (iso ? formatInstant(iso, zone, { dateStyle: "medium", timeStyle: "short" }) : "—");

function play(r) {
  const video = $("player-video");
  $("player-h").textContent = `${r.title} · ${when(r.started_at, r.timezone)}`;
  video.poster = r.poster_url || "";
  video.src = r.media_url;
  playing = r.id;
  $("player").hidden = false;
  render();
  $("player").scrollIntoView({ block: "nearest" });
  video.play().catch(() => {}); // the host asked to play; if autoplay is refused, controls remain
  video.focus();
}

function closePlayer() {
  const video = $("player-video");
  video.pause();
  video.removeAttribute("src");
  video.removeAttribute("poster");
  video.load();
  $("player").hidden = true;
  playing = null;
  render();
}

async function setKeep(r, keep) {
  try {
    Object.assign(r, await api(`/recordings/${r.id}`, { method: "PATCH", body: { keep } }));
    showNotice(message, tr(keep ? "r_kept" : "r_not_kept", { title: r.title }), "ok");
  } catch (error) {
    showNotice(message, error.message, "bad");
    render();
  }
}

async function share(r) {
  try {
    const link = await api(`/recordings/${r.id}/share`, { method: "POST", body: {} });
    const input = $("share-url");
    input.value = link.url;
    $("share-label").textContent = tr("r_share_label", { title: r.title });
    $("share-h").textContent = tr("r_share_label", { title: r.title });
    $("share-until").textContent = tr("r_share_until", { date: when(link.expires_at, r.timezone) });
    $("share").hidden = false;
    showNotice(message, "");
    input.focus();
    input.select();
  } catch (error) {
    showNotice(message, error.message, "bad");
  }
}

async function copyShare() {
  showNotice(message, await copyField($("share-url")), "ok");
}

async function remove(r) {
  if (!confirm(tr("r_delete_confirm", { title: r.title }))) return;
  try {
    await api(`/recordings/${r.id}`, { method: "DELETE" });
    if (playing === r.id) closePlayer();
    recordings = recordings.filter((x) => x.id !== r.id);
    render();
    showNotice(message, T.r_deleted, "ok");
    $("recording-search").focus();
  } catch (error) {
    showNotice(message, error.message, "bad");
  }
}

function poster(r) {
  if (r.poster_url) return el("img", { class: "rec-poster", src: r.poster_url, alt: "", loading: "lazy", width: 144, height: 81 });
  return el("div", { class: "rec-poster empty", "aria-hidden": "true" }, T[`r_status_${r.status}`] || r.status);
}

function chatLinks(r) {
  // The date's chat goes with the recording; the export is a plain download (cookie session).
  const base = `/api/v1/occurrences/${r.occurrence_id}/messages/export?format=`;
  return [["markdown", T.r_chat_markdown], ["json", T.r_chat_json]].map(([format, label]) =>
    el("a", { class: "button", href: base + format, download: "", "data-testid": `chat-${format}`,
              "aria-label": tr("r_chat_label", { label, title: r.title }) }, label));
}

function item(r) {
  const ready = Boolean(r.media_url);
  const statusClass = r.status === "failed" ? "failed" : r.status === "available" ? "" : "scheduled";
  return el(
    "li",
    { class: `rec${playing === r.id ? " current" : ""}`, "data-testid": "recording-row", "data-id": r.id, "data-status": r.status },
    poster(r),
    el(
      "div",
      { class: "rec-body" },
      el("h2", { class: "rec-title" }, r.title),
      el(
        "p",
        { class: "rec-meta" },
        el("span", {}, when(r.started_at, r.timezone)),
        el("span", {}, `${T.r_duration}: ${duration(r.duration_s)}`),
        el("span", {}, `${T.r_size}: ${size(r.size_bytes)}`),
        // The reason ("closed early: disk almost full …") as a sentence in the page's language.
        r.status === "available" ? null : el("span", { class: `badge small ${statusClass}`, title: explainReason(T, r.reason), "data-testid": "recording-status" }, T[`r_status_${r.status}`] || r.status),
      ),
      el(
        "div",
        { class: "rec-actions" },
        ready ? el("button", { type: "button", class: "primary", onclick: () => play(r), "aria-label": tr("r_play_label", { title: r.title }) }, `▶ ${T.r_play}`) : null,
        ready ? el("button", { type: "button", onclick: () => share(r), "aria-label": tr("r_share_label_button", { title: r.title }) }, T.r_share) : null,
        // Saved as "<date>-<title>.mp4" (the server names it: Content-Disposition).
        ready ? el("a", { class: "button", href: `${r.media_url}?download=true`, download: "", "data-testid": "download",
                          "aria-label": tr("r_download_label", { title: r.title }) }, T.r_download) : null,
        ...chatLinks(r),
        el("label", { class: "check" },
          el("input", {
            type: "checkbox", checked: r.keep, "aria-label": tr("r_keep_label", { title: r.title }),
            onchange: (e) => setKeep(r, e.currentTarget.checked),
          }),
          T.r_keep),
        el("button", { type: "button", class: "danger", onclick: () => remove(r), "aria-label": `${T.delete}: ${r.title}` }, T.delete),
      ),
    ),
  );
}

function render() {
  const needle = $("recording-search").value.trim().toLowerCase();
  // Newest first: that is the one a host looks for after a seminar.
  const sorted = [...recordings].sort((a, b) => String(b.started_at).localeCompare(String(a.started_at)) || b.id - a.id);
  const shown = sorted.filter((r) => !needle || String(r.title || "").toLowerCase().includes(needle));
  list.setAttribute("aria-busy", "false");
  $("recordings-count").textContent = recordings.length ? tr("r_count", { n: shown.length, total: recordings.length }) : "";
  $("recordings-pending").hidden = !recordings.some((r) => r.status === "recording" || r.status === "finalizing");
  if (!shown.length) {
    list.replaceChildren(el("li", { class: "hint", "data-testid": "no-recordings" }, T.no_recordings));
    return;
  }
  // Keep focus where it was when the list is rebuilt by the auto-refresh.
  const active = document.activeElement;
  const focusLabel = list.contains(active) ? active.getAttribute("aria-label") : null;
  list.replaceChildren(...shown.map(item));
  if (focusLabel) list.querySelector(`[aria-label="${CSS.escape(focusLabel)}"]`)?.focus();
}

async function load() {
  clearTimeout(timer);
  try {
    recordings = await api("/recordings");
    render();
    if (message.dataset.kind === "load") showNotice(message, "");
  } catch (error) {
    showNotice(message, `${T.load_failed} ${error.message}`, "bad");
    message.dataset.kind = "load";
  }
  if (recordings.some((r) => r.status === "recording" || r.status === "finalizing")) {
    timer = setTimeout(load, REFRESH_MS);
  }
}

if (list) {
  $("recording-search").addEventListener("input", render);
  $("recordings-refresh").addEventListener("click", load);
  $("player-close").addEventListener("click", closePlayer);
  $("share-copy").addEventListener("click", copyShare);
  $("share-close").addEventListener("click", () => {
    $("share").hidden = true;
  });
  // For tests and for people reading the console.
  window.knotenRecordings = { reload: load, all: () => recordings };
  load();
}
