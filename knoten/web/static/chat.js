// The conversation panel of a seminar date: chat, questions with votes, raised hands and who is
// on stage, and (for the host) moderation. One WebSocket per page (knoten/conversation/socket.py); every (re)connect starts
// with a full snapshot, so after a network drop or a service restart the page shows what it
// missed, without duplicates. Everything people wrote is shown as text (textContent), never HTML.
// The page gives it a <section id="chat"> with data-role (participant | host | display),
// data-url (the WebSocket path) and data-texts (JSON); nothing here needs a third party.
const root = document.getElementById("chat");
if (root) start(root);

function start(root) {
  const role = root.dataset.role;
  const texts = JSON.parse(root.dataset.texts);
  const storageKey = root.dataset.storage || "";
  const $ = (sel) => root.querySelector(sel);
  const list = $("[data-chat=list]");
  const questions = $("[data-chat=questions]");
  const form = $("[data-chat=form]");
  const input = $("[data-chat=input]");
  const asQuestion = $("[data-chat=question]");
  const status = $("[data-chat=status]");
  const consent = $("[data-chat=consent]");
  const nameInput = $("[data-chat=name]");
  const mode = $("[data-chat=mode]");
  const people = $("[data-chat=participants]");
  const current = $("[data-chat=current]");
  const handButton = $("[data-chat=hand]");
  const stageList = $("[data-chat=stage]");
  const handsList = $("[data-chat=hands]");
  const speaking = $("[data-chat=speaking]");

  const messages = new Map(); // id -> message
  let order = []; // question ids in the host's order
  let voted = new Set();
  let you = null;
  let floor = { hands: [], stage: [] };
  let onStage = false; // what this page last told the speaking module
  let soundMuted = false;
  let state = { mode: "open", consent_required: false, open: true };
  let ws = null;
  let failures = 0;
  let fatal = false;
  const tr = (key) => texts[key] || key;
  const el = (tag, props = {}, ...children) => {
    const node = Object.assign(document.createElement(tag), props);
    for (const child of children) node.append(child);
    return node;
  };

  function say(key, bad = true) {
    if (!status) return;
    status.textContent = key ? tr(key) : "";
    status.classList.toggle("bad", bad && !!key);
  }

  function storedSecret() {
    try { return storageKey ? localStorage.getItem(storageKey) : null; } catch (e) { return null; }
  }
  function storeSecret(secret) {
    try { if (storageKey && secret) localStorage.setItem(storageKey, secret); } catch (e) { /* private mode */ }
  }
  function storedName() {
    try { return localStorage.getItem("knoten.name") || ""; } catch (e) { return ""; }
  }

  function send(frame) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
    else say("chat_offline");
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}${root.dataset.url}`);
    ws = socket;
    socket.onopen = () => {
      const hello = { type: "hello" };
      if (role === "participant") {
        hello.participant = storedSecret();
        hello.name = (nameInput && nameInput.value.trim()) || storedName() || null;
      }
      socket.send(JSON.stringify(hello));
    };
    socket.onmessage = (event) => receive(JSON.parse(event.data));
    socket.onclose = () => {
      if (ws !== socket) return;
      ws = null;
      root.dataset.connected = "false";
      if (fatal) return;
      failures += 1;
      say("chat_reconnecting", false);
      // Capped backoff with jitter so a restarted service is not hit by everyone at once.
      const wait = Math.min(500 * 2 ** Math.min(failures, 4), 8000) * (0.75 + Math.random() / 2);
      setTimeout(connect, wait);
    };
  }

  function receive(event) {
    switch (event.type) {
      case "welcome":
        storeSecret(event.secret);
        break;
      case "snapshot":
        failures = 0;
        messages.clear();
        for (const m of event.messages) messages.set(m.id, m);
        order = event.questions;
        voted = new Set(event.voted || []);
        you = event.you || null;
        state = { mode: event.mode, consent_required: event.consent_required, open: event.open };
        if (event.participants) renderPeople(event.participants);
        floor = event.floor || floor;
        root.dataset.connected = "true";
        say(null);
        renderAll();
        break;
      case "message":
        messages.set(event.message.id, event.message);
        if (event.questions) order = event.questions;
        renderAll();
        break;
      case "voted":
        voted.add(event.message);
        renderQuestions();
        break;
      case "removed":
        messages.delete(event.id);
        order = event.questions;
        renderAll();
        break;
      case "mode":
        state.mode = event.mode;
        renderControls();
        break;
      case "floor":
        floor = event;
        renderFloor();
        break;
      case "participant":
        if (you && event.participant.id === you.id) {
          you = event.participant;
          renderControls();
          renderFloor();
        }
        if (people) upsertPerson(event.participant);
        break;
      case "error":
        if (event.fatal) fatal = true;
        say(`chat_${event.code}`);
        if (event.fatal) setDisabled(true);
        break;
    }
  }

  function renderAll() {
    renderList();
    renderQuestions();
    renderControls();
    renderFloor();
  }

  function names(people) {
    return people.length ? people.map((p) => p.name).join(", ") : tr("floor_nobody");
  }

  function renderFloor() {
    // The camera tiles (static/listen.js) put each speaker's name under their picture.
    window.knotenFloor = floor;
    document.dispatchEvent(new CustomEvent("knoten:floor", { detail: floor }));
    if (stageList) stageList.textContent = names(floor.stage);
    if (handsList) handsList.textContent = names(floor.hands);
    root.dataset.hands = floor.hands.length;
    root.dataset.stage = floor.stage.map((p) => p.id).join(",");
    if (role !== "participant" || !you) return;
    if (handButton) {
      handButton.textContent = you.hand_raised ? tr("floor_hand_lower") : tr("floor_hand_raise");
      handButton.disabled = fatal || you.on_stage || !state.open ||
        (state.consent_required && !you.consented);
      handButton.setAttribute("aria-pressed", you.hand_raised ? "true" : "false");
    }
    if (speaking) speaking.hidden = !you.on_stage;
    if (!!you.sound_muted !== soundMuted) {
      soundMuted = !!you.sound_muted;
      window.dispatchEvent(new CustomEvent("knoten:sound-muted", { detail: { muted: soundMuted } }));
    }
    if (you.on_stage !== onStage) {
      onStage = you.on_stage;
      // The speaking module (speak.js) asks for the microphone and publishes, or stops it all.
      window.dispatchEvent(new CustomEvent("knoten:stage", { detail: { on: onStage } }));
    }
  }

  function line(m, withActions) {
    const item = el("li", { className: `chat-message ${m.role}` });
    item.dataset.id = m.id;
    const head = el("span", { className: "chat-head" },
      el("time", { dateTime: m.at, textContent: m.time }), " ",
      el("strong", { className: "chat-author", textContent: m.author + (m.role === "host" ? ` (${tr("chat_host")})` : "") }));
    item.append(head, " ", el("span", { className: "chat-text", textContent: m.text }));
    if (m.question) {
      item.classList.add("question", m.state);
      item.append(" ", el("span", { className: "badge small", textContent: `${tr("chat_question")} · ${m.votes} ${tr(m.votes === 1 ? "chat_vote_one" : "chat_votes")}` }));
      if (m.state !== "open") item.append(" ", el("span", { className: "badge small", textContent: tr(`chat_state_${m.state}`) }));
    }
    if (withActions) withActions(item, m);
    return item;
  }

  function renderList() {
    if (!list) return;
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.replaceChildren(...[...messages.values()].sort((a, b) => a.id - b.id).map((m) =>
      line(m, role === "host" ? hostActions : null)));
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  function renderQuestions() {
    const answering = order.map((id) => messages.get(id)).find((m) => m && m.state === "answering");
    if (current) {
      current.hidden = !answering;
      current.replaceChildren(...(answering ? [el("strong", { textContent: `${tr("chat_now_answering")}: ` }),
        el("span", { textContent: answering.text }), el("span", { className: "chat-author", textContent: ` — ${answering.author}` })] : []));
    }
    if (!questions) return;
    questions.replaceChildren(...order.map((id) => messages.get(id)).filter(Boolean).map((m) =>
      line(m, role === "host" ? hostQuestionActions : role === "participant" ? voteAction : null)));
  }

  function voteAction(item, m) {
    const mine = voted.has(m.id);
    const button = el("button", { type: "button", className: "small", textContent: mine ? tr("chat_voted_button") : tr("chat_vote_button") });
    button.disabled = mine || m.state === "answered" || !mayWrite(true);
    button.addEventListener("click", () => send({ type: "vote", message: m.id }));
    item.append(" ", button);
  }

  function hostActions(item, m) {
    const hide = el("button", { type: "button", className: "small", textContent: tr("chat_hide") });
    hide.addEventListener("click", () => send({ type: "hide", message: m.id }));
    item.append(" ", hide);
  }

  function hostQuestionActions(item, m) {
    for (const next of ["answering", "answered"]) {
      if (m.state === next) continue;
      const button = el("button", { type: "button", className: "small", textContent: tr(`chat_mark_${next}`) });
      button.addEventListener("click", () => send({ type: "question", message: m.id, state: next }));
      item.append(" ", button);
    }
    hostActions(item, m);
  }

  function mayWrite(question) {
    if (role === "host") return true;
    if (role !== "participant" || !you || !state.open) return false;
    if (state.consent_required && !you.consented) return false;
    if (you.chat_muted || state.mode === "off") return false;
    return question || state.mode !== "questions";
  }

  function setDisabled(disabled) {
    if (!form) return;
    for (const field of form.elements) field.disabled = disabled;
  }

  function renderControls() {
    root.dataset.mode = state.mode;
    if (mode && mode.value !== state.mode) mode.value = state.mode;
    if (consent) consent.hidden = !(role === "participant" && you && state.consent_required && !you.consented);
    if (!form) return;
    setDisabled(fatal || !(role === "host" || mayWrite(true)));
    if (asQuestion && role === "participant" && state.mode === "questions") {
      asQuestion.checked = true;
      asQuestion.disabled = true;
    }
    let hint = null;
    if (role === "participant" && you) {
      if (!state.open) hint = "chat_closed";
      else if (state.consent_required && !you.consented) hint = "chat_consent_first";
      else if (you.chat_muted) hint = "chat_muted";
      else if (state.mode === "off") hint = "chat_chat_off";
      else if (state.mode === "questions") hint = "chat_questions_only";
    }
    const note = $("[data-chat=hint]");
    if (note) { note.textContent = hint ? tr(hint) : ""; note.hidden = !hint; }
  }

  function upsertPerson(p) {
    let row = people.querySelector(`[data-id="${p.id}"]`);
    const label = (p.hand_raised ? `${tr("floor_hand")} ` : "") + p.name + (p.on_stage ? ` · ${tr("floor_stage")}` : "");
    const fresh = el("li", { className: `${p.connected ? "online" : "offline"}${p.hand_raised ? " hand" : ""}` },
      el("span", { textContent: label }), " ");
    fresh.dataset.id = p.id;
    fresh.dataset.hand = p.hand_raised ? "up" : "down";
    fresh.dataset.stage = p.on_stage ? "on" : "off";
    fresh.dataset.sound = p.sound_muted ? "muted" : "on";
    const button = (key, frame, confirmText) => {
      const b = el("button", { type: "button", className: "small", textContent: tr(key) });
      b.addEventListener("click", () => {
        if (confirmText && !confirm(confirmText)) return;
        send(frame);
      });
      fresh.append(b, " ");
    };
    if (!p.removed) {
      if (p.on_stage) {
        button("floor_off", { type: "stage", participant: p.id, on: false });
        button(p.sound_muted ? "floor_unmute_sound" : "floor_mute_sound",
          { type: "mute_sound", participant: p.id, muted: !p.sound_muted });
      }
      else if (p.connected) button("floor_allow", { type: "stage", participant: p.id, on: true });
      button(p.chat_muted ? "chat_unmute" : "chat_mute", { type: "mute", participant: p.id, muted: !p.chat_muted });
      button("floor_remove", { type: "remove", participant: p.id },
        tr("floor_remove_confirm").replace("{name}", p.name));
    }
    if (row) row.replaceWith(fresh); else people.append(fresh);
  }

  function renderPeople(all) {
    people.replaceChildren();
    for (const p of all) upsertPerson(p);
  }

  if (form) form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    const question = role === "participant" && !!(asQuestion && asQuestion.checked);
    send({ type: "say", text, question });
    input.value = "";
    if (asQuestion && state.mode !== "questions") asQuestion.checked = false;
  });
  if (consent) consent.querySelector("button").addEventListener("click", () => send({ type: "consent" }));
  if (nameInput) {
    nameInput.value = storedName();
    nameInput.addEventListener("change", () => {
      const name = nameInput.value.trim();
      if (!name) return;
      try { localStorage.setItem("knoten.name", name); } catch (e) { /* private mode */ }
      if (you) send({ type: "name", name });
    });
  }
  if (mode) mode.addEventListener("change", () => send({ type: "mode", mode: mode.value }));
  if (handButton) handButton.addEventListener("click", () => send({ type: "hand", raised: !(you && you.hand_raised) }));
  window.addEventListener("knoten:leave-stage", () => send({ type: "leave_stage" }));
  if (asQuestion) asQuestion.addEventListener("change", renderControls);

  // For tests and for people reading the console.
  window.knotenChat = {
    messages: () => [...messages.values()].sort((a, b) => a.id - b.id),
    questions: () => order.map((id) => messages.get(id)).filter(Boolean),
    you: () => you,
    floor: () => floor,
    secret: () => storedSecret(),
    connected: () => !!ws && ws.readyState === WebSocket.OPEN,
    drop: () => ws && ws.close(), // simulates a network drop
  };
  connect();
}
