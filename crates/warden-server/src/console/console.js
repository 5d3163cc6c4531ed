// Warden console: keeps a page live. The server sends `changed` on /ui/events when what the
// page shows changed; the page then fetches itself and swaps its <main>, unless the person is
// typing in a form (their input would be lost) — then it says an update is waiting. It also
// fetches itself whenever the stream (re)opens, for changes made while it was not listening.
(function () {
  "use strict";
  var url = document.body.getAttribute("data-live");
  if (!url || !window.EventSource) { return; }
  var status = document.getElementById("live");
  var pending = false;
  function busy() {
    var el = document.activeElement;
    return el && (el.tagName === "INPUT" || el.tagName === "SELECT" || el.tagName === "TEXTAREA") && el.value;
  }
  function refresh() {
    if (busy()) {
      pending = true;
      if (status) { status.textContent = "updated: press Escape or leave the field to refresh"; }
      return;
    }
    pending = false;
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (text) {
        if (!text) { return; }
        var doc = new DOMParser().parseFromString(text, "text/html");
        var fresh = doc.getElementById("main");
        var main = document.getElementById("main");
        if (fresh && main) { main.innerHTML = fresh.innerHTML; }
        if (status) { status.textContent = "live · updated " + new Date().toLocaleTimeString(); }
      })
      .catch(function () { if (status) { status.textContent = "live update failed; reload the page"; } });
  }
  document.addEventListener("focusout", function () { if (pending) { window.setTimeout(refresh, 50); } });
  document.addEventListener("keydown", function (event) { if (event.key === "Escape" && pending) { refresh(); } });
  var source = new EventSource(url);
  source.addEventListener("changed", refresh);
  // A change between this page's render and the stream's (re)opening sent no event this page
  // saw: fetch once on every open so nothing is missed.
  source.onopen = function () {
    if (status) { status.textContent = "live"; }
    refresh();
  };
  source.onerror = function () { if (status) { status.textContent = "reconnecting…"; } };
})();
