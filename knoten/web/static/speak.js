// Speaking from the join page: when the host lets this participant on stage (chat.js announces
// it as the window event "knoten:stage"), ask for the microphone (and the camera when ticked;
// sent as H.264, which Knoten forwards unchanged to the room display), publish it to Knoten
// (POST /stage/{id}/publish, SDP offer → 201 + answer + Location), and say "Sie sind jetzt zu
// hören". Off stage — by the host, by "Bühne verlassen" or when the page goes —
// every track is stopped (the browser's recording indicator goes out) and the publication ends
// (DELETE on its Location). Nothing is captured while not on stage.
"use strict";
(() => {
  const root = document.getElementById("join");
  const box = document.getElementById("speaking");
  const chat = document.getElementById("chat");
  if (!root || !box || !chat) return;
  const occurrence = root.dataset.occurrence;
  const token = root.dataset.token;
  const texts = JSON.parse(chat.dataset.texts);
  const status = document.getElementById("speaking-status");
  const leave = document.getElementById("leave-stage");
  const camera = document.getElementById("speak-camera");
  const storageKey = chat.dataset.storage;

  let stream = null;
  let listener = null; // hearing the other speakers while on stage (never oneself)
  let pc = null;
  let resource = null;
  let wanted = false;
  let muted = false; // the host muted this speaker: the microphone is off until unmuted

  const say = (key) => { status.textContent = texts[key] || key; box.dataset.state = key; };
  const secret = () => { try { return localStorage.getItem(storageKey) || ""; } catch (e) { return ""; } };
  const headers = (extra) => ({ Authorization: `Bearer ${token}`, "X-Knoten-Participant": secret(), ...extra });

  function stop() {
    if (listener) { listener.stop(); listener = null; }
    if (stream) { for (const track of stream.getTracks()) track.stop(); stream = null; }
    if (pc) { pc.close(); pc = null; }
    if (resource) {
      fetch(resource, { method: "DELETE", keepalive: true, headers: headers() }).catch(() => {});
      resource = null;
    }
  }

  function h264Only(transceiver) {
    // Knoten forwards the camera's packets unchanged, and every listener receives H.264.
    if (!transceiver.setCodecPreferences || !RTCRtpReceiver.getCapabilities) return;
    const codecs = RTCRtpReceiver.getCapabilities("video").codecs.filter((c) =>
      c.mimeType.toLowerCase() === "video/h264" && /packetization-mode=1/.test(c.sdpFmtpLine || ""));
    try {
      if (codecs.length) transceiver.setCodecPreferences(codecs);
    } catch (e) { /* an older browser: Knoten answers a camera it cannot forward as inactive */ }
  }

  function gathered(peer, ms) {
    if (peer.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => { clearTimeout(timer); resolve(); };
      const timer = setTimeout(done, ms);
      peer.addEventListener("icegatheringstatechange", () => {
        if (peer.iceGatheringState === "complete") done();
      });
    });
  }

  async function start() {
    say("floor_invited");
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
        video: camera.checked ? { width: 640, height: 360, frameRate: 15 } : false,
      });
    } catch (e) {
      stop();
      return say("floor_mic_denied");
    }
    if (!wanted) return stop(); // taken off stage while the browser asked
    for (const track of stream.getAudioTracks()) track.enabled = !muted;
    const peer = new RTCPeerConnection({ iceServers: [] });
    pc = peer;
    for (const track of stream.getTracks()) {
      const transceiver = peer.addTransceiver(track, { direction: "sendonly", streams: [stream] });
      if (track.kind === "video") h264Only(transceiver);
    }
    peer.onconnectionstatechange = () => {
      if (pc !== peer) return;
      if (peer.connectionState === "connected") say(muted ? "floor_sound_muted" : "floor_on_stage");
      else if (peer.connectionState === "failed") say("floor_publish_failed");
    };
    await peer.setLocalDescription();
    await gathered(peer, 1000);
    try {
      const r = await fetch(`/stage/${occurrence}/publish`, {
        method: "POST", body: peer.localDescription.sdp,
        headers: headers({ "Content-Type": "application/sdp" }), signal: AbortSignal.timeout(10000),
      });
      if (pc !== peer) return;
      if (r.status !== 201) throw new Error(String(r.status));
      resource = r.headers.get("Location");
      await peer.setRemoteDescription({ type: "answer", sdp: await r.text() });
      if (window.knotenListen && !listener) listener = window.knotenListen(`/stage/${occurrence}/listen`, headers);
    } catch (e) {
      if (pc === peer) { stop(); say("floor_publish_failed"); }
    }
  }

  window.addEventListener("knoten:sound-muted", (event) => {
    muted = event.detail.muted;
    // Knoten forwards nothing of a muted speaker; switching the track off too is what the
    // speaker can see (and it saves their upload).
    if (stream) for (const track of stream.getAudioTracks()) track.enabled = !muted;
    if (pc && pc.connectionState === "connected") say(muted ? "floor_sound_muted" : "floor_on_stage");
  });
  window.addEventListener("knoten:stage", (event) => {
    wanted = event.detail.on;
    if (wanted) start();
    else stop();
  });
  camera.addEventListener("change", () => { if (wanted && pc) { stop(); start(); } });
  leave.addEventListener("click", () => {
    wanted = false;
    stop();
    window.dispatchEvent(new CustomEvent("knoten:leave-stage"));
  });
  window.addEventListener("pagehide", stop);
  // For tests: is anything captured, and in which state is the publication.
  window.knotenSpeak = {
    capturing: () => !!stream && stream.getTracks().some((t) => t.readyState === "live"),
    microphoneOn: () => !!stream && stream.getAudioTracks().some((t) => t.enabled),
    cameraOn: () => !!stream && stream.getVideoTracks().some((t) => t.readyState === "live"),
    state: () => box.dataset.state || "",
    peer: () => pc,
    listener: () => listener,
  };
})();
