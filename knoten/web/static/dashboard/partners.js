// Partners (broadcast destinations): list, add, edit, delete. The push URL holds the stream key
// and is write-only: the API only ever shows it masked, and the form never fills it in.
import { T, tr, api, el, FormErrors, showNotice } from "./common.js";

const $ = (id) => document.getElementById(id);
const form = $("partner-form");
const message = $("partners-message");
const errors = new FormErrors(form, $("partner-summary"), {
  name: { slot: "partner-name" },
  kind: { slot: "partner-kind" },
  url: { slot: "partner-url" },
  profile: { slot: "partner-profile" },
});
let editing = null;

function toggleKind() {
  $("partner-url-field").hidden = $("partner-kind").value === "hls";
}

function reset() {
  editing = null;
  form.reset();
  errors.clear();
  $("partner-kind").disabled = false;
  $("partner-form-h").textContent = T.partner_new;
  $("partner-url").placeholder = "";
  $("partner-reset").hidden = true;
  toggleKind();
}

function edit(partner) {
  reset();
  editing = partner;
  $("partner-form-h").textContent = `${T.partner_edit}: ${partner.name}`;
  $("partner-name").value = partner.name;
  $("partner-kind").value = partner.kind;
  $("partner-kind").disabled = true; // the kind cannot change
  $("partner-url").placeholder = partner.url ? `${partner.url} (${T.secret_set})` : "";
  $("partner-profile").value = partner.profile;
  $("partner-enabled").checked = partner.enabled;
  $("partner-reset").hidden = false;
  toggleKind();
  $("partner-name").focus();
}

function showToken(token) {
  showNotice(message, tr("p_hls_token", { token }), "ok");
}

async function rotate(partner) {
  if (!confirm(T.p_rotate_confirm)) return;
  try {
    showToken((await api(`/partners/${partner.id}/hls-token`, { method: "POST" })).hls_token);
  } catch (error) {
    showNotice(message, error.message, "bad");
  }
}

async function remove(partner) {
  if (!confirm(tr("partner_delete_confirm", { name: partner.name }))) return;
  try {
    await api(`/partners/${partner.id}`, { method: "DELETE" });
    if (editing?.id === partner.id) reset();
    showNotice(message, T.saved, "ok");
    await load();
  } catch (error) {
    showNotice(message, error.message, "bad");
  }
}

async function load() {
  const partners = await api("/partners");
  if (!partners.length) {
    $("partners-body").replaceChildren(el("tr", {}, el("td", { colspan: 6 }, T.no_partners)));
    return;
  }
  $("partners-body").replaceChildren(
    ...partners.map((p) =>
      el(
        "tr",
        { "data-testid": "partner-row" },
        el("td", {}, p.name),
        el("td", {}, p.kind.toUpperCase()),
        el("td", { class: "secret" }, p.url || "—"),
        el("td", {}, p.profile === "audio" ? T.p_audio : p.profile),
        el("td", {}, p.enabled ? T.yes : T.no),
        el(
          "td",
          { class: "actions-cell" },
          el("button", { type: "button", onclick: () => edit(p), "aria-label": `${T.edit}: ${p.name}` }, T.edit), " ",
          p.kind === "hls" ? el("button", { type: "button", onclick: () => rotate(p) }, T.p_rotate) : null, " ",
          el("button", { type: "button", class: "danger", onclick: () => remove(p), "aria-label": `${T.delete}: ${p.name}` }, T.delete),
        ),
      ),
    ),
  );
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  errors.clear();
  const body = {
    name: $("partner-name").value.trim(),
    profile: $("partner-profile").value,
    enabled: $("partner-enabled").checked,
  };
  if (!body.name) return errors.show([["name", T.e_required]]);
  const url = $("partner-url").value;
  if (!editing) body.kind = $("partner-kind").value;
  if (url && $("partner-kind").value !== "hls") body.url = url;
  try {
    if (editing) {
      await api(`/partners/${editing.id}`, { method: "PATCH", body });
      showNotice(message, T.saved, "ok");
    } else {
      const created = await api("/partners", { method: "POST", body });
      if (created.hls_token) showToken(created.hls_token);
      else showNotice(message, T.saved, "ok");
    }
    reset();
    await load();
  } catch (error) {
    const field = error.field && error.field.split(".")[0];
    if (field && errors.fields[field]) errors.show([[field, error.message]]);
    else showNotice(message, error.message, "bad");
  }
});
$("partner-kind").addEventListener("change", toggleKind);
$("partner-reset").addEventListener("click", reset);
toggleKind();
load().catch((error) => showNotice(message, `${T.load_failed} ${error.message}`, "bad"));
