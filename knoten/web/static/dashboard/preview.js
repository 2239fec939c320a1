// A small live preview for the live panel, over the same WebRTC path the participants use:
// one WHEP POST to /whep/{id} with the occurrence's join token (the `t` of its join link), H.264
// preferred, muted autoplay. The join page itself cannot be framed (frame-ancestors 'none'), so
// this is its own tiny viewer. Opened only on request; closed on "close", when the occurrence is
// no longer live, and when the page is hidden or left (pagehide), so no peer lingers.

const GATHER_MS = 500;

function h264First(transceiver) {
  if (!transceiver.setCodecPreferences || !window.RTCRtpReceiver?.getCapabilities) return;
  const codecs = RTCRtpReceiver.getCapabilities("video")?.codecs || [];
  const h264 = codecs.filter((c) => c.mimeType.toLowerCase() === "video/h264" && /packetization-mode=1/.test(c.sdpFmtpLine || ""));
  const rtx = codecs.filter((c) => c.mimeType.toLowerCase() === "video/rtx");
  if (h264.length) transceiver.setCodecPreferences([...h264, ...rtx]);
}

/** Resolve when ICE gathering is complete (host candidates only: milliseconds), at most ``ms``. */
function gathered(peer, ms) {
  if (peer.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    peer.addEventListener("icegatheringstatechange", () => {
      if (peer.iceGatheringState === "complete") {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

export class Preview {
  /**
   * @param {object} o
   * @param {number} o.occurrenceId
   * @param {HTMLVideoElement} o.video
   * @param {(key: string, values?: object) => void} o.onStatus  called with a text key
   */
  constructor({ occurrenceId, video, onStatus }) {
    this.id = occurrenceId;
    this.video = video;
    this.onStatus = onStatus;
    this.peer = null;
    this.resource = null;
    this.token = "";
    this.generation = 0;
    window.addEventListener("pagehide", () => this.close());
  }

  get open() {
    return this.peer !== null;
  }

  /** Open the preview for ``joinUrl`` (its ``t`` parameter is the viewer's bearer token). */
  async start(joinUrl, iceServers = []) {
    this.close();
    const generation = ++this.generation;
    this.token = new URL(joinUrl, location.href).searchParams.get("t") || "";
    const peer = new RTCPeerConnection({ iceServers });
    this.peer = peer;
    this.onStatus("preview_connecting");
    const stream = new MediaStream();
    peer.ontrack = (event) => {
      stream.addTrack(event.track);
      if (this.video.srcObject !== stream) this.video.srcObject = stream;
    };
    peer.onconnectionstatechange = () => {
      if (this.peer !== peer) return;
      if (peer.connectionState === "connected") {
        this.video.hidden = false;
        // Muted unless the host already pressed "Ton an" (the live panel mutes it on close).
        this.video.play().catch(() => {});
        this.onStatus("preview_live");
      } else if (peer.connectionState === "failed") {
        this.close("preview_failed", { reason: "ICE" });
      }
    };
    h264First(peer.addTransceiver("video", { direction: "recvonly" }));
    peer.addTransceiver("audio", { direction: "recvonly" });
    try {
      await peer.setLocalDescription();
      await gathered(peer, GATHER_MS);
      if (generation !== this.generation) return;
      const response = await fetch(`/whep/${this.id}`, {
        method: "POST",
        body: peer.localDescription.sdp,
        headers: { "Content-Type": "application/sdp", Authorization: `Bearer ${this.token}` },
        credentials: "omit",
        cache: "no-store",
      });
      if (generation !== this.generation) {
        // Closed while the offer was on its way: let the service drop the viewer it just made.
        const location = response.headers.get("Location");
        if (response.status === 201 && location) this.#deleteResource(location);
        return;
      }
      if (response.status === 409) return this.close("preview_waiting");
      if (response.status !== 201) return this.close("preview_failed", { reason: `HTTP ${response.status}` });
      this.resource = response.headers.get("Location");
      await peer.setRemoteDescription({ type: "answer", sdp: await response.text() });
    } catch (error) {
      if (generation === this.generation) this.close("preview_failed", { reason: error.name || "Fehler" });
    }
  }

  #deleteResource(location) {
    fetch(location, {
      method: "DELETE",
      keepalive: true,
      credentials: "omit",
      headers: { Authorization: `Bearer ${this.token}` },
    }).catch(() => {});
  }

  /** Close the peer and free the viewer slot; ``statusKey`` says why (default: off). */
  close(statusKey = "preview_off", values = {}) {
    const hadPeer = this.peer !== null;
    this.generation += 1;
    if (this.resource) this.#deleteResource(this.resource);
    this.resource = null;
    if (this.peer) this.peer.close();
    this.peer = null;
    this.video.pause();
    this.video.srcObject = null;
    this.video.hidden = true;
    if (hadPeer || statusKey !== "preview_off") this.onStatus(statusKey, values);
  }
}
