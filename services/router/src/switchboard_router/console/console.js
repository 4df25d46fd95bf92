// Switchboard operations console: plain JavaScript, no framework, no build step.
//
// Everything comes from the router API with the officer's bearer token (kept in
// sessionStorage, so it dies with the tab). The live stream `GET /v1/stream` is
// read with fetch() and a ReadableStream rather than EventSource, because
// EventSource cannot send the Authorization header and a token in a URL would
// end up in logs and history. Mention text is public and untrusted: it is only
// ever put into the page as text (textContent), never as markup.
"use strict";

(() => {
  const TOKEN_KEY = "switchboard.console.token";
  const URGENCY = {
    critical: { icon: "\u26A0\uFE0E", label: "CRITICAL" },
    high: { icon: "\u25B2", label: "HIGH" },
    normal: { icon: "\u25CF", label: "NORMAL" },
    low: { icon: "\u25BD", label: "LOW" },
  };
  const STATUS = { open: "Waiting", claimed: "Claimed", acknowledged: "Acknowledged", resolved: "Resolved" };
  const ALERTING = new Set(["escalated", "sla_breached", "lease_expired"]);
  // Alert banners: one per (kind, queue) that counts its items, at most ALERT_CAP in view
  // (the rest behind "+k more"). `order` puts the most pressing first.
  const ALERT_CAP = 3;
  const ALERT_TTL_MS = 15 * 60 * 1000;  // a group with nothing new for this long goes
  const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;
  const ALERT_KINDS = {
    notice: { order: 0, urgency: "normal", text: (g) => g.message },
    critical: { order: 1, urgency: "critical", text: (g) => `${g.items.size} new critical in ${g.queue}` },
    incidents: { order: 2, urgency: "high", text: (g) => plural(g.count, "incident", "incidents") },
    escalated: { order: 3, urgency: "critical", text: (g) => `${g.items.size} escalated in ${g.queue}` },
    sla_breached: { order: 4, urgency: "high", text: (g) => `${plural(g.items.size, "SLA breach", "SLA breaches")} in ${g.queue}` },
    lease_expired: { order: 5, urgency: "high", text: (g) => `${plural(g.items.size, "claim", "claims")} expired in ${g.queue}` },
  };
  const MAP_REFRESH_MS = 2000;  // the district counts follow the stream at most this often
  const INCIDENTS_REFRESH_MS = 2000;
  const INCIDENTS_POLL_MS = 30000;  // incident changes that touch no item still show up
  const SVG_NS = "http://www.w3.org/2000/svg";

  const state = {
    token: null,
    me: null,
    queues: [],
    items: new Map(),
    members: new Map(),
    selectedId: null,
    detail: null,
    filter: null,
    stream: null,
    lastEventId: null,
    pending: new Set(),
    pendingTimer: null,
    queuesTimer: null,
    thread: null,
    options: null,
    replyItemId: null,
    approvals: [],
    approvalsTimer: null,
    alertGroups: new Map(),
    alertsExpanded: false,
    view: "items",
    districts: null,
    openIncidents: [],
    incidents: [],
    incidentStatus: "open",
    incidentId: null,
    incidentDetail: null,
    incidentsDismissedAt: 0,
    throttles: {},
  };

  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  // Time ---------------------------------------------------------------------------------------

  function seconds(iso) {
    return iso ? (Date.now() - Date.parse(iso)) / 1000 : 0;
  }

  function duration(total) {
    const s = Math.max(0, Math.floor(Math.abs(total)));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const r = String(s % 60).padStart(2, "0");
    return h ? `${h}:${String(m).padStart(2, "0")}:${r}` : `${m}:${r}`;
  }

  function clockTime(iso) {
    return iso ? new Date(iso).toLocaleTimeString([], { hour12: false }) : "";
  }

  // The SLA as a phrase and a class: time left to the due time, or time since the breach.
  function slaOf(item) {
    if (item.status === "resolved") return null;
    if (item.breached_at || item.breach) {
      const what = item.breach ? ` (${item.breach})` : "";
      return { cls: "sla-breached", text: `\u26A0\uFE0E SLA BREACHED${what} ${duration(seconds(item.breached_at))} ago` };
    }
    if (!item.sla_due_at) return null;
    const left = -seconds(item.sla_due_at);
    if (left <= 0) return { cls: "sla-breached", text: `\u26A0\uFE0E SLA due ${duration(left)} ago` };
    return { cls: left < 30 ? "sla-soon" : "sla-ok", text: `SLA ${duration(left)} left` };
  }

  function timers() {
    for (const node of document.querySelectorAll("[data-since]")) {
      node.textContent = duration(seconds(node.dataset.since));
    }
    for (const node of document.querySelectorAll("[data-sla-item]")) {
      const item = state.items.get(Number(node.dataset.slaItem)) ||
        (state.detail && state.detail.item_id === Number(node.dataset.slaItem) ? state.detail : null);
      const sla = item ? slaOf(item) : null;
      node.textContent = sla ? sla.text : "";
      node.className = `sla ${sla ? sla.cls : ""}`;
    }
    $("clock").textContent = new Date().toLocaleTimeString([], { hour12: false });
  }

  // API ----------------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, detail) {
      super(detail);
      this.status = status;
    }
  }

  async function api(method, path, body) {
    const headers = { Authorization: `Bearer ${state.token}`, Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
    if (response.status === 401) {
      signOut("Your token was not accepted (unknown or revoked). Sign in again.");
      throw new ApiError(401, "unauthorized");
    }
    const text = await response.text();
    const data = text ? JSON.parse(text) : null;
    if (!response.ok) throw new ApiError(response.status, (data && data.detail) || response.statusText);
    return data;
  }

  // Permissions (the server decides; these only decide which buttons make sense) ----------

  const isSupervisor = () => ["supervisor", "admin"].includes(state.me.role);
  const seesOverview = () => ["supervisor", "admin", "service"].includes(state.me.role);

  function canAct(item) {
    if (state.me.role === "admin") return true;
    return state.me.role !== "service" && state.me.queues.includes(item.queue_id);
  }

  function allowed(item, action) {
    if (!item || !canAct(item) || item.status === "resolved") return false;
    const mine = item.assignee === state.me.officer_id;
    switch (action) {
      case "claim": return item.status === "open";
      case "ack": return item.status === "claimed" && mine;
      case "heartbeat": return item.status === "claimed" && mine;
      case "release": return item.status !== "open" && (mine || isSupervisor());
      default: return true;
    }
  }

  function who(officerId) {
    if (!officerId) return "";
    if (state.me && officerId === state.me.officer_id) return `you (${state.me.name})`;
    const member = state.members.get(officerId);
    return member ? `${member.name} (${officerId})` : officerId;
  }

  // Loading ------------------------------------------------------------------------------------

  async function loadAll() {
    const { queues } = await api("GET", "/v1/queues");
    const pages = await Promise.all(
      queues.map((q) => api("GET", `/v1/queues/${encodeURIComponent(q.queue_id)}/items?limit=200`)),
    );
    const items = new Map();
    for (const page of pages) for (const item of page.items) items.set(item.item_id, item);
    state.queues = queues;
    state.items = items;
    if (isSupervisor()) await loadMembers();
    render();
    if (state.selectedId !== null) await loadDetail(state.selectedId);
  }

  async function loadMembers() {
    const lists = await Promise.all(
      state.queues.map((q) =>
        api("GET", `/v1/queues/${encodeURIComponent(q.queue_id)}/members`).catch(() => ({ members: [] })),
      ),
    );
    state.members = new Map();
    for (const list of lists) for (const m of list.members) state.members.set(m.officer_id, m);
  }

  async function refreshQueues() {
    const { queues } = await api("GET", "/v1/queues");
    state.queues = queues;
    renderQueues();
    renderOverview();
  }

  async function refreshItem(itemId) {
    let item = null;
    try {
      item = await api("GET", `/v1/items/${itemId}`);
    } catch (error) {
      if (error.status !== 404) throw error;
    }
    const inMyQueues = item && state.queues.some((q) => q.queue_id === item.queue_id ||
      (item.watch_queues || []).includes(q.queue_id));
    if (item && item.status !== "resolved" && inMyQueues) state.items.set(itemId, item);
    else state.items.delete(itemId);
    if (itemId === state.selectedId) {
      state.detail = item;
      renderDetail();
      if (item) await loadThread(itemId);
    }
    renderItems();
    renderOverview();
  }

  async function loadDetail(itemId) {
    try {
      state.detail = await api("GET", `/v1/items/${itemId}`);
    } catch (error) {
      if (error.status !== 404) throw error;
      state.detail = null;
    }
    if (itemId === state.selectedId) {
      renderDetail();
      if (state.detail) await loadThread(itemId);
    }
  }

  // Replies: the thread, the reply box and the supervisor's approval list --------------------

  async function loadThread(itemId) {
    const [thread, options] = await Promise.all([
      api("GET", `/v1/items/${itemId}/replies`),
      api("GET", `/v1/items/${itemId}/reply-options`),
    ]);
    if (itemId !== state.selectedId) return;
    state.thread = thread;
    state.options = options;
    renderThread();
    if (state.replyItemId !== itemId) {
      state.replyItemId = itemId;
      renderReplyBox();
    }
  }

  const REPLY_STATUS = {
    draft: "Draft", pending_approval: "Waiting for approval", approved: "Approved",
    sending: "Sending", sent: "Sent", rejected: "Rejected", cancelled: "Cancelled",
    failed_retryable: "Failed (can retry)", failed_permanent: "Failed", unknown: "Unknown: check the thread",
  };

  function replyButtons(reply) {
    const mine = reply.author === state.me.officer_id;
    const buttons = [];
    const button = (action, label) => el("button", {
      type: "button", dataset: { replyAction: action, replyId: reply.reply_id },
      onclick: () => replyAction(reply.reply_id, action),
    }, label);
    if (reply.status === "pending_approval" && isSupervisor() && !mine) {
      buttons.push(button("approve", "Approve"), button("reject", "Reject"));
    }
    if (["failed_retryable", "unknown"].includes(reply.status) && (mine || isSupervisor())) {
      buttons.push(button("retry", "Retry"));
    }
    if (["draft", "pending_approval", "approved", "failed_retryable", "unknown"].includes(reply.status) &&
        (mine || isSupervisor())) {
      buttons.push(button("cancel", "Cancel"));
    }
    return buttons;
  }

  function renderThread() {
    const thread = state.thread;
    if (!thread) return;
    const entries = [
      ...thread.replies.map((r) => ({ at: r.created_at, reply: r })),
      ...thread.answers.map((a) => ({ at: a.written_at, answer: a })),
    ].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
    $("d-thread").replaceChildren(...(entries.length ? entries.map(({ reply, answer }) => {
      if (answer) {
        return el("li", { class: "answer", dataset: { answerId: String(answer.answer_id) } },
          el("span", { class: "when" }, `${clockTime(answer.written_at)} ${answer.author || "citizen"} answered: `),
          answer.text);
      }
      const facts = [`by ${who(reply.author)}`];
      if (reply.approver) facts.push(`${reply.status === "rejected" ? "rejected" : "approved"} by ${who(reply.approver)}`);
      if (reply.attempts) facts.push(`attempt ${reply.attempts}`);
      if (reply.platform_post_id) facts.push(`post ${reply.platform_post_id}`);
      if (reply.error) facts.push(reply.error);
      if (reply.note) facts.push(`note: ${reply.note}`);
      return el("li", { class: "reply", dataset: { replyId: reply.reply_id, status: reply.status } },
        el("span", { class: `reply-status status-${reply.status}` }, REPLY_STATUS[reply.status] || reply.status),
        " ", el("span", { class: "reply-text" }, reply.text),
        el("span", { class: "when" }, ` — ${facts.join(", ")}`),
        ...replyButtons(reply));
    }) : [el("li", { class: "empty" }, "No replies yet.")]));
  }

  function chosenTemplate() {
    const id = $("reply-template").value;
    return id && state.options ? state.options.templates.find((t) => t.template_id === id) : null;
  }

  function templateLanguage(template) {
    const wanted = (state.options.language || "").split("-")[0].toLowerCase();
    if (template.languages.includes(wanted)) return wanted;
    return template.languages.includes("en") ? "en" : template.languages[0];
  }

  function replyText() {
    const template = chosenTemplate();
    if (!template) return $("reply-text").value;
    let text = template.texts[templateLanguage(template)];
    for (const input of document.querySelectorAll("#reply-variables input")) {
      text = text.split(`{${input.dataset.variable}}`).join(input.value);
    }
    return text;
  }

  function updateReplyHint() {
    const options = state.options;
    if (!options || !options.answerable) return;
    const text = replyText();
    if (chosenTemplate()) $("reply-text").value = text;
    $("reply-count").textContent = String(text.length);
    $("reply-count").dataset.over = text.length > options.limit ? "true" : "false";
    const rule = options.approval[chosenTemplate() ? "template" : "free_text"];
    $("reply-approval").textContent = rule.required
      ? `needs a supervisor's approval (rule ${rule.rule})`
      : `no approval needed (rule ${rule.rule}); sent ${options.hold_seconds} s after you send it`;
    $("reply-send").disabled = !text.trim() || text.length > options.limit;
  }

  function renderReplyBox() {
    const options = state.options;
    $("reply-error").textContent = "";
    $("reply-why").hidden = options.answerable;
    $("reply-form").hidden = !options.answerable;
    if (!options.answerable) {
      $("reply-why").textContent = options.why_not || "This mention cannot be answered from here.";
      return;
    }
    $("reply-limit").textContent = String(options.limit);
    $("reply-template").replaceChildren(el("option", { value: "" }, "Free text"),
      ...options.templates.map((t) => el("option", { value: t.template_id }, t.template_id)));
    $("reply-variables").replaceChildren();
    $("reply-text").value = "";
    $("reply-text").readOnly = false;
    updateReplyHint();
  }

  function onTemplateChange() {
    const template = chosenTemplate();
    $("reply-variables").replaceChildren(...(template ? template.variables.map((name) => el("label", {},
      `${name} `, el("input", { dataset: { variable: name }, maxlength: "200", oninput: updateReplyHint }))) : []));
    $("reply-text").readOnly = Boolean(template);
    if (!template) $("reply-text").value = "";
    updateReplyHint();
  }

  async function sendReply() {
    const item = state.detail;
    if (!item) return;
    const template = chosenTemplate();
    const body = template ? { template_id: template.template_id, variables: {} } : { text: $("reply-text").value };
    if (template) {
      for (const input of document.querySelectorAll("#reply-variables input")) body.variables[input.dataset.variable] = input.value;
    }
    $("reply-error").textContent = "";
    try {
      await api("POST", `/v1/items/${item.item_id}/replies`, body);
      state.replyItemId = null;  // a fresh box after sending
      await loadThread(item.item_id);
      loadApprovals().catch(report);
    } catch (error) {
      $("reply-error").textContent = `Not sent: ${error.message}`;
    }
  }

  async function replyAction(replyId, action) {
    $("reply-error").textContent = "";
    try {
      await api("POST", `/v1/replies/${replyId}/${action}`, action === "reject" || action === "cancel" ? {} : undefined);
      if (state.selectedId !== null) await loadThread(state.selectedId);
      await loadApprovals();
    } catch (error) {
      $("reply-error").textContent = `${action}: ${error.message}`;
    }
  }

  async function loadApprovals() {
    if (!state.me || !isSupervisor()) return;
    const { replies } = await api("GET", "/v1/replies?status=pending_approval&limit=50");
    state.approvals = replies;
    $("approvals").hidden = false;
    $("approvals-count").textContent = `(${replies.length})`;
    $("approval-list").replaceChildren(...(replies.length ? replies.map((reply) => el("li", {
      dataset: { replyId: reply.reply_id, itemId: String(reply.item_id) },
    },
      el("a", { href: "#", onclick: (event) => { event.preventDefault(); if (state.items.has(reply.item_id)) select(reply.item_id); } },
        `Item ${reply.item_id}`),
      ` ${who(reply.author)}: `, el("span", { class: "reply-text" }, reply.text), " ",
      ...replyButtons(reply))) : [el("li", { class: "empty" }, "Nothing waiting.")]));
  }

  function scheduleApprovals() {
    clearTimeout(state.approvalsTimer);
    state.approvalsTimer = setTimeout(() => loadApprovals().catch(report), 300);
  }

  // Live stream --------------------------------------------------------------------------------

  function setLive(live, text) {
    $("live").dataset.state = live;
    $("live").textContent = text;
  }

  async function runStream() {
    const controller = new AbortController();
    state.stream = controller;
    let backoff = 1000;
    while (!controller.signal.aborted) {
      try {
        const headers = { Authorization: `Bearer ${state.token}`, Accept: "text/event-stream" };
        if (state.lastEventId !== null) headers["Last-Event-ID"] = state.lastEventId;
        const response = await fetch("/v1/stream", { headers, signal: controller.signal, cache: "no-store" });
        if (response.status === 401) {
          signOut("Your token was not accepted (unknown or revoked). Sign in again.");
          return;
        }
        if (!response.ok || !response.body) throw new Error(`stream answered ${response.status}`);
        await readEvents(response.body.getReader(), () => {
          backoff = 1000;
          setLive("on", "\u25CF live");
          loadAll().catch(report);
          loadDistricts().catch(reportMap);
          loadIncidents().catch(report);
        });
      } catch (error) {
        if (controller.signal.aborted) return;
        console.warn("stream interrupted", error);
      }
      setLive("off", "reconnecting\u2026");
      await new Promise((resolve) => setTimeout(resolve, backoff));
      backoff = Math.min(backoff * 2, 15000);
    }
  }

  // Server-sent events framing: blank-line separated blocks of `field: value` lines.
  async function readEvents(reader, opened) {
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = { id: null, event: "message", data: [] };
        for (const line of block.split("\n")) {
          if (line.startsWith(": stream open")) opened();
          if (!line || line.startsWith(":")) continue;
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const val = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "data") event.data.push(val);
          else if (field === "id" || field === "event") event[field] = val;
        }
        if (event.id !== null) state.lastEventId = event.id;
        if (event.data.length) onChange(event.event, JSON.parse(event.data.join("\n")));
      }
    }
  }

  function onChange(action, change) {
    if (action.startsWith("reply_") || action === "citizen_answered") scheduleApprovals();
    if (action === "queued" && change.urgency === "critical") addAlert("critical", change.queue_id, change.item_id);
    else if (ALERTING.has(action)) addAlert(action, change.queue_id, change.item_id);
    state.pending.add(change.item_id);
    clearTimeout(state.pendingTimer);
    state.pendingTimer = setTimeout(() => {
      const ids = [...state.pending];
      state.pending.clear();
      for (const id of ids) refreshItem(id).catch(report);
    }, 150);
    clearTimeout(state.queuesTimer);
    state.queuesTimer = setTimeout(() => refreshQueues().catch(report), 400);
    // Throttled, not debounced: under a steady stream a debounce would never fire.
    throttle("districts", loadDistricts, MAP_REFRESH_MS);
    throttle("incidents", loadIncidents, INCIDENTS_REFRESH_MS);
  }

  // `fn` once, at most every `wait` ms: the first call schedules it, later ones ride along.
  function throttle(name, fn, wait) {
    const entry = state.throttles[name] || (state.throttles[name] = { last: 0, timer: null });
    if (entry.timer !== null) return;
    const delay = Math.max(100, entry.last + wait - Date.now());
    entry.timer = setTimeout(() => {
      entry.timer = null;
      entry.last = Date.now();
      fn().catch(report);
    }, delay);
  }

  // Alert banners -------------------------------------------------------------------------------

  function addAlert(kind, queueId, itemId) {
    const key = `${kind}|${queueId}`;
    let group = state.alertGroups.get(key);
    if (!group) {
      group = { key, kind, queue: queueId, items: new Set(), lastAt: 0 };
      state.alertGroups.set(key, group);
    }
    group.items.add(itemId);  // a set: a replayed event counts its item once
    group.lastAt = Date.now();
    renderAlerts();
  }

  function addNotice(message) {
    state.alertGroups.set(`notice|${message}`, { key: `notice|${message}`, kind: "notice", queue: null, message, items: new Set(), lastAt: Date.now() });
    renderAlerts();
  }

  // The "N incidents" banner follows the open incidents; dismissed, it stays away until more open.
  function noteIncidents(count) {
    const key = "incidents|";
    if (count < state.incidentsDismissedAt) state.incidentsDismissedAt = count;
    if (count > 0 && count > state.incidentsDismissedAt) {
      state.alertGroups.set(key, { key, kind: "incidents", queue: null, count, items: new Set(), lastAt: Date.now() });
    } else {
      state.alertGroups.delete(key);
    }
    renderAlerts();
  }

  function dismissAlert(group) {
    state.alertGroups.delete(group.key);
    if (group.kind === "incidents") state.incidentsDismissedAt = group.count;
    renderAlerts();
  }

  function openAlert(group) {
    state.alertsExpanded = false;
    if (group.kind === "incidents") {
      setView("incidents");
    } else if (group.queue) {
      setView("items");
      setFilter(state.queues.some((q) => q.queue_id === group.queue) ? group.queue : null);
      const first = visibleItems().find((i) => group.items.has(i.item_id));
      if (first) select(first.item_id);
    }
    renderAlerts();
  }

  function sortedAlerts() {
    // The most pressing kind first; within a kind the largest group, then the latest. The
    // incidents banner comes second whatever else is up, so it is never behind "+k more".
    const groups = [...state.alertGroups.values()].filter((g) => g.kind !== "incidents").sort((a, b) =>
      ALERT_KINDS[a.kind].order - ALERT_KINDS[b.kind].order || b.items.size - a.items.size ||
      b.lastAt - a.lastAt);
    const incidents = state.alertGroups.get("incidents|");
    if (incidents) groups.splice(Math.min(1, groups.length), 0, incidents);
    return groups;
  }

  function alertNode(group) {
    const kind = ALERT_KINDS[group.kind];
    const text = kind.text(group);
    return el("div", {
      class: `alert urgency-${kind.urgency}`,
      dataset: { alertKind: group.kind, alertQueue: group.queue || "", count: String(group.kind === "incidents" ? group.count : group.items.size) },
    },
    el("button", { type: "button", class: "alert-open", title: text, onclick: () => openAlert(group) },
      el("span", { "aria-hidden": "true" }, "\u26A0\uFE0E "), text),
    el("button", { type: "button", class: "alert-dismiss", title: "Dismiss", "aria-label": `Dismiss: ${text}`, onclick: () => dismissAlert(group) }, "\u00D7"));
  }

  function renderAlerts() {
    const groups = sortedAlerts();
    const rest = groups.slice(ALERT_CAP);
    if (!rest.length) state.alertsExpanded = false;
    $("alerts").replaceChildren(...[
      ...groups.slice(0, ALERT_CAP).map(alertNode),
      rest.length ? el("button", {
        type: "button", class: "alerts-more", "aria-expanded": String(state.alertsExpanded),
        onclick: () => { state.alertsExpanded = !state.alertsExpanded; renderAlerts(); },
      }, `+${rest.length} more`) : null,
      state.alertsExpanded ? el("div", { class: "alerts-overflow" }, ...rest.map(alertNode)) : null,
    ].filter(Boolean));
  }

  function expireAlerts() {
    const now = Date.now();
    let gone = false;
    for (const group of state.alertGroups.values()) {
      if (group.kind !== "notice" && group.kind !== "incidents" && now - group.lastAt > ALERT_TTL_MS) {
        state.alertGroups.delete(group.key);
        gone = true;
      }
    }
    if (gone) renderAlerts();
  }

  // Views: items, incidents, the district map -------------------------------------------------

  function setView(view) {
    state.view = view;
    $("columns").dataset.view = view;
    for (const tab of document.querySelectorAll(".tabs [role='tab']")) {
      tab.setAttribute("aria-selected", String(tab.dataset.view === view));
    }
    if (view === "incidents") loadIncidents().catch(report);
    if (view === "map") loadDistricts().catch(report);
  }

  // The district map ---------------------------------------------------------------------------

  // The same key the router makes of a district name: lower case, runs of other characters a dash.
  const districtKey = (name) => String(name || "").toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");

  async function loadDistricts() {
    if (!state.me) return;
    state.districts = await api("GET", "/v1/districts");
    $("map-error").textContent = "";
    renderMap();
  }

  function svgEl(tag, attrs, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value !== null && value !== undefined) node.setAttribute(key, String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function ringsOf(geometry) {
    if (!geometry) return [];
    if (geometry.type === "Polygon") return geometry.coordinates;
    if (geometry.type === "MultiPolygon") return geometry.coordinates.flat();
    return [];
  }

  // Longitude and latitude onto the SVG box: equirectangular, longitude shrunk by the cosine
  // of the middle latitude so a city-sized map keeps its shape; north up.
  function projection(features, width, pad) {
    let minLon = Infinity, maxLon = -Infinity, minLat = Infinity, maxLat = -Infinity;
    for (const f of features) {
      for (const ring of ringsOf(f.geometry)) {
        for (const [lon, lat] of ring) {
          minLon = Math.min(minLon, lon); maxLon = Math.max(maxLon, lon);
          minLat = Math.min(minLat, lat); maxLat = Math.max(maxLat, lat);
        }
      }
    }
    if (!Number.isFinite(minLon)) return null;
    const kx = Math.cos(((minLat + maxLat) / 2) * Math.PI / 180);
    const spanX = Math.max((maxLon - minLon) * kx, 1e-9);
    const spanY = Math.max(maxLat - minLat, 1e-9);
    const scale = (width - 2 * pad) / spanX;
    return {
      width,
      height: Math.round(spanY * scale + 2 * pad),
      point: ([lon, lat]) => [pad + (lon - minLon) * kx * scale, pad + (maxLat - lat) * scale],
    };
  }

  // Where a district's label goes: the centroid of its largest ring (shoelace), in SVG units.
  function labelPoint(points) {
    let area = 0, cx = 0, cy = 0;
    for (let i = 0, j = points.length - 1; i < points.length; j = i++) {
      const cross = points[j][0] * points[i][1] - points[i][0] * points[j][1];
      area += cross;
      cx += (points[j][0] + points[i][0]) * cross;
      cy += (points[j][1] + points[i][1]) * cross;
    }
    if (Math.abs(area) < 1e-9) {
      const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
      return [(Math.min(...xs) + Math.max(...xs)) / 2, (Math.min(...ys) + Math.max(...ys)) / 2];
    }
    return [cx / (3 * area), cy / (3 * area)];
  }

  function incidentsByDistrict() {
    const counts = new Map();
    for (const incident of state.openIncidents) {
      if (!incident.district) continue;
      const key = districtKey(incident.district);
      counts.set(key, (counts.get(key) || 0) + 1);
    }
    return counts;
  }

  function renderMap() {
    const data = state.districts;
    const svg = $("district-map");
    if (!data) return;
    $("map-name").textContent = data.name ? `(${data.name})` : "";
    const features = data.features || [];
    const width = 600;
    const project = projection(features, width, 12);
    if (!project) {
      svg.replaceChildren();
      $("map-unmapped").textContent = "The district map has no districts.";
      return;
    }
    svg.setAttribute("viewBox", `0 0 ${project.width} ${project.height}`);
    const most = Math.max(1, ...features.map((f) => f.properties.open_items || 0));
    const incidents = incidentsByDistrict();
    svg.replaceChildren(...features.map((feature) => {
      const props = feature.properties;
      const open = props.open_items || 0;
      const keys = new Set([districtKey(props.name), districtKey(props.district_id)]);
      let openIncidents = 0;
      for (const key of keys) openIncidents += incidents.get(key) || 0;
      const shade = open === 0 ? 0 : Math.max(1, Math.ceil((5 * open) / most));
      const rings = ringsOf(feature.geometry).map((ring) => ring.map(project.point));
      const d = rings.map((ring) => `M${ring.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join("L")}Z`).join("");
      const largest = rings.reduce((best, ring) => (ring.length > best.length ? ring : best), []);
      const [x, y] = labelPoint(largest);
      const counts = `${plural(open, "open", "open")} \u00B7 ${plural(openIncidents, "incident", "incidents")}`;
      return svgEl("g", {
        class: `district shade-${shade}`,
        "data-district": props.name,
        "data-open-items": open,
        "data-open-incidents": openIncidents,
      },
      svgEl("title", {}, `${props.name}: ${plural(open, "open item", "open items")}, ${plural(openIncidents, "open incident", "open incidents")}`),
      svgEl("path", { d, "fill-rule": "evenodd" }),
      svgEl("text", { x: x.toFixed(1), y: (y - 4).toFixed(1) },
        svgEl("tspan", { class: "district-name" }, props.name),
        svgEl("tspan", { class: "district-counts", x: x.toFixed(1), dy: "1.2em" }, counts)));
    }));
    const unmapped = data.unmapped_open_items || 0;
    $("map-unmapped").textContent = unmapped
      ? `${plural(unmapped, "open item", "open items")} with no district on this map.`
      : "";
  }

  // Incidents ------------------------------------------------------------------------------------

  async function loadIncidents() {
    if (!state.me) return;
    let open;
    try {
      ({ incidents: open } = await api("GET", "/v1/incidents?status=open"));
    } catch (error) {
      // A router without incidents yet answers 404: nothing to show, quietly.
      if (error.status !== 404) throw error;
      open = null;
    }
    state.openIncidents = open || [];
    if (open === null) state.incidents = [];
    else if (state.incidentStatus === "open") state.incidents = open;
    else ({ incidents: state.incidents } = await api("GET", `/v1/incidents?status=${state.incidentStatus}`));
    noteIncidents(state.openIncidents.length);
    $("incidents-count").textContent = state.openIncidents.length ? `(${state.openIncidents.length})` : "";
    renderIncidents();
    if (state.districts) renderMap();
    if (state.incidentId !== null && state.view === "incidents") await loadIncident(state.incidentId);
  }

  function renderIncidents() {
    const rows = state.incidents;
    $("incidents-total").textContent = `(${rows.length})`;
    $("incidents-empty").hidden = rows.length > 0;
    $("incident-rows").replaceChildren(...rows.map((incident) => el("tr", {
      class: `urgency-${incident.urgency}`,
      tabindex: "0",
      "aria-selected": String(incident.incident_id === state.incidentId),
      dataset: { incidentId: String(incident.incident_id), status: incident.status },
      onclick: () => openIncident(incident.incident_id),
      onkeydown: (event) => { if (event.key === "Enter") { event.preventDefault(); event.stopPropagation(); openIncident(incident.incident_id); } },
    },
    el("td", {}, badge(incident.urgency)),
    el("td", { class: "incident-members" }, String(incident.member_count)),
    el("td", { class: "incident-suggested" }, String(incident.suggested_count)),
    el("td", {}, incident.topics.join(", ") || "\u2014"),
    el("td", {}, incident.district || "\u2014"),
    el("td", {}, clockTime(incident.first_seen)),
    el("td", {}, el("span", { dataset: { since: incident.last_seen } }, duration(seconds(incident.last_seen))), " ago"))));
  }

  async function openIncident(incidentId) {
    state.incidentId = incidentId;
    for (const row of document.querySelectorAll("#incident-rows tr")) {
      row.setAttribute("aria-selected", String(Number(row.dataset.incidentId) === incidentId));
    }
    $("incident-result").textContent = "";
    $("incident-error").textContent = "";
    await loadIncident(incidentId);
  }

  async function loadIncident(incidentId) {
    let detail = null;
    try {
      detail = await api("GET", `/v1/incidents/${incidentId}`);
    } catch (error) {
      if (error.status !== 404) throw error;
    }
    if (incidentId !== state.incidentId) return;
    state.incidentDetail = detail;
    renderIncident();
  }

  const LINK_LABEL = { automatic: "linked", suggested: "suggested", confirmed: "confirmed", rejected: "rejected" };
  const REASON_LABEL = { reference: "refers to it", near_duplicate: "near duplicate", similar: "similar" };

  function renderIncident() {
    const incident = state.incidentDetail;
    $("incident-detail").hidden = !incident;
    if (!incident) return;
    $("incident-detail").dataset.incidentId = String(incident.incident_id);
    $("incident-title").replaceChildren(badge(incident.urgency), ` Incident ${incident.incident_id} \u2014 ${incident.status}`);
    $("incident-facts").textContent = [
      plural(incident.member_count, "member", "members"),
      incident.suggested_count ? `${incident.suggested_count} suggested` : null,
      incident.topics.join(", ") || null,
      incident.place || null,
      incident.district ? `district ${incident.district}` : null,
      incident.queue_ids.length ? `queues ${incident.queue_ids.join(", ")}` : null,
      incident.assignee ? `held by ${who(incident.assignee)}` : null,
    ].filter(Boolean).join(" \u00B7 ");
    const workable = incident.status === "open" && state.me.role !== "service";
    $("incident-claim").disabled = !workable;
    $("incident-resolve").disabled = !workable;
    const members = [...incident.members].sort((a, b) => Date.parse(a.received_at) - Date.parse(b.received_at) || a.item_id - b.item_id);
    $("incident-timeline").replaceChildren(...members.map((m) => el("li", {
      class: `link-${m.link}`,
      dataset: { itemId: String(m.item_id), link: m.link },
    },
    el("span", { class: "when" }, clockTime(m.received_at)),
    badge(m.urgency),
    el("button", { type: "button", class: "link", onclick: () => openMember(m.item_id) }, `Item ${m.item_id}`),
    el("span", {}, `${m.queue_id} \u00B7 ${STATUS[m.status] || m.status}`),
    el("span", { class: "link-label" }, LINK_LABEL[m.link] || m.link),
    el("span", { class: "hint" }, `${REASON_LABEL[m.reason] || m.reason} (${Number(m.score).toFixed(2)})`),
    m.decided_by ? el("span", { class: "hint" }, `by ${who(m.decided_by)}`) : null,
    m.link === "suggested" && workable ? [
      el("button", { type: "button", dataset: { memberAction: "confirm" }, onclick: () => memberAction(m.item_id, "confirm") }, "Confirm"),
      el("button", { type: "button", dataset: { memberAction: "reject" }, onclick: () => memberAction(m.item_id, "reject") }, "Reject"),
    ] : null)));
  }

  // The member's detail opens in the item pane beside the timeline (hidden on the wall display).
  function openMember(itemId) {
    select(itemId);
  }

  async function incidentStep(path, body, done) {
    const incident = state.incidentDetail;
    if (!incident) return;
    $("incident-error").textContent = "";
    $("incident-result").textContent = "";
    try {
      const answer = await api("POST", `/v1/incidents/${incident.incident_id}/${path}`, body);
      if (done) $("incident-result").textContent = done(answer);
      await loadIncidents();
      await loadIncident(incident.incident_id);
    } catch (error) {
      $("incident-error").textContent = `${path.split("/").pop()}: ${error.message}`;
    }
  }

  function memberAction(itemId, action) {
    return incidentStep(`members/${itemId}/${action}`, undefined, null);
  }

  function stepSummary(verb) {
    return (answer) => {
      const done = answer[verb] || [];
      const skipped = answer.skipped || [];
      return `${plural(done.length, "item", "items")} ${verb}` + (skipped.length ? `; ${skipped.length} skipped (not yours to take, or no longer open)` : "");
    };
  }

  // Rendering ----------------------------------------------------------------------------------

  function visibleItems() {
    return [...state.items.values()]
      .filter((i) => state.filter === null || i.queue_id === state.filter)
      .sort((a, b) =>
        a.priority_rank - b.priority_rank ||
        Date.parse(a.received_at) - Date.parse(b.received_at) ||
        a.item_id - b.item_id);
  }

  function badge(urgency) {
    const u = URGENCY[urgency] || { icon: "\u25CF", label: String(urgency).toUpperCase() };
    return el("span", { class: `badge badge-${urgency}` }, el("span", { "aria-hidden": "true" }, u.icon), ` ${u.label}`);
  }

  function statusText(item) {
    const base = STATUS[item.status] || item.status;
    return item.assignee ? `${base} \u2014 ${who(item.assignee)}` : base;
  }

  function render() {
    renderQueues();
    renderItems();
    renderOverview();
    renderDetail();
  }

  function renderQueues() {
    const list = $("queue-list");
    const total = state.queues.reduce((n, q) => n + q.depth, 0);
    const entry = (queueId, label, depth, critical, key) => el(
      "li", {},
      el("button", {
        type: "button",
        class: "queue-button",
        "aria-pressed": String(state.filter === queueId),
        onclick: () => setFilter(queueId),
      },
      el("kbd", {}, key),
      el("span", { class: "queue-name" }, label),
      el("span", { class: "depth", title: "waiting" }, String(depth)),
      critical ? el("span", { class: "badge badge-critical small" }, `\u26A0\uFE0E ${critical}`) : null),
    );
    const critical = state.queues.reduce((n, q) => n + (q.depth_by_urgency.critical || 0), 0);
    list.replaceChildren(
      entry(null, "All queues", total, critical, "0"),
      ...state.queues.map((q, n) =>
        entry(q.queue_id, q.queue_id, q.depth, q.depth_by_urgency.critical || 0, n < 9 ? String(n + 1) : "")),
    );
    $("queue-options").replaceChildren(...state.queues.map((q) => el("option", { value: q.queue_id })));
    $("officer-options").replaceChildren(
      ...[...state.members.values()].map((m) => el("option", { value: m.officer_id }, m.name)),
    );
  }

  function renderItems() {
    const list = $("items");
    const hadFocus = list.contains(document.activeElement);
    const items = visibleItems();
    list.replaceChildren(...items.map((item) => {
      const sla = slaOf(item);
      return el("li", {
        role: "option",
        tabindex: "-1",
        class: `item urgency-${item.urgency} status-${item.status}`,
        "aria-selected": String(item.item_id === state.selectedId),
        dataset: { itemId: String(item.item_id), urgency: item.urgency, status: item.status },
        onclick: () => select(item.item_id),
      },
      el("div", { class: "row-top" },
        badge(item.urgency),
        el("span", { class: "row-status" }, statusText(item)),
        el("span", { class: `sla ${sla ? sla.cls : ""}`, dataset: { slaItem: String(item.item_id) } }, sla ? sla.text : "")),
      el("p", { class: "row-text" }, item.text),
      el("div", { class: "row-meta" },
        el("span", {}, item.queue_id),
        el("span", {}, item.source),
        el("span", {}, "waiting ", el("span", { dataset: { since: item.received_at } }, duration(seconds(item.received_at)))),
        item.escalation_tier ? el("span", { class: "escalated" }, `\u2191 escalated \u00D7${item.escalation_tier}`) : null));
    }));
    $("items-count").textContent = `(${items.length})`;
    $("empty").hidden = items.length > 0;
    if (hadFocus) focusSelected();
  }

  function renderOverview() {
    const section = $("supervisor");
    section.hidden = !seesOverview();
    if (section.hidden) return;
    const all = [...state.items.values()];
    $("overview-body").replaceChildren(...state.queues.map((q) => {
      const mine = all.filter((i) => i.queue_id === q.queue_id);
      const critical = q.depth_by_urgency.critical || 0;
      const breached = mine.filter((i) => i.breached_at || i.breach).length;
      const escalated = mine.filter((i) => i.escalation_tier > 0).length;
      return el("tr", { class: critical ? "has-critical" : "" },
        el("th", { scope: "row" }, q.queue_id),
        el("td", {}, String(q.depth)),
        el("td", { class: critical ? "critical-cell" : "" }, critical ? `\u26A0\uFE0E ${critical}` : "0"),
        el("td", {}, q.oldest_received_at ? el("span", { dataset: { since: q.oldest_received_at } }, duration(seconds(q.oldest_received_at))) : "\u2014"),
        el("td", {}, String(mine.filter((i) => i.status !== "open").length)),
        el("td", { class: breached ? "critical-cell" : "" }, String(breached)),
        el("td", { class: escalated ? "critical-cell" : "" }, String(escalated)));
    }));
    const hot = all.filter((i) => i.breached_at || i.breach || i.escalation_tier > 0)
      .sort((a, b) => a.priority_rank - b.priority_rank || Date.parse(a.received_at) - Date.parse(b.received_at));
    $("escalations").replaceChildren(...(hot.length ? hot.map((item) => el("li", {},
      el("button", { type: "button", class: "link", onclick: () => select(item.item_id) },
        badge(item.urgency), ` #${item.item_id} ${item.queue_id} \u2014 ${statusText(item)} `,
        el("span", { class: "sla", dataset: { slaItem: String(item.item_id) } }, (slaOf(item) || { text: "" }).text),
        item.escalation_tier ? ` \u2191 tier ${item.escalation_tier}` : ""))) : [el("li", { class: "empty" }, "None.")]));
  }

  function renderDetail() {
    const item = state.detail;
    $("detail-empty").hidden = Boolean(item);
    $("detail-body").hidden = !item;
    if (!item) return;
    $("detail").className = `detail urgency-${item.urgency}`;
    $("d-badge").replaceChildren(badge(item.urgency));
    $("d-status").textContent = statusText(item) + (item.disposition ? ` (${item.disposition})` : "");
    $("d-status").dataset.status = item.status;
    $("d-sla").dataset.slaItem = String(item.item_id);
    $("d-text").textContent = item.text;
    $("d-source").textContent = `${item.source} \u00B7 ${item.source_id}`;
    $("d-queue").textContent = item.queue_id + (item.watch_queues && item.watch_queues.length ? ` (also watched by ${item.watch_queues.join(", ")})` : "");
    $("d-assignee").textContent = item.assignee ? who(item.assignee) : "nobody";
    $("d-received").replaceChildren(`${clockTime(item.received_at)}, `, el("span", { dataset: { since: item.received_at } }, duration(seconds(item.received_at))), " ago");
    $("d-topics").textContent = item.topics.join(", ") || "\u2014";
    $("d-rule").textContent = `${item.rule} (policy ${item.policy_version}, ruleset ${item.ruleset_version})`;
    $("d-score").textContent = item.score.toFixed(2);
    for (const button of document.querySelectorAll("#detail [data-action]")) {
      button.disabled = !allowed(item, button.dataset.action);
    }
    $("d-reasons").replaceChildren(...(item.reasons.length ? item.reasons.map((r) => el("li", {},
      el("code", {}, r.rule || "rule"),
      r.label ? ` \u2192 ${r.label}` : "",
      r.matched && r.matched.length ? el("span", { class: "matched" }, ` matched \u201C${[].concat(r.matched).join("\u201D, \u201C")}\u201D`) : "",
      r.weight !== undefined ? ` (weight ${r.weight})` : "")) : [el("li", { class: "empty" }, "No reasons recorded.")]));
    $("d-notes").replaceChildren(...(item.notes.length ? item.notes.map((n) => el("li", {},
      el("span", { class: "when" }, `${clockTime(n.at)} ${who(n.officer_id)}: `), n.text)) : [el("li", { class: "empty" }, "No notes.")]));
    $("d-audit").replaceChildren(...item.audit.map((a) => {
      const details = Object.keys(a.details || {}).length ? JSON.stringify(a.details) : "";
      return el("tr", { dataset: { action: a.action } },
        el("td", {}, clockTime(a.at)),
        el("td", { class: "audit-action" }, a.action),
        el("td", {}, who(a.actor)),
        el("td", {}, a.queue_id || ""),
        el("td", { class: "audit-details" }, details));
    }));
    timers();
  }

  // Selection and keyboard ------------------------------------------------------------------

  function focusSelected() {
    const row = document.querySelector(`#items [data-item-id="${state.selectedId}"]`);
    if (row) {
      row.focus({ preventScroll: true });
      row.scrollIntoView({ block: "nearest" });
    }
  }

  function select(itemId) {
    state.selectedId = itemId;
    for (const row of document.querySelectorAll("#items [data-item-id]")) {
      row.setAttribute("aria-selected", String(Number(row.dataset.itemId) === itemId));
    }
    focusSelected();
    if (!state.detail || state.detail.item_id !== itemId) {
      state.detail = state.items.get(itemId) ? { notes: [], audit: [], watch_queues: [], ...state.items.get(itemId) } : null;
      renderDetail();
    }
    loadDetail(itemId).catch(report);
  }

  function move(step) {
    const ids = visibleItems().map((i) => i.item_id);
    if (!ids.length) return;
    const at = ids.indexOf(state.selectedId);
    const next = at < 0 ? (step > 0 ? 0 : ids.length - 1) : Math.min(ids.length - 1, Math.max(0, at + step));
    select(ids[next]);
  }

  function setFilter(queueId) {
    state.filter = queueId;
    renderQueues();
    renderItems();
  }

  function setWall(on) {
    document.documentElement.classList.toggle("wall", on);
    const url = new URL(window.location.href);
    if (on) url.searchParams.set("wall", "1");
    else url.searchParams.delete("wall");
    window.history.replaceState(null, "", url);
  }

  function reportMap(error) {
    if (error && error.status === 401) return;
    $("map-error").textContent = `District map: ${error && error.message ? error.message : String(error)}`;
  }

  function report(error) {
    if (error && error.status === 401) return;
    $("action-error").textContent = error && error.message ? error.message : String(error);
    console.error(error);
  }

  async function act(action, body) {
    const item = state.detail;
    if (!item) return;
    $("action-error").textContent = "";
    try {
      const path = action === "note" ? "notes" : action;
      await api("POST", `/v1/items/${item.item_id}/${path}`, body);
      await refreshItem(item.item_id);
      focusSelected();
    } catch (error) {
      report(error);
    }
  }

  function openDialog(id, focusId) {
    const dialog = $(id);
    if (dialog.open) return;
    dialog.showModal();
    if (focusId) $(focusId).focus();
  }

  function command(action) {
    const item = state.detail;
    if (action === "help") return openDialog("help-dialog");
    if (!item) return;
    if (!allowed(item, action)) {
      $("action-error").textContent = `${action}: not possible for this item now (${STATUS[item.status] || item.status}).`;
      return;
    }
    if (action === "note") return openDialog("note-dialog", "note-text");
    if (action === "resolve") return openDialog("resolve-dialog", "disposition");
    if (action === "transfer") return openDialog("transfer-dialog", "transfer-queue");
    act(action);
  }

  const VIEW_KEYS = { i: "items", g: "incidents", m: "map" };
  const KEYS = { c: "claim", a: "ack", e: "heartbeat", u: "release", t: "transfer", n: "note", r: "resolve", "?": "help" };

  function onKey(event) {
    if (!state.me || event.ctrlKey || event.metaKey || event.altKey) return;
    if (document.querySelector("dialog[open]")) return;
    if (event.target.closest("input, textarea, select")) return;
    const key = event.key;
    if (key === "j" || key === "ArrowDown") move(1);
    else if (key === "k" || key === "ArrowUp") move(-1);
    else if (key === "w") setWall(!document.documentElement.classList.contains("wall"));
    else if (VIEW_KEYS[key]) setView(VIEW_KEYS[key]);
    else if (key === "0") setFilter(null);
    else if (/^[1-9]$/.test(key) && state.queues[Number(key) - 1]) setFilter(state.queues[Number(key) - 1].queue_id);
    else if (KEYS[key]) command(KEYS[key]);
    else return;
    event.preventDefault();
  }

  // Sign in / out -----------------------------------------------------------------------------

  async function start(token) {
    state.token = token;
    state.me = await api("GET", "/v1/me");
    sessionStorage.setItem(TOKEN_KEY, token);
    $("signin").hidden = true;
    $("app").hidden = false;
    $("sign-out").hidden = false;
    $("whoami").textContent = `${state.me.name} \u00B7 ${state.me.role}`;
    $("queues-title").textContent = state.me.role === "officer" ? "My queues" : "Queues";
    setLive("off", "connecting\u2026");
    runStream();
    loadApprovals().catch(report);
    if (!state.me.queues.length && !["admin", "service"].includes(state.me.role)) {
      addNotice("You belong to no queue yet: ask an administrator to add you.");
    }
  }

  function signOut(message) {
    if (state.stream) state.stream.abort();
    sessionStorage.removeItem(TOKEN_KEY);
    Object.assign(state, {
      token: null, me: null, queues: [], items: new Map(), selectedId: null, detail: null, lastEventId: null,
      alertGroups: new Map(), alertsExpanded: false, districts: null, openIncidents: [], incidents: [],
      incidentId: null, incidentDetail: null, incidentsDismissedAt: 0,
    });
    renderAlerts();
    $("incident-detail").hidden = true;
    $("app").hidden = true;
    $("sign-out").hidden = true;
    $("whoami").textContent = "";
    $("signin").hidden = false;
    $("signin-error").textContent = message || "";
    setLive("off", "offline");
    $("token").value = "";
    $("token").focus();
  }

  function wireDialogs() {
    for (const dialog of document.querySelectorAll("dialog")) {
      for (const cancel of dialog.querySelectorAll(".cancel")) cancel.addEventListener("click", () => dialog.close());
      dialog.addEventListener("close", () => focusSelected());
      for (const area of dialog.querySelectorAll("textarea")) {
        area.addEventListener("keydown", (event) => {
          if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
            event.preventDefault();
            area.form.requestSubmit();
          }
        });
      }
    }
    // A select does not submit its form on Enter by itself; the resolve dialog should.
    $("disposition").addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        $("resolve-form").requestSubmit();
      }
    });
    $("note-form").addEventListener("submit", () => {
      const text = $("note-text").value.trim();
      $("note-text").value = "";
      if (text) act("note", { text });
    });
    $("resolve-form").addEventListener("submit", () => {
      const note = $("resolve-note").value.trim();
      $("resolve-note").value = "";
      act("resolve", note ? { disposition: $("disposition").value, note } : { disposition: $("disposition").value });
    });
    $("transfer-form").addEventListener("submit", (event) => {
      const body = {};
      for (const [field, id] of [["queue_id", "transfer-queue"], ["officer_id", "transfer-officer"], ["reason", "transfer-reason"]]) {
        const value = $(id).value.trim();
        if (value) body[field] = value;
      }
      if (!body.queue_id && !body.officer_id) {
        event.preventDefault();
        $("transfer-queue").setCustomValidity("Give a queue, an officer or both.");
        $("transfer-queue").reportValidity();
        return;
      }
      for (const id of ["transfer-queue", "transfer-officer", "transfer-reason"]) $(id).value = "";
      act("transfer", body);
    });
    $("transfer-queue").addEventListener("input", () => $("transfer-queue").setCustomValidity(""));
    $("incident-resolve-form").addEventListener("submit", () => {
      const note = $("incident-resolve-note").value.trim();
      $("incident-resolve-note").value = "";
      const body = { disposition: $("incident-disposition").value, note: note || null };
      incidentStep("resolve", body, stepSummary("resolved"));
    });
  }

  function init() {
    setWall(new URLSearchParams(window.location.search).get("wall") === "1");
    wireDialogs();
    document.addEventListener("keydown", onKey);
    for (const button of document.querySelectorAll("#detail [data-action]")) {
      button.addEventListener("click", () => command(button.dataset.action));
    }
    $("help-open").addEventListener("click", () => openDialog("help-dialog"));
    $("reply-template").addEventListener("change", onTemplateChange);
    $("reply-text").addEventListener("input", updateReplyHint);
    $("reply-send").addEventListener("click", () => sendReply());
    $("wall-toggle").addEventListener("click", () => setWall(!document.documentElement.classList.contains("wall")));
    $("sign-out").addEventListener("click", () => signOut(""));
    $("signin-form").addEventListener("submit", (event) => {
      event.preventDefault();
      $("signin-error").textContent = "";
      start($("token").value.trim()).catch((error) => {
        if (error.status !== 401) $("signin-error").textContent = `Could not sign in: ${error.message}`;
      });
    });
    for (const tab of document.querySelectorAll(".tabs [role='tab']")) {
      tab.addEventListener("click", () => setView(tab.dataset.view));
    }
    $("incident-status").addEventListener("change", () => {
      state.incidentStatus = $("incident-status").value;
      loadIncidents().catch(report);
    });
    $("incident-claim").addEventListener("click", () => incidentStep("claim", undefined, stepSummary("claimed")));
    $("incident-resolve").addEventListener("click", () => openDialog("incident-resolve-dialog", "incident-disposition"));
    setInterval(timers, 1000);
    setInterval(expireAlerts, 10000);
    setInterval(() => { if (state.me) loadIncidents().catch(report); }, INCIDENTS_POLL_MS);
    const saved = sessionStorage.getItem(TOKEN_KEY);
    if (saved) start(saved).catch(() => signOut(""));
    else signOut("");
  }

  init();
})();
