// The web chat: streams answers from /v1/ask/stream, shows citations, sends feedback.
"use strict";

const KEY_STORAGE = "blueprints.apiKey";
// Follow-ups need the recent topic, not whole answers: this keeps requests far below
// the server's body limit (64 KiB by default).
const MAX_HISTORY_TURNS = 10;
const MAX_TURN_CHARS = 1500;
const COVERAGE_LABELS = {
  answered: "Answered",
  partial: "Partial answer",
  not_found: "Not found in the blueprints",
};

const $ = (id) => document.getElementById(id);
let history = [];

// ---------- markdown: escape first, then a few safe constructs ----------

function escapeHtml(text) {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

// Inline markup on already-escaped text: **bold**, *italic*, `code`, [n] citation markers.
function renderInline(escaped, citations) {
  return escaped
    .replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>")
    .replace(/(^|[\s(])\*([^*\s][^*]*?)\*(?=[\s).,:;!?]|$)/g, "$1<em>$2</em>")
    .replace(/`([^`]+)`/g, "<code>$1</code>")
    .replace(/\[(\d{1,3})\]/g, (marker, n) =>
      citations && citations.has(Number(n))
        ? `<button type="button" class="cite" data-n="${n}" aria-label="Source ${n}">${n}</button>`
        : marker,
    );
}

function renderTable(rows, citations) {
  const cells = (row) => row.replace(/^\||\|$/g, "").split("|").map((c) => c.trim());
  const body = rows.filter((row) => !/^\|?[\s:|-]+\|?$/.test(row));
  const [head, ...rest] = body.map(cells);
  const th = head.map((c) => `<th>${renderInline(c, citations)}</th>`).join("");
  const trs = rest
    .map((r) => `<tr>${r.map((c) => `<td>${renderInline(c, citations)}</td>`).join("")}</tr>`)
    .join("");
  return `<div class="table-wrap"><table><thead><tr>${th}</tr></thead><tbody>${trs}</tbody></table></div>`;
}

// Markdown to HTML. Everything is escaped before any tag is added, so answer text
// (which quotes scraped pages) can never inject markup. A bullet indented under another
// (`  - child`) is nested in its parent's item.
function renderMarkdown(text, citations) {
  const lines = escapeHtml(text).split(/\r?\n/);
  const out = [];
  let paragraph = [];
  let list = null;
  let table = [];
  const flushParagraph = () => {
    if (paragraph.length) out.push(`<p>${paragraph.join("<br>")}</p>`);
    paragraph = [];
  };
  const renderItem = (item) => {
    const children = item.children.map((c) => `<li>${c}</li>`).join("");
    return `<li>${item.html}${children ? `<ul>${children}</ul>` : ""}</li>`;
  };
  const flushList = () => {
    if (list) out.push(`<${list.tag}>${list.items.map(renderItem).join("")}</${list.tag}>`);
    list = null;
  };
  const flushTable = () => {
    if (table.length) out.push(renderTable(table, citations));
    table = [];
  };
  for (const raw of lines) {
    const line = raw.trim();
    const indented = /^\s{2,}/.test(raw);
    const bullet = line.match(/^[-*•]\s+(.*)$/);
    const numbered = line.match(/^\d+[.)]\s+(.*)$/);
    const heading = line.match(/^#{1,6}\s+(.*)$/);
    if (line.startsWith("|")) {
      flushParagraph();
      flushList();
      table.push(line);
      continue;
    }
    flushTable();
    if ((bullet || numbered) && indented && list && list.items.length) {
      list.items[list.items.length - 1].children.push(renderInline((bullet || numbered)[1], citations));
    } else if (bullet || numbered) {
      const tag = bullet ? "ul" : "ol";
      flushParagraph();
      if (list && list.tag !== tag) flushList();
      list = list || { tag, items: [] };
      list.items.push({ html: renderInline((bullet || numbered)[1], citations), children: [] });
    } else if (!line) {
      flushParagraph();
      flushList();
    } else if (heading) {
      flushParagraph();
      flushList();
      out.push(`<p class="heading"><strong>${renderInline(heading[1], citations)}</strong></p>`);
    } else {
      flushList();
      paragraph.push(renderInline(line, citations));
    }
  }
  flushParagraph();
  flushList();
  flushTable();
  return out.join("");
}

// ---------- Server-Sent Events over fetch (EventSource cannot POST) ----------

// Splits a text/event-stream buffer into complete events; returns [events, rest].
function parseSse(buffer) {
  const blocks = buffer.replace(/\r\n?/g, "\n").split("\n\n");
  const rest = blocks.pop();
  const events = [];
  for (const block of blocks) {
    let event = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) continue;
      const [field, ...value] = line.split(":");
      const text = value.join(":").replace(/^ /, "");
      if (field === "event") event = text;
      else if (field === "data") data.push(text);
    }
    if (data.length) events.push({ event, data: data.join("\n") });
  }
  return [events, rest];
}

// ---------- talking to the API ----------

function authHeaders() {
  const key = localStorage.getItem(KEY_STORAGE);
  return key ? { Authorization: `Bearer ${key}` } : {};
}

async function errorText(response) {
  if (response.status === 401) {
    showKeyForm("This server needs an API key.");
    return "This server needs an API key: enter it with the Key button.";
  }
  if (response.status === 429) {
    return `Too many questions: try again in ${response.headers.get("Retry-After") || "a few"} s.`;
  }
  try {
    const body = await response.json();
    if (Array.isArray(body.detail)) return body.detail.map((d) => d.msg).join("; ");
    return body.detail || `Request failed (${response.status})`;
  } catch {
    return `Request failed (${response.status})`;
  }
}

async function loadRoles() {
  const response = await fetch("/v1/roles", { headers: authHeaders() });
  if (!response.ok) return;
  const select = $("role");
  select.length = 1;
  for (const role of await response.json()) {
    const option = new Option(role.coverage === "summary" ? `${role.role} (summary)` : role.role, role.id);
    select.add(option);
  }
}

async function postFeedback(answerId, rating, comment) {
  const body = { answer_id: answerId, rating };
  if (comment) body.comment = comment;
  return fetch("/v1/feedback", {
    method: "POST",
    headers: { "Content-Type": "application/json", ...authHeaders() },
    body: JSON.stringify(body),
  });
}

async function sendFeedback(answerId, rating, buttons) {
  const response = await postFeedback(answerId, rating);
  buttons.forEach((b) => {
    b.disabled = true;
    b.classList.toggle("chosen", b.dataset.rating === rating && response.ok);
  });
  const rate = buttons[0].parentElement;
  rate.querySelector(".thanks").textContent = response.ok
    ? "Thanks for the feedback."
    : await errorText(response);
  if (response.ok && rating === "down") askWhatWasWrong(answerId, rate);
}

// After a 👎 (already counted): an optional reason, stored with the same vote.
function askWhatWasWrong(answerId, rate) {
  const form = document.createElement("form");
  form.className = "reason-form";
  form.innerHTML = `
    <label for="reason-${escapeHtml(answerId)}">What was wrong? (optional)</label>
    <textarea id="reason-${escapeHtml(answerId)}" rows="2" maxlength="2000"
              placeholder="e.g. wrong role, a KPI is missing"></textarea>
    <div class="reason-actions">
      <button type="submit">Send</button>
      <button type="button" class="secondary skip">Skip</button>
    </div>`;
  const thanks = rate.querySelector(".thanks");
  form.querySelector(".skip").addEventListener("click", () => form.remove());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const reason = form.querySelector("textarea").value.trim();
    if (!reason) {
      form.remove();
      return;
    }
    form.querySelectorAll("button, textarea").forEach((el) => {
      el.disabled = true;
    });
    const response = await postFeedback(answerId, "down", reason);
    thanks.textContent = response.ok ? "Thanks, that helps us fix it." : await errorText(response);
    if (response.ok) form.remove();
    else form.querySelectorAll("button, textarea").forEach((el) => {
      el.disabled = false;
    });
  });
  rate.closest(".answer-footer").after(form);
  form.querySelector("textarea").focus();
}

// ---------- the conversation ----------

function addMessage(kind, html) {
  const message = document.createElement("article");
  message.className = `message ${kind}`;
  message.innerHTML = html;
  $("conversation").append(message);
  message.scrollIntoView({ block: "end" });
  return message;
}

function showCitation(citation) {
  $("citation-role").textContent = citation.role;
  $("citation-section").textContent = citation.section;
  $("citation-subsection").textContent = citation.subsection;
  document.querySelectorAll(".subsection").forEach((el) => {
    el.hidden = !citation.subsection;
  });
  $("citation-quote").textContent = citation.quote;
  $("citation-title").textContent = `Source [${citation.n}]`;
  const link = $("citation-link");
  const safeUrl = /^https?:\/\//i.test(citation.url || "");
  link.hidden = !safeUrl;
  if (safeUrl) link.href = citation.url;
  $("citation-source").textContent = citation.source;
  $("citation-panel").hidden = false;
  document.body.classList.add("panel-open");
  $("citation-close").focus();
}

function closeCitation() {
  $("citation-panel").hidden = true;
  document.body.classList.remove("panel-open");
}

function finishAnswer(body, answer) {
  body.parentElement.dataset.answerId = answer.id;
  const citations = new Map(answer.citations.map((c) => [c.n, c]));
  body.innerHTML = renderMarkdown(answer.answer, citations);
  body.addEventListener("click", (event) => {
    const marker = event.target.closest("button.cite");
    if (marker) showCitation(citations.get(Number(marker.dataset.n)));
  });

  const footer = document.createElement("footer");
  footer.className = "answer-footer";
  const label = COVERAGE_LABELS[answer.coverage] || answer.coverage;
  footer.innerHTML = `
    <span class="badge coverage-${escapeHtml(answer.coverage)}">${escapeHtml(label)}</span>
    <span class="rate">
      <button type="button" class="rating" data-rating="up" aria-label="Helpful" title="Helpful">&#128077;</button>
      <button type="button" class="rating" data-rating="down" aria-label="Not helpful" title="Not helpful">&#128078;</button>
      <span class="thanks" role="status"></span>
    </span>`;
  const buttons = [...footer.querySelectorAll("button.rating")];
  buttons.forEach((b) => b.addEventListener("click", () => sendFeedback(answer.id, b.dataset.rating, buttons)));
  body.after(footer);

  if (answer.suggestions && answer.suggestions.length) {
    const chips = document.createElement("div");
    chips.className = "suggestions";
    for (const suggestion of answer.suggestions.slice(0, 4)) {
      const chip = document.createElement("button");
      chip.type = "button";
      chip.textContent = suggestion;
      chip.addEventListener("click", () => ask(suggestion));
      chips.append(chip);
    }
    footer.after(chips);
  }
}

async function ask(question) {
  if ($("send").disabled) return; // one question at a time
  $("send").disabled = true;
  addMessage("user", `<p>${escapeHtml(question)}</p>`);
  const message = addMessage("assistant", '<div class="answer-body"><p class="typing">Thinking…</p></div>');
  const body = message.querySelector(".answer-body");
  const payload = { question, history: history.slice(-MAX_HISTORY_TURNS) };
  if ($("role").value) payload.role = $("role").value;
  try {
    const response = await fetch("/v1/ask/stream", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream", ...authHeaders() },
      body: JSON.stringify(payload),
    });
    if (!response.ok) throw new Error(await errorText(response));
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let text = "";
    let answer = null;
    while (!answer) {
      const { value, done } = await reader.read();
      if (done) break;
      let events;
      [events, buffer] = parseSse(buffer + value);
      for (const { event, data } of events) {
        if (event === "delta") {
          text += JSON.parse(data).text;
          body.innerHTML = renderMarkdown(text, null);
          message.scrollIntoView({ block: "end" });
        } else if (event === "final") {
          answer = JSON.parse(data);
        } else if (event === "error") {
          throw new Error(JSON.parse(data).detail);
        }
      }
    }
    if (!answer) throw new Error("The answer stream ended early: please ask again.");
    finishAnswer(body, answer);
    history.push(
      { role: "user", content: question },
      { role: "assistant", content: answer.answer.slice(0, MAX_TURN_CHARS) },
    );
  } catch (error) {
    body.innerHTML = `<p class="error">${escapeHtml(error.message)}</p>`;
  } finally {
    $("send").disabled = false;
    message.scrollIntoView({ block: "end" });
  }
}

function showKeyForm(hint) {
  const form = $("key-form");
  form.hidden = false;
  $("key-toggle").setAttribute("aria-expanded", "true");
  if (hint) $("key-hint").textContent = hint;
  $("api-key").focus();
}

function setUp() {
  $("api-key").value = localStorage.getItem(KEY_STORAGE) || "";
  $("key-toggle").addEventListener("click", () => {
    if ($("key-form").hidden) showKeyForm();
    else {
      $("key-form").hidden = true;
      $("key-toggle").setAttribute("aria-expanded", "false");
    }
  });
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("api-key").value.trim();
    if (key) localStorage.setItem(KEY_STORAGE, key);
    else localStorage.removeItem(KEY_STORAGE);
    $("key-form").hidden = true;
    loadRoles();
  });
  $("ask-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const question = $("question").value.trim();
    if (!question || $("send").disabled) return;
    $("question").value = "";
    ask(question);
  });
  $("question").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      $("ask-form").requestSubmit();
    }
  });
  $("new-chat").addEventListener("click", () => {
    history = [];
    document.querySelectorAll(".message").forEach((m) => m.remove());
    $("question").focus();
  });
  $("citation-close").addEventListener("click", closeCitation);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") closeCitation();
  });
  loadRoles();
}

document.addEventListener("DOMContentLoaded", setUp);
