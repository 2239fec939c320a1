// Recordings: shown only when the archive API exists. Lists what the API reports, with a
// simple search over titles; play, keep and delete arrive with the recordings issue.
import { T, api, el, showNotice, formatInstant } from "./common.js";

const $ = (id) => document.getElementById(id);
const body = $("recordings-body");
const message = $("recordings-message");
let recordings = [];

function size(bytes) {
  if (!bytes) return "—";
  const mb = bytes / 1e6;
  return mb >= 1000 ? `${(mb / 1000).toFixed(1)} GB` : `${mb.toFixed(0)} MB`;
}

function duration(seconds) {
  if (!seconds) return "—";
  const m = Math.round(seconds / 60);
  return `${Math.floor(m / 60)}:${String(m % 60).padStart(2, "0")} h`;
}

function render() {
  const needle = $("recording-search").value.trim().toLowerCase();
  const shown = recordings.filter((r) => !needle || String(r.title || "").toLowerCase().includes(needle));
  if (!shown.length) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: 4 }, T.no_recordings)));
    return;
  }
  body.replaceChildren(
    ...shown.map((r) => {
      const when = r.started_at || r.start || r.created_at;
      return el(
        "tr",
        { "data-testid": "recording-row" },
        el("td", {}, r.title || r.name || `#${r.id}`),
        el("td", {}, when ? formatInstant(when, undefined, { dateStyle: "medium", timeStyle: "short" }) : "—"),
        el("td", {}, duration(r.duration_s ?? r.duration)),
        el("td", {}, size(r.size_bytes ?? r.size)),
      );
    }),
  );
}

async function load() {
  try {
    const data = await api("/recordings");
    recordings = Array.isArray(data) ? data : data.items || data.recordings || [];
    render();
  } catch (error) {
    showNotice(message, `${T.load_failed} ${error.message}`, "bad");
  }
}

if (body) {
  $("recording-search").addEventListener("input", render);
  load();
}
