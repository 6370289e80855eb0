// The phone simulator's page: texts go to /simulator/api/sms, which posts them, signed,
// to Linja's SMS webhook; the thread is read back every two seconds. Calls go to the line
// or to the studio, whose takes the page gives as a file or from the microphone.
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
  const studioButton = document.getElementById("studio-call");
  const silenceButton = document.getElementById("silence");
  const messageButton = document.getElementById("message");
  const speak = document.getElementById("speak");
  const takePanel = document.getElementById("take");
  const takeFile = document.getElementById("take-file");
  const takeSend = document.getElementById("take-send");
  const takeMic = document.getElementById("take-mic");
  let call = null;
  let keys = null; // at a Gather: {digits, finish}, how Twilio would end what she types
  let typed = "";

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
    const studio = state.line === "studio";
    state.heard.forEach((item) => {
      const entry = document.createElement("li");
      entry.className = "bubble received heard-" + item.kind;
      const text = document.createElement("p");
      text.dir = "auto";
      if (item.language) text.lang = item.language;
      if (item.kind === "say") text.textContent = item.text;
      else if (item.kind === "play") text.textContent = "▶ " + (item.recording || (item.audio ? "your take" : item.text));
      else if (item.kind === "dial") text.textContent = "☎ ringing " + item.text + "…";
      else if (item.kind === "record") text.textContent = studio ? "● beep: the studio records your take" : "● recording your message (beep)";
      else if (item.kind === "hangup") text.textContent = "— call ended —";
      else text.textContent = "…";
      entry.append(text);
      if (item.audio) { // a studio take, played back as the line plays it
        const player = document.createElement("audio");
        player.controls = true;
        player.preload = "auto";
        player.src = item.audio;
        entry.append(player);
      }
      // Where what she hears comes from: a recording staff uploaded, or Twilio's voice.
      if (item.kind === "say" || item.kind === "play") {
        const source = document.createElement("small");
        source.className = "heard-source";
        source.textContent = item.kind === "say"
          ? "voice · " + (item.voice || "default") + (item.language ? " (" + item.language + ")" : "")
          : "recording" + (item.recording ? " · " + item.recording : item.audio ? " · your take, kept in the simulator" : "");
        entry.append(source);
      }
      line.append(entry);
      say(item);
    });
    line.scrollTop = line.scrollHeight;
    call = state.ended ? null : state.id;
    keys = call && state.waiting_for === "keys" ? state.keys : null;
    typed = "";
    callButton.textContent = call ? "Hang up" : "Call";
    studioButton.hidden = Boolean(call);
    silenceButton.hidden = !(call && state.waiting_for === "keys");
    messageButton.hidden = !(call && state.waiting_for === "message" && !studio);
    takePanel.hidden = !(call && state.waiting_for === "message" && studio);
    if (takePanel.hidden && recording) stopMic(false);
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

  async function startCall(lineName) {
    line.hidden = false;
    thread.hidden = true;
    line.replaceChildren();
    try {
      show(await api("/simulator/api/call", {
        method: "POST", headers: {"Content-Type": "application/json"},
        body: JSON.stringify({from: numberInput.value.trim(), line: lineName}),
      }));
      status.textContent = "";
    } catch (error) {
      status.textContent = "Could not call: " + error.message.slice(0, 160);
    }
  }

  callButton.addEventListener("click", async () => {
    if (call) {
      await callAction("hangup");
      call = null;
      callButton.textContent = "Call";
      studioButton.hidden = false;
      takePanel.hidden = true;
      return;
    }
    startCall("voice");
  });
  studioButton.addEventListener("click", () => { if (!call) startCall("studio"); });
  silenceButton.addEventListener("click", () => callAction("silence"));
  messageButton.addEventListener("click", () => callAction("message"));

  // A key during a call: sent at once when the Gather takes one key, otherwise gathered
  // until as many keys as it takes, or, when it takes any number, the finishing key (a PIN
  // ended with #).
  function pressKey(key) {
    const wanted = keys || {digits: 1, finish: ""};
    if (!wanted.digits && wanted.finish && wanted.finish.includes(key)) {
      const digits = typed;
      typed = "";
      if (digits) callAction("press", {digits: digits});
      else callAction("silence"); // # alone: Twilio posts an empty result
      return;
    }
    typed += key;
    if (wanted.digits && typed.length >= wanted.digits) {
      const digits = typed;
      typed = "";
      callAction("press", {digits: digits});
    } else {
      status.textContent = "Keys: " + "•".repeat(typed.length) + " (end with " + wanted.finish + ")";
    }
  }

  document.querySelectorAll(".key").forEach((key) => key.addEventListener("click", (event) => {
    if (!call) return;
    event.stopImmediatePropagation();
    body.value = "";
    pressKey(key.dataset.key);
  }, true));
  document.getElementById("compose").addEventListener("focusin", () => {
    if (!call) { line.hidden = true; thread.hidden = false; }
  });

  // --- a studio take: a file, or the microphone's sound made into a WAV here ---
  async function sendTake(blob, type) {
    takeSend.disabled = true;
    status.textContent = "Sending the take…";
    try {
      show(await api("/simulator/api/call/" + encodeURIComponent(call) + "/take", {
        method: "POST", headers: {"Content-Type": type}, body: blob,
      }));
      status.textContent = "";
      takeFile.value = "";
    } catch (error) {
      status.textContent = "Take not sent: " + error.message.slice(0, 160);
      takeSend.disabled = !takeFile.files.length;
    }
  }

  takeFile.addEventListener("change", () => { takeSend.disabled = !takeFile.files.length; });
  takeSend.addEventListener("click", () => {
    const file = takeFile.files[0];
    if (!file || !call) return;
    const isMp3 = /mpeg|mp3/.test(file.type) || /\.mp3$/i.test(file.name);
    sendTake(file, isMp3 ? "audio/mpeg" : "audio/wav"); // the server looks at its first bytes
  });

  const WAV_RATE = 16000; // the microphone's sound, mono 16-bit at 16 kHz: small, and clear enough
  const LONGEST = 30; // seconds, as the studio's <Record maxLength>
  let recording = null;

  async function startMic() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      status.textContent = "This browser gives no microphone here (it needs https or localhost).";
      return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({audio: true});
    } catch (error) {
      status.textContent = "No microphone: " + error.message.slice(0, 120);
      return;
    }
    const context = new AudioContext();
    if (context.state === "suspended") await context.resume();
    const source = context.createMediaStreamSource(stream);
    // The samples themselves, as the microphone gives them (a ScriptProcessor needs no
    // module of its own); its output stays silent.
    const processor = context.createScriptProcessor(4096, 1, 1);
    const chunks = [];
    processor.addEventListener("audioprocess", (event) => {
      chunks.push(new Float32Array(event.inputBuffer.getChannelData(0)));
    });
    source.connect(processor);
    processor.connect(context.destination);
    recording = {stream, context, source, processor, chunks,
                 timer: setTimeout(() => stopMic(true), LONGEST * 1000)};
    takeMic.textContent = "■ Stop and send";
    takeMic.classList.add("on");
    status.textContent = "Recording… speak now";
  }

  function stopMic(send) {
    const taken = recording;
    recording = null;
    if (!taken) return;
    clearTimeout(taken.timer);
    taken.processor.disconnect();
    taken.source.disconnect();
    taken.stream.getTracks().forEach((track) => track.stop());
    const rate = taken.context.sampleRate;
    taken.context.close();
    takeMic.textContent = "● Record from the microphone";
    takeMic.classList.remove("on");
    if (send && call) sendTake(new Blob([wavFile(taken.chunks, rate, WAV_RATE)], {type: "audio/wav"}), "audio/wav");
    else if (!send) status.textContent = "";
  }

  takeMic.addEventListener("click", () => { if (recording) stopMic(true); else startMic(); });

  // Float samples at ``from`` Hz -> a RIFF/WAVE file: PCM, mono, 16-bit, at ``to`` Hz.
  function wavFile(chunks, from, to) {
    const length = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    const samples = new Float32Array(length);
    let offset = 0;
    chunks.forEach((chunk) => { samples.set(chunk, offset); offset += chunk.length; });
    const ratio = from / to;
    const count = Math.floor(length / ratio);
    const buffer = new ArrayBuffer(44 + count * 2);
    const view = new DataView(buffer);
    const text = (at, value) => { for (let i = 0; i < value.length; i++) view.setUint8(at + i, value.charCodeAt(i)); };
    text(0, "RIFF");
    view.setUint32(4, 36 + count * 2, true);
    text(8, "WAVE");
    text(12, "fmt ");
    view.setUint32(16, 16, true); // the fmt chunk's size
    view.setUint16(20, 1, true); // PCM
    view.setUint16(22, 1, true); // mono
    view.setUint32(24, to, true);
    view.setUint32(28, to * 2, true); // bytes a second
    view.setUint16(32, 2, true); // bytes a frame
    view.setUint16(34, 16, true); // bits a sample
    text(36, "data");
    view.setUint32(40, count * 2, true);
    for (let i = 0; i < count; i++) {
      // Each new sample: the mean of the ones it stands for (a plain low-pass before dropping).
      const first = Math.floor(i * ratio);
      const last = Math.min(length, Math.max(first + 1, Math.floor((i + 1) * ratio)));
      let sum = 0;
      for (let j = first; j < last; j++) sum += samples[j];
      const value = Math.max(-1, Math.min(1, sum / (last - first)));
      view.setInt16(44 + i * 2, value < 0 ? value * 0x8000 : value * 0x7fff, true);
    }
    return buffer;
  }

  numberInput.addEventListener("change", () => { shown = ""; refresh(); });
  refresh();
  setInterval(refresh, 2000);
})();
