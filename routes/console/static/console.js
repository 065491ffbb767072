// The staff console's script: live updates over Server-Sent Events, writes
// without a page reload, and the new-order cue. Plain JavaScript, no library.
// Everything that came from a customer or the server is put in the page with
// textContent (never innerHTML), so it is shown as text, never run.
"use strict";

(function () {
  const body = document.body;
  const page = body.dataset.page;
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrf = csrfMeta ? csrfMeta.content : "";

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function hiddenInput(name, value) {
    const input = el("input");
    input.type = "hidden";
    input.name = name;
    input.value = value;
    return input;
  }

  function timeEl(at) {
    const node = el("time", null, at.text);
    node.dateTime = at.iso;
    localize(node);
    return node;
  }

  function localize(node) {
    if (!node.dateTime) return;
    const when = new Date(node.dateTime);
    if (!isNaN(when)) node.textContent = when.toLocaleTimeString([], {hour: "2-digit", minute: "2-digit"});
  }

  function flash(message) {
    const box = document.getElementById("flash");
    box.textContent = message;
    box.hidden = !message;
  }

  function announce(message) {
    document.getElementById("announce").textContent = message;
  }

  async function getJson(url) {
    const response = await fetch(url, {headers: {Accept: "application/json"}, credentials: "same-origin"});
    if (response.status === 401) { window.location.assign("/console/login"); return null; }
    return response.ok ? response.json() : null;
  }

  async function post(form) {
    const response = await fetch(form.action, {
      method: "POST", body: new URLSearchParams(new FormData(form)), credentials: "same-origin",
      headers: {Accept: "application/json", "X-CSRF-Token": csrf}});
    const data = await response.json().catch(() => ({}));
    if (!response.ok) { flash(data.error || "That did not work (" + response.status + ")."); return null; }
    flash("");
    return data;
  }

  // Orders board

  let cues = 0;
  let beeps = 0;
  let audio = null;

  function beep() {
    if (!audio || audio.state !== "running") return;
    const oscillator = audio.createOscillator();
    const gain = audio.createGain();
    oscillator.frequency.value = 880;
    gain.gain.setValueAtTime(0.2, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.25);
    oscillator.connect(gain).connect(audio.destination);
    oscillator.start();
    oscillator.stop(audio.currentTime + 0.25);
    body.dataset.beeps = String(++beeps);
  }

  function soundToggle() {
    const button = document.getElementById("sound");
    if (!button) return;
    button.addEventListener("click", () => {
      const on = button.getAttribute("aria-pressed") !== "true";
      if (on && !audio && window.AudioContext) audio = new AudioContext();
      if (audio) { if (on) audio.resume(); else audio.suspend(); }
      button.setAttribute("aria-pressed", String(on));
      button.textContent = "Sound for new orders: " + (on ? "on" : "off");
      if (on) beep();
    });
  }

  function movesEl(order) {
    const box = el("div", "moves");
    for (const move of order.moves) {
      const form = el("form", "js-post move");
      form.method = "post";
      form.action = order.url + "/status";
      form.append(hiddenInput("csrf", csrf), hiddenInput("status", move.status));
      const button = el("button", null, move.label);
      button.type = "submit";
      form.append(button);
      box.append(form);
    }
    if (order.can_cancel) {
      const details = el("details", "cancel");
      details.append(el("summary", null, "Cancel…"));
      const form = el("form", "js-post");
      form.method = "post";
      form.action = order.url + "/status";
      form.append(hiddenInput("csrf", csrf), hiddenInput("status", "CANCELLED"));
      const id = "reason-" + order.reference;
      const label = el("label", null, "Reason (sent to the customer)");
      label.htmlFor = id;
      const input = el("input");
      input.id = id; input.name = "reason"; input.required = true; input.maxLength = 500;
      const button = el("button", "danger", "Cancel the order");
      button.type = "submit";
      form.append(label, input, button);
      details.append(form);
      box.append(details);
    }
    return box;
  }

  function cardEl(order) {
    const card = el("li", "card");
    card.id = "order-" + order.reference;
    card.dataset.reference = order.reference;
    card.dataset.status = order.status;
    const head = el("p", "card-head");
    const link = el("a", "ref", order.reference);
    link.href = order.url;
    head.append(link, " ", timeEl(order.placed));
    const meta = el("p", "meta");
    meta.append(el("span", "type", order.type), " · ", el("span", "total", order.total));
    card.append(head, el("p", "who", order.name), el("p", "summary", order.summary));
    if (order.note) card.append(el("p", "notes", "Note: " + order.note));
    card.append(meta, movesEl(order));
    return card;
  }

  function recount() {
    for (const column of document.querySelectorAll(".column")) {
      column.querySelector(".count").textContent = column.querySelectorAll(".card").length;
    }
  }

  function placeCard(order) {
    const old = document.getElementById("order-" + order.reference);
    const list = document.querySelector('ol.cards[data-status="' + CSS.escape(order.status) + '"]');
    const isNew = !old;
    if (old && old.dataset.status === order.status) {
      old.replaceWith(cardEl(order));
    } else {
      if (old) old.remove();
      if (!list) { recount(); return; }
      const card = cardEl(order);
      list.prepend(card);
      if (isNew) {
        card.classList.add("fresh");
        body.dataset.cues = String(++cues);
        announce("New order " + order.reference + " from " + order.name);
        document.title = "(" + cues + ") " + document.title.replace(/^\(\d+\) /, "");
        beep();
      }
    }
    recount();
  }

  async function orderChanged(data) {
    if (page === "order" && body.dataset.reference === data.reference) { window.location.reload(); return; }
    if (page !== "board") return;
    const order = await getJson("/console/data/orders/" + encodeURIComponent(data.reference));
    if (order) placeCard(order);
  }

  // Conversations

  function tag(className, text) { return el("span", "tag " + className, text); }

  async function refreshList() {
    const data = await getJson("/console/data/conversations");
    if (!data) return;
    const list = document.getElementById("conversations");
    const rows = data.conversations.map((c) => {
      const row = el("li", "conversation" + (c.handoff_requested ? " wants-person" : ""));
      row.dataset.customer = c.customer;
      const link = el("a");
      link.href = c.url;
      link.append(el("span", "name", c.name));
      row.append(link, " ");
      if (c.handoff_requested) row.append(tag("handoff", "Wants a person"), " ");
      if (c.bot_paused) row.append(tag("paused", "Staff"), " ");
      if (c.unread) {
        const badge = el("span", "badge unread", c.unread);
        badge.setAttribute("aria-label", c.unread + " unread");
        row.append(badge, " ");
      }
      row.append(timeEl(c.last));
      return row;
    });
    if (!rows.length) rows.push(el("li", "empty", "No conversations yet."));
    list.replaceChildren(...rows);
  }

  async function refreshThread() {
    const customer = body.dataset.customer;
    const base = "/console/conversations/" + encodeURIComponent(customer);
    const data = await getJson("/console/data/conversations/" + encodeURIComponent(customer));
    if (!data) return;
    const c = data.conversation;
    document.getElementById("thread-name").textContent = c.name;
    const state = document.getElementById("thread-state");
    const tags = [];
    if (c.handoff_requested) tags.push(tag("handoff", "Wants a person"));
    tags.push(c.bot_paused ? tag("paused", "You have taken over: the bot is quiet") : tag("", "The bot is answering"));
    state.replaceChildren(...tags);
    document.getElementById("takeover").hidden = c.bot_paused;
    document.getElementById("handback").hidden = !c.bot_paused;
    document.getElementById("window-note").hidden = c.window_open;
    for (const control of document.querySelectorAll("#reply textarea, #reply button")) control.disabled = !c.window_open;
    const thread = document.getElementById("thread");
    thread.replaceChildren(...data.messages.map((m) => {
      const row = el("li", "msg " + (m.direction === "out" ? "out" : "in"));
      row.dataset.id = m.id;
      const meta = el("p", "meta");
      meta.append(el("span", "author", m.author), " ", timeEl(m.at));
      if (m.tick) {
        const tick = el("span", "tick tick-" + (m.status || "queued"), m.tick);
        tick.title = m.tick_label;
        tick.setAttribute("aria-label", m.tick_label);
        meta.append(" ", tick);
      }
      row.append(el("p", "text", m.text), meta);
      return row;
    }));
    thread.lastElementChild && thread.lastElementChild.scrollIntoView({block: "nearest"});
    if (c.unread > 0 && document.visibilityState === "visible") {
      const form = el("form");
      form.action = base + "/read";
      await post(form);
    }
  }

  function conversationChanged(data) {
    if (page === "conversations") refreshList();
    else if (page === "thread" && data.customer === body.dataset.customer) refreshThread();
  }

  // Controls

  function applyControls(data) {
    const state = document.getElementById("bot-state");
    if (!state) return;
    state.dataset.enabled = String(data.bot_enabled);
    state.textContent = data.bot_enabled ? "On: the bot takes orders." : "Off: customers get the away message.";
    const botForm = document.getElementById("bot-form");
    botForm.elements.enabled.value = String(!data.bot_enabled);
    botForm.querySelector("button").textContent = data.bot_enabled ? "Switch the bot off" : "Switch the bot on";
    const soldOut = new Set(data.sold_out);
    for (const item of document.querySelectorAll("li.item")) {
      const out = soldOut.has(item.dataset.item);
      const name = item.querySelector(".item-name").textContent;
      item.classList.toggle("sold-out", out);
      item.querySelector("input[name=available]").value = String(out);
      item.querySelector(".item-state").textContent = out ? "Sold out" : "Available";
      const button = item.querySelector("button");
      button.textContent = out ? "Back on the menu" : "Mark sold out";
      button.setAttribute("aria-label", out ? "Put " + name + " back on the menu" : "Mark " + name + " sold out");
    }
  }

  // Writes without a reload; the result (or the live event) redraws.

  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!form.classList.contains("js-post")) return;
    event.preventDefault();
    const buttons = form.querySelectorAll("button");
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const data = await post(form);
      if (!data) return;
      if (page === "board" && data.reference) placeCard(data);
      else if (page === "order") window.location.reload();
      else if (page === "thread") { if (form.id === "reply") form.reset(); await refreshThread(); }
      else if (page === "controls") applyControls(data);
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  });

  // Live events

  function connect() {
    const status = document.getElementById("connection");
    // Events since the page was drawn (the browser sends Last-Event-ID on reconnects).
    const source = new EventSource("/console/events?since=" + encodeURIComponent(body.dataset.since || ""));
    source.onopen = () => { status.textContent = "Live updates: on"; body.dataset.live = "on"; };
    source.onerror = () => { status.textContent = "Live updates: reconnecting…"; body.dataset.live = "off"; };
    const on = (kind, handle) => source.addEventListener(kind, (event) => handle(JSON.parse(event.data)));
    on("order.updated", orderChanged);
    on("message.created", conversationChanged);
    on("conversation.updated", conversationChanged);
    on("controls.updated", applyControls);
    on("reset", () => window.location.reload());
  }

  document.querySelectorAll("time[datetime]").forEach(localize);
  soundToggle();
  if (document.getElementById("connection") && page !== "pick") connect();
  if (page === "thread") {
    refreshThread();
    // Delivery ticks change without an event: re-read the open thread now and then.
    setInterval(() => { if (document.visibilityState === "visible") refreshThread(); }, 20000);
  }
})();
