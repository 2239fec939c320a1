// The live panel's "hear the speakers" switch: the host hears the speakers on stage in this
// browser (static/listen.js, authorised by the dashboard session and its CSRF token). Off by
// default: a host in the seminar room hears them from the room's loudspeaker already.
"use strict";
(() => {
  const button = document.getElementById("hear-stage");
  const chat = document.getElementById("chat");
  const main = document.getElementById("main");
  if (!button || !chat || !main) return;
  const texts = JSON.parse(chat.dataset.texts);
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
  let listener = null;
  button.addEventListener("click", () => {
    if (listener) {
      listener.stop();
      listener = null;
    } else {
      listener = window.knotenListen(`/stage/${main.dataset.occurrenceId}/listen`, () => ({ "X-CSRF-Token": csrf }));
    }
    button.textContent = listener ? texts.floor_hear_stop : texts.floor_hear;
    button.setAttribute("aria-pressed", listener ? "true" : "false");
  });
  window.addEventListener("pagehide", () => listener && listener.stop());
  window.knotenHear = { listener: () => listener };
})();
