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

  async function api(path, options) {
    const response = await fetch(path, options);
    if (!response.ok) {
      throw new Error((await response.text()) || response.statusText);
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

  async function refresh() {
    const number = numberInput.value.trim();
    if (!number) return;
    try {
      const data = await api("/simulator/api/thread?number=" + encodeURIComponent(number));
      render(data.messages);
      if (now) now.textContent = data.now_local;
      status.textContent = "";
    } catch (error) {
      status.textContent = "Check the number: " + error.message.replace(/<[^>]*>/g, " ").trim().slice(0, 120);
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
      status.textContent = "Not sent: " + error.message.replace(/<[^>]*>/g, " ").trim().slice(0, 120);
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
  numberInput.addEventListener("change", () => { shown = ""; refresh(); });
  refresh();
  setInterval(refresh, 2000);
})();
