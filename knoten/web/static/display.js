// The room display: follows the room's current date (/display/{room}/state every 10 s), shows
// the Live and recording signs, plays the speakers on stage (static/listen.js), and loads itself
// anew when another date becomes current. The chat beside it is static/chat.js in its read-only
// "display" role.
"use strict";
(() => {
  const root = document.getElementById("display");
  if (!root) return;
  const texts = JSON.parse(root.dataset.texts);
  let shown = JSON.parse(root.dataset.state).occurrence;
  const $ = (id) => document.getElementById(id);

  function render(occ) {
    $("sign-live").hidden = !(occ && occ.live);
    $("sign-recording").hidden = !(occ && occ.recording);
    $("sign-next").hidden = !occ || occ.live;
    if (occ) $("sign-next").textContent = texts.next.replace("{time}", occ.start_local);
  }

  async function poll() {
    try {
      const url = `/display/${root.dataset.room}/state?t=${encodeURIComponent(root.dataset.token)}`;
      const r = await fetch(url, {cache: "no-store", signal: AbortSignal.timeout(5000)});
      if (r.ok) {
        const occ = (await r.json()).occurrence;
        if ((occ && occ.id) !== (shown && shown.id)) return location.reload();
        shown = occ;
        render(occ);
      }
    } catch (e) { /* the service is restarting: try again at the next tick */ }
    setTimeout(poll, 10000);
  }
  // The room's loudspeaker: the voices of the speakers on stage, as packets from Knoten.
  const listener = shown
    ? window.knotenListen(`/stage/${shown.id}/listen`, () => ({ Authorization: `Bearer ${root.dataset.token}` }))
    : null;
  window.addEventListener("pagehide", () => listener && listener.stop());
  window.knotenDisplay = { state: () => shown, listener: () => listener };
  setTimeout(poll, 10000);
})();
