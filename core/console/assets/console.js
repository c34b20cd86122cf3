// Steward console behaviour. Pages work without it; it only adds conveniences. No inline
// script anywhere (the CSP forbids it): everything the pages do in the browser is here.
"use strict";
document.documentElement.classList.add("js");

// Live updates (core/console/src/live.rs). A page that carries `data-live-ticket="{id}"` or
// `data-live-queue="all"` opens an EventSource on /live; the browser reconnects by itself and
// sends the last event's id (Last-Event-ID), so nothing is missed across a reconnection.
// `changed` shows the server's notice in the element marked `data-live-notice`; queue rows
// marked `data-live-row="{ticket id}"` with `data-live-src="{url}"` are refreshed in place (htmx).
// `viewers` fills `data-live-viewers` ("also viewing"). The fragments come escaped from the server.
(function () {
  function follow(root, url) {
    var notice = root.querySelector("[data-live-notice]");
    var viewers = root.querySelector("[data-live-viewers]");
    var source = new EventSource(url);
    source.addEventListener("changed", function (e) {
      var data = JSON.parse(e.data);
      if (notice) { notice.innerHTML = data.html; }
      if (window.htmx) {
        data.tickets.forEach(function (t) {
          document.querySelectorAll("[data-live-row]").forEach(function (row) {
            if (row.getAttribute("data-live-row") === t.id && row.getAttribute("data-live-src")) {
              window.htmx.ajax("GET", row.getAttribute("data-live-src"), { target: row, swap: "outerHTML" });
            }
          });
        });
      }
      root.setAttribute("data-live-position", e.lastEventId);
    });
    source.addEventListener("viewers", function (e) {
      if (viewers) { viewers.innerHTML = JSON.parse(e.data).html; }
    });
    source.addEventListener("open", function () { root.setAttribute("data-live-open", "true"); });
    window.addEventListener("pagehide", function () { source.close(); });
  }
  // `data-live-after` (the feed position the page was rendered at) starts the stream there, so
  // a change between rendering and connecting is reported too.
  function after(root) {
    var at = root.getAttribute("data-live-after");
    return at ? "&after=" + encodeURIComponent(at) : "";
  }
  function start() {
    document.querySelectorAll("[data-live-ticket]").forEach(function (root) {
      follow(root, "/live?ticket=" + encodeURIComponent(root.getAttribute("data-live-ticket")) + after(root));
    });
    document.querySelectorAll("[data-live-queue]").forEach(function (root) {
      follow(root, "/live?queue=" + encodeURIComponent(root.getAttribute("data-live-queue")) + after(root));
    });
    document.addEventListener("click", function (e) {
      var link = e.target.closest && e.target.closest("[data-live-reload]");
      if (link) { e.preventDefault(); window.location.reload(); }
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
