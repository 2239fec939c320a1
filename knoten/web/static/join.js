// The join page: wait for the occurrence to go live, play it over WHEP, reconnect by itself.
// No third-party requests: only /join/{id}/state and /whep/{id} on this origin, and ICE servers
// only when the service is configured with some.
"use strict";
(() => {
  // ms since navigation when this script starts: the page's own load, for the timeline below.
  const scriptStart = Math.round(performance.now());
  const root = document.getElementById("join");
  const occurrence = root.dataset.occurrence;
  const token = root.dataset.token;
  const texts = JSON.parse(root.dataset.texts);
  const video = document.getElementById("player");
  const message = document.getElementById("message");
  const unmute = document.getElementById("unmute");
  const leaveButton = document.getElementById("leave");
  const rejoinButton = document.getElementById("rejoin");
  const sound = document.getElementById("sound");  // one large button when autoplay was muted
  const recording = document.getElementById("recording");
  const RECORDING_CHECK_MS = 30000;
  let recordingTimer = null;
  const TERMINAL = new Set(["ended", "missed", "failed", "cancelled", "invalid", "needs_link", "unknown"]);

  let pc = null;          // the current RTCPeerConnection
  let resource = null;    // the WHEP resource (Location) of the current viewer
  let timer = null;
  let stopped = false;    // left, or the occurrence is over
  let status = "init";
  let failures = 0;
  let leadIn = false;     // connected during the lead-in: "Gleich geht es los", not "Live"
  let watchdog = null;    // the stall check while connected
  const timeline = [["script", scriptStart]];  // [mark, ms since navigation]: diagnostics
  const mark = (name) => timeline.push([name, Math.round(performance.now())]);

  function show(key, extra) {
    status = key;
    let text = texts[key] || key;
    if (extra) for (const [k, v] of Object.entries(extra)) text = text.replace(`{${k}}`, v);
    message.textContent = text;
    root.dataset.status = key;
  }

  function schedule(ms) {
    clearTimeout(timer);
    if (!stopped) timer = setTimeout(tick, ms);
  }

  async function fetchState() {
    const r = await fetch(`/join/${occurrence}/state?t=${encodeURIComponent(token)}`,
                          {cache: "no-store", signal: AbortSignal.timeout(5000)});
    return await r.json();
  }

  /** Connected and receiving: says "Live", or "Gleich geht es los" during the lead-in. */
  function showPlaying() {
    show(leadIn ? "lead_in" : "live");
  }

  /** While connected, count the bytes that arrive: when none came for 1.5 s the service or the
   * network is gone — say so at once (a frozen picture under "Live" fooled people), and after
   * 6 s start over. Costs the service nothing (no extra requests). */
  function watch(peer) {
    clearInterval(watchdog);
    let last = -1;
    let quietSince = performance.now();
    watchdog = setInterval(async () => {
      if (pc !== peer) return clearInterval(watchdog);
      let bytes = 0;
      try {
        (await peer.getStats()).forEach((r) => { if (r.type === "inbound-rtp") bytes += r.bytesReceived || 0; });
      } catch (e) {
        return;
      }
      const now = performance.now();
      if (bytes !== last) {
        last = bytes;
        quietSince = now;
        if (status === "reconnecting") showPlaying();
      } else if (now - quietSince > 6000) {
        retry();
      } else if (now - quietSince > 1500 && status !== "reconnecting") {
        mark("stalled");
        show("reconnecting");
      }
    }, 500);
  }

  function teardown() {
    clearInterval(watchdog);
    if (resource) {
      // keepalive: the DELETE also goes out when the page is being closed.
      fetch(resource, {method: "DELETE", keepalive: true,
                       headers: {Authorization: `Bearer ${token}`}}).catch(() => {});
      resource = null;
    }
    if (pc) { pc.close(); pc = null; }
    video.hidden = true;
    leaveButton.hidden = true;
    sound.hidden = true;
  }

  function finish(key) {
    stopped = true;
    clearTimeout(timer);
    teardown();
    show(key);
  }

  function h264First(transceiver) {
    // Force H.264: the service sends the room's H.264 as it is (no per-viewer encoding).
    if (!transceiver.setCodecPreferences || !RTCRtpReceiver.getCapabilities) return;
    const codecs = RTCRtpReceiver.getCapabilities("video").codecs;
    const h264 = codecs.filter((c) => c.mimeType.toLowerCase() === "video/h264" &&
                                      /packetization-mode=1/.test(c.sdpFmtpLine || ""));
    const rtx = codecs.filter((c) => c.mimeType.toLowerCase() === "video/rtx");
    if (h264.length) transceiver.setCodecPreferences([...h264, ...rtx]);
  }

  function gathered(peer, ms, withServers) {
    // WHEP without trickle: send the offer once the candidates that matter are in. Without ICE
    // servers only host candidates exist: Chromium has its UDP ones within a few ms, then waits
    // a step (≈ 120 ms measured) before its TCP ones and only then says "complete", and the
    // service (aioice) pairs UDP candidates only. So the first TCP candidate, or a short settle
    // after the first candidate, ends the wait. A candidate the offer misses costs nothing: the
    // service learns the browser's address from its connectivity checks (peer-reflexive). With
    // servers, waiting for "complete" can take seconds (an unreachable STUN server), so a pause
    // after the first candidate is enough. Bounded by ms overall.
    if (peer.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      let settle = null;
      const done = () => { clearTimeout(t); clearTimeout(settle); resolve(); };
      const t = setTimeout(done, ms);
      peer.addEventListener("icecandidate", (e) => {
        if (!e.candidate) return done();
        if (!withServers && (e.candidate.protocol || "").toLowerCase() === "tcp") return done();
        if (!settle) settle = setTimeout(done, withServers ? 150 : 25);
      });
      peer.addEventListener("icegatheringstatechange", () => {
        if (peer.iceGatheringState === "complete") done();
      });
    });
  }

  async function connect(state) {
    show(failures ? "reconnecting" : "connecting");
    mark("connect");
    const peer = new RTCPeerConnection({iceServers: state.ice_servers || []});
    pc = peer;
    const stream = new MediaStream();
    peer.ontrack = (e) => {
      stream.addTrack(e.track);
      if (video.srcObject !== stream) video.srcObject = stream;
      if (e.track.kind === "video") mark("track");
    };
    h264First(peer.addTransceiver("video", {direction: "recvonly"}));
    peer.addTransceiver("audio", {direction: "recvonly"});
    peer.onconnectionstatechange = () => {
      if (pc !== peer) return;
      const s = peer.connectionState;
      if (s === "connected") {
        mark("connected");
        failures = 0;
        showPlaying();
        watch(peer);
        video.hidden = false;
        leaveButton.hidden = false;
        video.play().catch(() => { video.muted = true; sound.hidden = false; video.play(); });
      } else if (s === "failed" || s === "closed") {
        retry();
      } else if (s === "disconnected") {
        // ICE often recovers from a short blip by itself; give it a moment.
        setTimeout(() => { if (pc === peer && peer.connectionState !== "connected") retry(); },
                   3000);
      }
    };
    await peer.setLocalDescription();
    mark("local");
    const servers = state.ice_servers || [];
    await gathered(peer, servers.length ? 1500 : 500, servers.length > 0);
    mark("offer");
    const r = await fetch(`/whep/${occurrence}`, {
      method: "POST", body: peer.localDescription.sdp,
      headers: {"Content-Type": "application/sdp", Authorization: `Bearer ${token}`},
      signal: AbortSignal.timeout(10000),
    });
    if (pc !== peer) return;
    if (r.status === 201) {
      resource = r.headers.get("Location");
      mark("answer");
      await peer.setRemoteDescription({type: "answer", sdp: await r.text()});
      return;
    }
    teardown();
    if (r.status === 401 || r.status === 403) return finish("invalid");
    if (r.status === 404) return finish("unknown");
    if (r.status === 503) {
      // "busy": many viewers are connecting at this moment; "viewer_limit": the room is full.
      const body = await r.json().catch(() => ({}));
      const busy = (body.error || {}).code === "busy";
      show(busy ? "connecting" : "full");
      const after = parseInt(r.headers.get("Retry-After") || "10", 10);
      const wait = Math.min(Math.max(after, busy ? 1 : 2), 60) * 1000;
      return schedule(busy ? wait * (0.75 + Math.random() / 2) : wait);
    }
    show("starting");  // 409: not live (yet, or any more); the poll decides
    schedule(2000);
  }

  function retry() {
    teardown();
    failures += 1;
    show("reconnecting");
    // Capped backoff with jitter so a restarted service is not hit by everyone at once.
    schedule(Math.min(500 * 2 ** Math.min(failures, 4), 8000) * (0.75 + Math.random() / 2));
  }

  async function tick() {
    if (stopped) return;
    let state;
    try {
      state = await fetchState();
    } catch (e) {
      if (!pc) show("offline");
      return schedule(3000);
    }
    if (TERMINAL.has(state.state)) {
      finish(state.state === "missed" || state.state === "failed" ? "ended" : state.state);
      return offerRecording(state);
    }
    if (state.state === "live") {
      leadIn = Boolean(state.lead_in);
      if (pc && (status === "live" || status === "lead_in")) showPlaying();
      if (!pc) {
        try { await connect(state); } catch (e) { retry(); return; }
      }
      return schedule(pc ? 5000 : 2000);
    }
    teardown();
    if (state.state === "scheduled") show("waiting", {time: state.start_local, date: state.start_date});
    else show("starting");
    schedule(2000);
  }

  /** After the end: the host's share link of the recording, looked for again every 30 s
   * until there is one (the host usually shares it some minutes later). */
  function offerRecording(state) {
    clearTimeout(recordingTimer);
    if (!["ended", "missed", "failed"].includes(state.state)) return;
    if (state.recording_url) {
      recording.querySelector("a").href = state.recording_url;
      recording.hidden = false;
      return;
    }
    recordingTimer = setTimeout(async () => {
      try {
        offerRecording(await fetchState());
      } catch (e) {
        offerRecording(state);
      }
    }, RECORDING_CHECK_MS);
  }

  // Diagnostics: when the first picture reached the element (timeline marks "metadata", "frame").
  // A connection made while the room's feed had no picture yet (the very start of a date) has
  // already said "Verbindung unterbrochen" after 1.5 s without data: its first picture says
  // "Live" at once, not at the watchdog's next look.
  video.addEventListener("loadedmetadata", () => mark("metadata"));
  if (video.requestVideoFrameCallback) {
    const firstFrame = () => {
      mark("frame");
      if (pc && status === "reconnecting") showPlaying();
    };
    video.addEventListener("emptied", () => video.requestVideoFrameCallback(firstFrame));
    video.requestVideoFrameCallback(firstFrame);
  }

  unmute.addEventListener("click", () => {
    video.muted = false;
    sound.hidden = true;
    video.play().catch(() => {});
  });
  function leave() {
    finish("left");
    rejoinButton.hidden = false;
    rejoinButton.focus();
  }
  leaveButton.addEventListener("click", leave);
  rejoinButton.addEventListener("click", () => {
    // Back in: the same way as opening the link (poll, then connect when live).
    rejoinButton.hidden = true;
    stopped = false;
    failures = 0;
    tick();
  });
  window.addEventListener("pagehide", () => { stopped = true; teardown(); });

  // For tests and for people reading the console.
  window.knotenJoin = {
    status: () => status,
    peer: () => pc,
    resource: () => resource,
    leave,
    timeline: () => timeline,
  };

  const initial = JSON.parse(root.dataset.state);
  if (TERMINAL.has(initial.state)) {
    finish(initial.state === "missed" ? "ended" : initial.state);
    offerRecording(initial);
  } else if (initial.state === "live") {
    // The page was rendered live: connect now instead of polling first.
    leadIn = Boolean(initial.lead_in);
    connect(initial).then(() => schedule(5000), () => retry());
  } else {
    tick();
  }
})();
