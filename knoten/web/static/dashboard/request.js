// A requested seminar ("angefragt"): the page says so; staff confirm or decline it here.
// Also the seminar's one participant link for all its dates.
import { T, api, copyField, showNotice } from "./common.js";

/** The seminar's one participant link (opens the current or next date), with a copy button. */
export function showSeriesLink(seminar) {
  const input = document.getElementById("series-link");
  if (!input || !seminar.series_join_url) return;
  input.value = seminar.series_join_url;
  document.getElementById("series-link-copy").addEventListener("click", async () => {
    document.getElementById("series-link-status").textContent = await copyField(input);
  });
}

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
