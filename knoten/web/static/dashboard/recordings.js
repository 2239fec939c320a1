// Recordings: shown only when the archive API exists. List with a title search, play in the
// browser (same-origin media URL, authorised by the session cookie), keep flag, share link,
// delete with confirmation.
import { T, tr, api, el, showNotice, formatInstant } from "./common.js";

const $ = (id) => document.getElementById(id);
const body = $("recordings-body");
const message = $("recordings-message");
let recordings = [];

function size(bytes) {
  if (!bytes) return "—";
  const mb = bytes / 1e6;
  return mb >= 1000 ? `${(mb / 1000).toFixed(1)} GB` : `${Math.max(1, Math.round(mb))} MB`;
}

function duration(seconds) {
  if (!seconds) return "—";
  const total = Math.round(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return h ? `${h}:${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}` : `${m}:${String(s).padStart(2, "0")}`;
}

function play(r) {
  const video = $("player-video");
  $("player-h").textContent = r.title;
  video.poster = r.poster_url || "";
  video.src = r.media_url;
  $("player").hidden = false;
  $("player").scrollIntoView({ block: "nearest" });
  video.focus();
}

async function setKeep(r, keep) {
  try {
    Object.assign(r, await api(`/recordings/${r.id}`, { method: "PATCH", body: { keep } }));
    showNotice(message, T.saved, "ok");
  } catch (error) {
    showNotice(message, error.message, "bad");
    render();
  }
}

async function share(r) {
  try {
    const link = await api(`/recordings/${r.id}/share`, { method: "POST", body: {} });
    const date = formatInstant(link.expires_at, undefined, { dateStyle: "medium", timeStyle: "short" });
    showNotice(message, tr("r_share_link", { date, url: link.url }), "ok");
  } catch (error) {
    showNotice(message, error.message, "bad");
  }
}

async function remove(r) {
  if (!confirm(tr("r_delete_confirm", { title: r.title }))) return;
  try {
    await api(`/recordings/${r.id}`, { method: "DELETE" });
    recordings = recordings.filter((x) => x.id !== r.id);
    render();
    showNotice(message, T.r_deleted, "ok");
  } catch (error) {
    showNotice(message, error.message, "bad");
  }
}

function render() {
  const needle = $("recording-search").value.trim().toLowerCase();
  const shown = recordings.filter((r) => !needle || String(r.title || "").toLowerCase().includes(needle));
  if (!shown.length) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: 7 }, T.no_recordings)));
    return;
  }
  body.replaceChildren(
    ...shown.map((r) =>
      el(
        "tr",
        { "data-testid": "recording-row" },
        el("td", {}, r.title),
        el("td", {}, r.started_at ? formatInstant(r.started_at, undefined, { dateStyle: "medium", timeStyle: "short" }) : "—"),
        el("td", {}, duration(r.duration_s)),
        el("td", {}, size(r.size_bytes)),
        el("td", {}, el("span", { class: `badge small ${r.status === "failed" ? "failed" : ""}` }, T[`r_status_${r.status}`] || r.status)),
        el("td", {}, el("input", {
          type: "checkbox", checked: r.keep, "aria-label": tr("r_keep_label", { title: r.title }),
          onchange: (e) => setKeep(r, e.currentTarget.checked),
        })),
        el(
          "td",
          { class: "actions-cell" },
          r.media_url ? el("button", { type: "button", onclick: () => play(r) }, T.r_play) : null, " ",
          r.media_url ? el("button", { type: "button", onclick: () => share(r) }, T.r_share) : null, " ",
          el("button", { type: "button", class: "danger", onclick: () => remove(r), "aria-label": `${T.delete}: ${r.title}` }, T.delete),
        ),
      ),
    ),
  );
}

async function load() {
  try {
    recordings = await api("/recordings");
    render();
  } catch (error) {
    showNotice(message, `${T.load_failed} ${error.message}`, "bad");
  }
}

if (body) {
  $("recording-search").addEventListener("input", render);
  $("player-close").addEventListener("click", () => {
    const video = $("player-video");
    video.pause();
    video.removeAttribute("src");
    video.load();
    $("player").hidden = true;
  });
  load();
}
