// The usage report: fetched (with the API key the chat page keeps) and shown as it comes.
"use strict";

const KEY_STORAGE = "blueprints.apiKey";
const $ = (id) => document.getElementById(id);

function authHeaders() {
  const key = localStorage.getItem(KEY_STORAGE);
  return key ? { Authorization: `Bearer ${key}` } : {};
}

async function load() {
  const since = $("since").value;
  const query = since ? `?since=${encodeURIComponent(since)}` : "";
  $("message").textContent = "Loading…";
  const response = await fetch(`/v1/admin/usage.html${query}`, { headers: authHeaders() });
  if (response.status === 401) {
    $("report").replaceChildren();
    $("key-form").hidden = false;
    $("message").textContent = "This server needs its API key to show the report.";
    $("api-key").focus();
    return;
  }
  if (!response.ok) {
    $("message").textContent = `The report could not be loaded (${response.status}).`;
    return;
  }
  // The server escapes every value it puts in this fragment; it holds no script.
  $("report").innerHTML = await response.text();
  $("message").textContent = "";
}

document.addEventListener("DOMContentLoaded", () => {
  $("filter").addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("api-key").value.trim();
    if (key) localStorage.setItem(KEY_STORAGE, key);
    else localStorage.removeItem(KEY_STORAGE);
    $("key-form").hidden = true;
    load();
  });
  load();
});
