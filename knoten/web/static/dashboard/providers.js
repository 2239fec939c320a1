// Providers (Bildungsträger) with their hosts and partners; staff add providers and accounts.
import { T, tr, api, el, FormErrors, showNotice } from "./common.js";

const $ = (id) => document.getElementById(id);
const message = $("providers-message");
const providerForm = $("provider-form");
const accountForm = $("account-form");
const providerErrors = new FormErrors(providerForm, $("provider-summary"), {
  name: { slot: "provider-name" },
  contact: { slot: "provider-contact" },
  _default: { slot: "provider-name" },
});
const accountErrors = new FormErrors(accountForm, $("account-summary"), {
  username: { slot: "account-username" },
  password: { slot: "account-password" },
  provider_id: { slot: "account-provider" },
  partner_id: { slot: "account-partner" },
  _default: { slot: "account-username" },
});

const names = (accounts) => accounts.map((a) => `${a.display_name} (${a.username})`).join(", ") || "—";

async function remove(provider) {
  if (!confirm(tr("provider_delete_confirm", { name: provider.name }))) return;
  try {
    await api(`/providers/${provider.id}`, { method: "DELETE" });
    showNotice(message, T.saved, "ok");
    await load();
  } catch (error) {
    showNotice(message, error.message, "bad");
  }
}

async function setDirect(provider, box) {
  try {
    await api(`/providers/${provider.id}`, { method: "PATCH", body: { direct_booking: box.checked } });
    showNotice(message, T.saved, "ok");
  } catch (error) {
    box.checked = !box.checked;
    showNotice(message, error.message, "bad");
  }
}

async function loadPartners() {
  const partners = await api("/partners");
  $("account-partner").replaceChildren(...partners.map((p) => el("option", { value: String(p.id) }, p.name)));
}

function toggleRole() {
  $("account-partner-field").hidden = $("account-role").value !== "partner";
}

async function load() {
  const providers = await api("/providers");
  $("providers-body").replaceChildren(
    ...providers.map((p) =>
      el(
        "tr",
        { "data-testid": "provider-row" },
        el("td", {}, p.name),
        el("td", {}, p.contact || "—"),
        el("td", {}, names(p.hosts)),
        el("td", {}, names(p.partners)),
        el("td", {}, p.is_default ? "—" : el("input", {
          type: "checkbox", checked: p.direct_booking, "aria-label": `${T.provider_direct}: ${p.name}`,
          onchange: (event) => setDirect(p, event.target),
        })),
        el(
          "td",
          { class: "actions-cell" },
          p.is_default
            ? ""
            : el("button", { type: "button", class: "danger", onclick: () => remove(p), "aria-label": `${T.delete}: ${p.name}` }, T.delete),
        ),
      ),
    ),
  );
  const select = $("account-provider");
  const chosen = select.value;
  select.replaceChildren(...providers.map((p) => el("option", { value: String(p.id) }, p.name)));
  if (chosen) select.value = chosen;
}

function fieldError(errors, error) {
  const field = error.field && error.field.split(".")[0];
  if (field && errors.fields[field]) errors.show([[field, error.message]]);
  else errors.show([["_default", error.message]]);
}

providerForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  providerErrors.clear();
  const body = {
    name: $("provider-name").value.trim(),
    contact: $("provider-contact").value.trim(),
    direct_booking: $("provider-direct").checked,
  };
  if (!body.name) return providerErrors.show([["name", T.e_required]]);
  try {
    await api("/providers", { method: "POST", body });
    providerForm.reset();
    showNotice(message, T.saved, "ok");
    await load();
  } catch (error) {
    fieldError(providerErrors, error);
  }
});

accountForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  accountErrors.clear();
  const role = $("account-role").value;
  const body = {
    username: $("account-username").value.trim().toLowerCase(),
    display_name: $("account-display-name").value.trim(),
    password: $("account-password").value,
    role,
  };
  if (role !== "staff") body.provider_id = Number($("account-provider").value);
  if (role === "partner" && $("account-partner").value) body.partner_id = Number($("account-partner").value);
  if (!body.username) return accountErrors.show([["username", T.e_required]]);
  if (body.password.length < 10) return accountErrors.show([["password", T.account_password_hint]]);
  try {
    await api("/accounts", { method: "POST", body });
    accountForm.reset();
    showNotice(message, tr("account_created", { name: body.username }), "ok");
    await load();
  } catch (error) {
    fieldError(accountErrors, error);
  }
});

$("account-role").addEventListener("change", toggleRole);
toggleRole();
load().catch((error) => showNotice(message, `${T.load_failed} ${error.message}`, "bad"));
loadPartners().catch(() => {});
