// The live call monitor: listens on ws/monitor/ (authenticated by the portal session) and
// keeps two views of the stream, the active calls and the latest events. The filter box's
// text is sent to the socket, which parses it and forwards only matching events; a bad
// filter comes back as a monitor.error and is shown under the box.
(function () {
  "use strict";

  const MAX_EVENTS = 200;
  const ENDED_CALL_LINGER_MS = 5000;
  const form = document.getElementById("monitor-filter");
  const input = document.getElementById("filter-expression");
  const errorBox = document.getElementById("filter-error");
  const status = document.getElementById("monitor-status");
  const stream = document.getElementById("event-stream");
  const callRows = document.querySelector("#active-calls tbody");
  const callCount = document.getElementById("active-count");
  const noCalls = document.getElementById("no-calls");
  const calls = new Map();
  let socket = null;
  let retryMs = 1000;

  function setStatus(text, tone) {
    status.textContent = text;
    status.className = "badge " + tone;
  }

  function showError(text) {
    errorBox.textContent = text;
    if (text) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }

  function clock(at) {
    const when = typeof at === "number" ? new Date(at * 1000) : new Date();
    return when.toLocaleTimeString([], { hour12: false });
  }

  function summary(event) {
    return Object.entries(event)
      .filter(([key]) => key !== "type" && key !== "at")
      .map(([key, value]) => `${key}=${typeof value === "object" ? JSON.stringify(value) : value}`)
      .join("  ");
  }

  function addToStream(event) {
    const item = document.createElement("li");
    item.dataset.type = event.type;
    const time = document.createElement("time");
    time.textContent = clock(event.at);
    const kind = document.createElement("span");
    kind.className = "badge " + (event.type.startsWith("transfer.") ? "ok" : "off");
    kind.textContent = event.type;
    const text = document.createElement("code");
    text.textContent = summary(event);
    item.append(time, " ", kind, " ", text);
    stream.prepend(item);
    while (stream.children.length > MAX_EVENTS) stream.lastElementChild.remove();
  }

  function callState(event) {
    const name = event.type.split(".")[1] || event.type;
    if (!event.type.startsWith("transfer.")) return name;
    let detail = "";
    if (name === "decided") {
      detail = `${event.decision}, policy ${event.policy} from ${event.policy_source}`;
    } else if (event.status) {
      detail = String(event.status) + (event.reason ? " " + event.reason : "");
    }
    return `transfer ${name}${detail ? " (" + detail + ")" : ""}`;
  }

  function forgetLater(callId, call) {
    setTimeout(() => {
      if (calls.get(callId) === call) {
        calls.delete(callId);
        renderCalls();
      }
    }, ENDED_CALL_LINGER_MS);
  }

  function renderCalls() {
    callRows.replaceChildren();
    for (const [callId, call] of calls) {
      const row = document.createElement("tr");
      row.dataset.callId = callId;
      row.dataset.state = call.state;
      for (const text of [call.from, call.to, call.state, clock(call.since)]) {
        const cell = document.createElement("td");
        cell.textContent = text || "—";
        row.append(cell);
      }
      callRows.append(row);
    }
    callCount.textContent = `(${calls.size})`;
    noCalls.hidden = calls.size > 0;
  }

  // A transfer's events name the dialogue the REFER came on; when that is a call's other leg
  // the transfer gets a row of its own, which goes once the transfer ends.
  function trackCall(event) {
    const callId = event.call_id;
    const isTransfer = event.type.startsWith("transfer.");
    if (!callId || !(isTransfer || event.type.startsWith("call."))) return;
    let call = calls.get(callId);
    if (!call) {
      call = { from: event.from || event.transferor, to: event.to || event.target, since: event.at };
      call.transferOnly = isTransfer;
      calls.set(callId, call);
    }
    call.from = event.from || call.from;
    call.to = event.to || call.to;
    call.state = callState(event);
    const transferEnded = event.type === "transfer.completed" || event.type === "transfer.failed";
    if (event.type === "call.ended" || (transferEnded && call.transferOnly)) {
      forgetLater(callId, call);
    }
    renderCalls();
  }

  function sendFilter() {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({ type: "filter", expression: input.value }));
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/ws/monitor/`);
    socket.addEventListener("message", (message) => {
      const event = JSON.parse(message.data);
      if (event.type === "monitor.ready") {
        retryMs = 1000;
        setStatus("live", "ok");
        if (input.value.trim()) sendFilter();
      } else if (event.type === "monitor.filter") {
        showError("");
        setStatus(event.expression ? "live, filtered" : "live", "ok");
      } else if (event.type === "monitor.error") {
        showError(event.error);
      } else {
        addToStream(event);
        trackCall(event);
      }
    });
    socket.addEventListener("close", (closing) => {
      if (closing.code === 4401) {
        location.assign("/login/?next=" + encodeURIComponent(location.pathname));
        return;
      }
      if (closing.code === 4403) {
        setStatus("not allowed", "bad");
        return;
      }
      setStatus("reconnecting…", "bad");
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 30000);
    });
  }

  form.addEventListener("submit", (submitted) => {
    submitted.preventDefault();
    const url = new URL(location.href);
    if (input.value.trim()) url.searchParams.set("filter", input.value);
    else url.searchParams.delete("filter");
    history.replaceState(null, "", url);
    sendFilter();
  });

  renderCalls();
  connect();
})();
