// A requested seminar ("angefragt"): the page says so; staff confirm or decline it here.
import { T, api, showNotice } from "./common.js";

/** Show the request box for ``seminar``; ``done(seminar|null)`` runs after confirm/decline. */
export function showRequest(seminar, done) {
  const box = document.getElementById("request-box");
  if (!box) return;
  box.hidden = !seminar.requested;
  if (!seminar.requested) return;
  const message = document.getElementById("request-message");
  const act = async (what) => {
    if (what === "decline" && !confirm(T.request_decline_confirm)) return;
    try {
      const answer = await api(`/seminars/${seminar.id}/${what}`, { method: "POST" });
      showNotice(message, what === "confirm" ? T.request_confirmed : T.request_declined, "ok");
      done(what === "confirm" ? answer : null);
    } catch (error) {
      showNotice(message, error.message, "bad");
    }
  };
  document.getElementById("request-confirm")?.addEventListener("click", () => act("confirm"));
  document.getElementById("request-decline")?.addEventListener("click", () => act("decline"));
}
