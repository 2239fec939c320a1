// Rooms: list, add, edit, delete. The camera source is shown masked by the API, so editing
// sends it only when staff typed a new one.
import { T, tr, api, el, FormErrors, showNotice } from "./common.js";

const $ = (id) => document.getElementById(id);
const form = $("room-form");
const message = $("rooms-message");
const errors = new FormErrors(form, $("room-summary"), {
  name: { slot: "room-name" },
  source: { slot: "room-source" },
  timezone: { slot: "room-timezone" },
});
let editing = null;

function reset() {
  editing = null;
  form.reset();
  errors.clear();
  $("room-form-h").textContent = T.room_new;
  $("room-source").placeholder = "";
  $("room-source-hint").textContent = T.f_source_hint;
  $("room-reset").hidden = true;
}

function edit(room) {
  reset();
  editing = room;
  $("room-form-h").textContent = `${T.room_edit}: ${room.name}`;
  $("room-name").value = room.name;
  $("room-source").value = "";
  $("room-source").placeholder = room.source;
  $("room-source-hint").textContent = `${T.f_source_keep} ${T.f_source_hint}`;
  $("room-timezone").value = room.timezone;
  $("room-reset").hidden = false;
  $("room-name").focus();
}

async function remove(room) {
  if (!confirm(tr("room_delete_confirm", { name: room.name }))) return;
  try {
    await api(`/rooms/${room.id}`, { method: "DELETE" });
    showNotice(message, T.saved, "ok");
    if (editing?.id === room.id) reset();
    await load();
  } catch (error) {
    showNotice(message, error.message, "bad");
  }
}

async function showDisplay(room) {
  try {
    const { url } = await api(`/rooms/${room.id}/display`);
    showNotice(message, `${tr("room_display_label", { name: room.name })}: ${url} — ${T.room_display_hint}`, "ok");
  } catch (error) {
    showNotice(message, error.message, "bad");
  }
}

async function load() {
  const rooms = await api("/rooms");
  $("rooms-body").replaceChildren(
    ...rooms.map((room) =>
      el(
        "tr",
        { "data-testid": "room-row" },
        el("td", {}, room.name),
        room.source === "testsrc" ? el("td", {}, T.testsrc) : el("td", { class: "secret" }, room.source),
        el("td", {}, room.timezone),
        el(
          "td",
          { class: "actions-cell" },
          el("button", { type: "button", onclick: () => edit(room), "aria-label": `${T.edit}: ${room.name}` }, T.edit), " ",
          el("button", { type: "button", "data-testid": "room-display", onclick: () => showDisplay(room), "aria-label": tr("room_display_label", { name: room.name }) }, T.room_display), " ",
          el("button", { type: "button", class: "danger", onclick: () => remove(room), "aria-label": `${T.delete}: ${room.name}` }, T.delete),
        ),
      ),
    ),
  );
}

/** "Gespeichert" plus what the service found when it tested the camera address. */
function checkText(check) {
  if (!check || check.status === "not_checked") return [T.saved, "ok"];
  const values = {
    address: check.address || "",
    size: check.width && check.height ? `${check.width}×${check.height}` : "?",
    codec: check.codec || "?",
    error: check.message || "",
  };
  if (check.status === "ok") return [`${T.saved} ${tr("room_check_ok", values)}`, "ok"];
  if (check.status === "no_picture") return [`${T.saved} ${tr("room_check_no_picture", values)}`, "warn"];
  return [`${T.saved} ${tr("room_check_unreachable", values)}`, "warn"];
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  errors.clear();
  const body = { name: $("room-name").value.trim(), timezone: $("room-timezone").value.trim() };
  if (!body.name) return errors.show([["name", T.e_required]]);
  const source = $("room-source").value.trim();
  if (source || !editing) body.source = source || "testsrc";
  try {
    const saved = editing
      ? await api(`/rooms/${editing.id}`, { method: "PATCH", body })
      : await api("/rooms", { method: "POST", body });
    reset();
    const [text, kind] = checkText(saved.camera_check);
    showNotice(message, text, kind);
    await load();
  } catch (error) {
    const field = error.field && error.field.split(".")[0];
    if (field && errors.fields[field]) errors.show([[field, error.message]]);
    else if (error.code === "conflict" || error.status === 409) errors.show([["name", error.message]]);
    else showNotice(message, error.message, "bad");
  }
});
$("room-reset").addEventListener("click", reset);
load().catch((error) => showNotice(message, `${T.load_failed} ${error.message}`, "bad"));
