// The phone simulator's page: texts go to /simulator/api/sms, which posts them, signed,
// to Linja's SMS webhook; the thread is read back every two seconds.
"use strict";

(function () {
  const numberInput = document.getElementById("number");
  const thread = document.getElementById("thread");
  const body = document.getElementById("body");
  const status = document.getElementById("status");
  const now = document.getElementById("now");
  let shown = "";

  // Errors come back as {"error": "..."}: the reason is shown as it is.
  async function api(path, options) {
    const response = await fetch(path, options);
    if (!response.ok) {
      let reason = "";
      try {
        reason = (await response.json()).error || "";
      } catch (error) {
        reason = "";
      }
      throw new Error(reason || response.status + " " + response.statusText);
    }
    return response.json();
  }

  function render(messages) {
    const key = JSON.stringify(messages);
    if (key === shown) return;
    shown = key;
    thread.replaceChildren(...messages.map((m) => {
      const item = document.createElement("li");
      item.className = "bubble " + m.direction;
      const text = document.createElement("p");
      text.dir = "auto";
      text.textContent = m.text;
      const when = document.createElement("time");
      when.dateTime = m.at;
      when.textContent = m.when;
      item.append(text, when);
      return item;
    }));
    thread.scrollTop = thread.scrollHeight;
  }

  // What the last look at the thread said was wrong; a good look clears only that, not
  // why a text or a key was refused.
  let threadProblem = "";

  async function refresh() {
    const number = numberInput.value.trim();
    if (!number) return;
    try {
      const data = await api("/simulator/api/thread?number=" + encodeURIComponent(number));
      render(data.messages);
      if (now) now.textContent = data.now_local;
      if (threadProblem && status.textContent === threadProblem) status.textContent = "";
      threadProblem = "";
    } catch (error) {
      threadProblem = "Check the number: " + error.message.slice(0, 160);
      status.textContent = threadProblem;
    }
  }

  async function send(event) {
    event.preventDefault();
    const text = body.value;
    body.value = "";
    status.textContent = "Sending…";
    try {
      await api("/simulator/api/sms", {
        method: "POST",
        headers: {"Content-Type": "application/json"},
        body: JSON.stringify({from: numberInput.value.trim(), body: text}),
      });
      status.textContent = "";
    } catch (error) {
      status.textContent = "Not sent: " + error.message.slice(0, 160);
    }
    refresh();
    body.focus();
  }

  document.getElementById("compose").addEventListener("submit", send);
  body.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) send(event);
  });
  document.querySelectorAll(".key").forEach((key) => key.addEventListener("click", () => {
    body.value += key.dataset.key;
    body.focus();
  }));
  document.querySelectorAll(".travel button").forEach((button) => button.addEventListener("click", async () => {
    status.textContent = "Moving the clock…";
    try {
      const data = await api("/simulator/api/clock", {
        method: "POST",
        headers: {"Content-Type": "application/json"},
        body: JSON.stringify({minutes: Number(button.dataset.minutes)}),
      });
      if (now) now.textContent = data.now_local;
      status.textContent = "";
    } catch (error) {
      status.textContent = error.message.slice(0, 120);
    }
    refresh();
  }));
  // --- calls: the server reads the voice TwiML; the page shows what is said ---
  const line = document.getElementById("line");
  const callButton = document.getElementById("call");
  const silenceButton = document.getElementById("silence");
  const messageButton = document.getElementById("message");
  const speak = document.getElementById("speak");
  let call = null;

  function say(item) {
    if (!speak.checked || !window.speechSynthesis || item.kind !== "say") return;
    const prefix = (item.language || "").slice(0, 2);
    const voice = speechSynthesis.getVoices().find((v) => v.lang.toLowerCase().startsWith(prefix));
    if (!voice) return;
    const utterance = new SpeechSynthesisUtterance(item.text);
    utterance.voice = voice;
    speechSynthesis.speak(utterance);
  }

  function show(state) {
    if (window.speechSynthesis) speechSynthesis.cancel();
    state.heard.forEach((item) => {
      const entry = document.createElement("li");
      entry.className = "bubble received heard-" + item.kind;
      const text = document.createElement("p");
      text.dir = "auto";
      if (item.language) text.lang = item.language;
      if (item.kind === "say") text.textContent = item.text;
      else if (item.kind === "play") text.textContent = "▶ " + (item.recording || item.text);
      else if (item.kind === "dial") text.textContent = "☎ ringing " + item.text + "…";
      else if (item.kind === "record") text.textContent = "● recording your message (beep)";
      else if (item.kind === "hangup") text.textContent = "— call ended —";
      else text.textContent = "…";
      entry.append(text);
      // Where what she hears comes from: a recording staff uploaded, or Twilio's voice.
      if (item.kind === "say" || item.kind === "play") {
        const source = document.createElement("small");
        source.className = "heard-source";
        source.textContent = item.kind === "say"
          ? "voice · " + (item.voice || "default") + (item.language ? " (" + item.language + ")" : "")
          : "recording" + (item.recording ? " · " + item.recording : "");
        entry.append(source);
      }
      line.append(entry);
      say(item);
    });
    line.scrollTop = line.scrollHeight;
    call = state.ended ? null : state.id;
    callButton.textContent = call ? "Hang up" : "Call";
    silenceButton.hidden = !(call && state.waiting_for === "keys");
    messageButton.hidden = !(call && state.waiting_for === "message");
  }

  async function callAction(action, payload) {
    try {
      show(await api("/simulator/api/call/" + encodeURIComponent(call) + "/" + action, {
        method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(payload || {}),
      }));
      status.textContent = "";
    } catch (error) {
      status.textContent = error.message.slice(0, 160);
    }
  }

  callButton.addEventListener("click", async () => {
    if (call) {
      await callAction("hangup");
      call = null;
      callButton.textContent = "Call";
      return;
    }
    line.hidden = false;
    thread.hidden = true;
    line.replaceChildren();
    try {
      show(await api("/simulator/api/call", {
        method: "POST", headers: {"Content-Type": "application/json"},
        body: JSON.stringify({from: numberInput.value.trim()}),
      }));
      status.textContent = "";
    } catch (error) {
      status.textContent = "Could not call: " + error.message.slice(0, 160);
    }
  });
  silenceButton.addEventListener("click", () => callAction("silence"));
  messageButton.addEventListener("click", () => callAction("message"));
  document.querySelectorAll(".key").forEach((key) => key.addEventListener("click", (event) => {
    if (!call) return;
    event.stopImmediatePropagation();
    body.value = "";
    callAction("press", {digits: key.dataset.key});
  }, true));
  document.getElementById("compose").addEventListener("focusin", () => {
    if (!call) { line.hidden = true; thread.hidden = false; }
  });

  numberInput.addEventListener("change", () => { shown = ""; refresh(); });
  refresh();
  setInterval(refresh, 2000);
})();
