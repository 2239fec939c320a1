// Hearing the speakers on stage: one receiving peer with four audio slots (and two video slots)
// at POST /stage/{id}/listen; the stage changes without renegotiation, since Knoten moves
// speakers between the fixed slots. Used by the room display (its loudspeaker), the host's live
// panel and a speaker's own join page (Knoten never sends a speaker their own voice back).
// Speakers' cameras, when they send one, appear as tiles in the page's [data-listen=tiles] box,
// named after the speaker (the conversation's "knoten:floor" event, from static/chat.js).
// window.knotenListen(url, headers) → {stop(), peer(), audio()}; when the browser refuses to
// play sound without a click, the page's [data-listen=unmute] button appears.
"use strict";
window.knotenListen = function knotenListen(url, headers) {
  const AUDIO_SLOTS = 4;
  const VIDEO_SLOTS = 2;
  const unmute = document.querySelector("[data-listen=unmute]");
  const players = [];
  let pc = null;
  let resource = null;
  let stopped = false;
  let retry = null;

  function play(element) {
    element.play().catch(() => { if (unmute) unmute.hidden = false; });
  }
  if (unmute) {
    unmute.addEventListener("click", () => {
      unmute.hidden = true;
      for (const element of players) play(element);
    });
  }

  // A speaker's camera: shown in the page's [data-listen=tiles] box once pictures arrive, with
  // the speaker's name under it (the floor's "cameras": whose camera each video slot carries).
  const tiles = document.querySelector("[data-listen=tiles]");
  const captions = [];
  const boxes = [];
  let cameras = (window.knotenFloor && window.knotenFloor.cameras) || [];
  function name() {
    captions.forEach((caption, slot) => {
      const camera = cameras[slot];
      caption.textContent = camera ? camera.name : "";
    });
  }
  document.addEventListener("knoten:floor", (event) => {
    cameras = event.detail.cameras || [];
    name();
  });
  function tile(track, slot) {
    if (!tiles) return;
    const box = document.createElement("figure");
    box.className = "tile-box";
    box.dataset.slot = String(slot);
    box.hidden = true;
    const video = document.createElement("video");
    video.autoplay = true;
    video.muted = true; // the voice comes in its own audio slot
    video.playsInline = true;
    video.hidden = true;
    video.className = "tile";
    video.srcObject = new MediaStream([track]);
    const caption = document.createElement("figcaption");
    caption.className = "tile-name";
    captions[slot] = caption;
    const show = (on) => { video.hidden = !on; box.hidden = !on; };
    video.addEventListener("resize", () => show(Boolean(video.videoWidth)));
    track.addEventListener("mute", () => show(false));
    players.push(video);
    boxes.push(box);
    box.append(video, caption);
    tiles.append(box);
    name();
  }

  function teardown() {
    if (resource) {
      fetch(resource, { method: "DELETE", keepalive: true, headers: headers() }).catch(() => {});
      resource = null;
    }
    if (pc) { pc.close(); pc = null; }
    for (const element of players.splice(0)) element.remove();
    for (const box of boxes.splice(0)) box.remove();
  }

  function again() {
    teardown();
    if (!stopped) retry = setTimeout(connect, 2000 + Math.random() * 1000);
  }

  async function connect() {
    const peer = new RTCPeerConnection({ iceServers: [] });
    pc = peer;
    for (let i = 0; i < AUDIO_SLOTS; i++) peer.addTransceiver("audio", { direction: "recvonly" });
    for (let i = 0; i < VIDEO_SLOTS; i++) peer.addTransceiver("video", { direction: "recvonly" });
    peer.ontrack = (event) => {
      if (event.track.kind === "video") {
        const videos = peer.getTransceivers().filter((t) => t.receiver.track.kind === "video");
        return tile(event.track, videos.indexOf(event.transceiver));
      }
      if (event.track.kind !== "audio") return;
      const element = new Audio();
      element.autoplay = true;
      element.srcObject = new MediaStream([event.track]);
      element.dataset.slot = String(players.length);
      players.push(element);
      document.body.append(element);
      play(element);
    };
    peer.onconnectionstatechange = () => {
      if (pc === peer && (peer.connectionState === "failed" || peer.connectionState === "closed")) again();
    };
    try {
      await peer.setLocalDescription();
      await new Promise((resolve) => {
        if (peer.iceGatheringState === "complete") return resolve();
        const timer = setTimeout(resolve, 1000);
        peer.addEventListener("icegatheringstatechange", () => {
          if (peer.iceGatheringState === "complete") { clearTimeout(timer); resolve(); }
        });
      });
      const r = await fetch(url, {
        method: "POST", body: peer.localDescription.sdp,
        headers: { ...headers(), "Content-Type": "application/sdp" }, signal: AbortSignal.timeout(10000),
      });
      if (pc !== peer) return;
      if (r.status !== 201) throw new Error(String(r.status));
      resource = r.headers.get("Location");
      await peer.setRemoteDescription({ type: "answer", sdp: await r.text() });
    } catch (e) {
      if (pc === peer) again();
    }
  }

  connect();
  return {
    stop() { stopped = true; clearTimeout(retry); teardown(); },
    peer: () => pc,
    audio: () => players,
  };
};
