// Steward console behaviour. Pages work without it; it only adds conveniences. No inline
// script anywhere (the CSP forbids it): everything the pages do in the browser is here.
"use strict";
document.documentElement.classList.add("js");

// The ticket page: Ctrl+Enter sends the composer; r focuses a public reply, n an internal note,
// a the assignee picker (never while typing in a field).
document.addEventListener("keydown", function (event) {
  var target = event.target;
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && target.id === "comment-body" && target.form) {
    event.preventDefault();
    target.form.requestSubmit();
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  var tag = target.tagName;
  if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable) return;
  var body = document.getElementById("comment-body");
  var pick = function (id) {
    var radio = document.getElementById(id);
    if (radio && body) { radio.checked = true; body.focus(); event.preventDefault(); }
  };
  if (event.key === "r") pick("visibility-public");
  else if (event.key === "n") pick("visibility-internal");
  else if (event.key === "a") {
    var assignee = document.getElementById("assignee");
    if (assignee) { assignee.focus(); event.preventDefault(); }
  }
});
// Queues (console-queues): SLA countdowns, "select all", and keyboard navigation.
(function () {
  // The same form as the server's `remaining_text`: -01:02:03, 2d 04:05:06.
  function remaining(ms) {
    var sign = ms < 0 ? "-" : "";
    var s = Math.floor(Math.abs(ms) / 1000);
    var d = Math.floor(s / 86400);
    s %= 86400;
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    function two(n) { return (n < 10 ? "0" : "") + n; }
    return sign + (d > 0 ? d + "d " : "") + two(h) + ":" + two(m) + ":" + two(sec);
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-due]").forEach(function (el) {
      var left = Number(el.getAttribute("data-due")) - now;
      el.textContent = remaining(left);
      var clock = el.closest(".countdown");
      if (clock && left < 0 && !clock.classList.contains("band-breached")) {
        clock.classList.remove("band-ok", "band-risk");
        clock.classList.add("band-overdue");
      }
    });
  }
  setInterval(tick, 1000);

  document.addEventListener("change", function (e) {
    var all = e.target.closest && e.target.closest("[data-select-all]");
    if (!all) return;
    document.querySelectorAll("#queue-rows input[name=ticket]").forEach(function (box) { box.checked = all.checked; });
  });
})();

// Live updates (core/console/src/live.rs). A page that carries `data-live-ticket="{id}"` or
// `data-live-queue="all"` opens an EventSource on /live; the browser reconnects by itself and
// sends the last event's id (Last-Event-ID), so nothing is missed across a reconnection.
// `changed` shows the server's notice in the element marked `data-live-notice`; queue rows
// marked `data-live-row="{ticket id}"` with `data-live-src="{url}"` are refreshed in place (htmx).
// `viewers` fills `data-live-viewers` ("also viewing") and marks the panel `data-live-synced`
// (the stream has read everything up to then). The fragments come escaped from the server.
// When an htmx answer replaces the panel (the ticket page's forms swap in a panel at the new
// position, showing the ticket up to `data-live-shown`), the old stream closes and a new one
// follows from there: the page's own change is not news to it.
(function () {
  var streams = [];
  function follow(root, url) {
    var notice = root.querySelector("[data-live-notice]");
    var viewers = root.querySelector("[data-live-viewers]");
    var source = new EventSource(url);
    streams.push({ root: root, source: source });
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
      root.setAttribute("data-live-synced", "true");
    });
    source.addEventListener("open", function () { root.setAttribute("data-live-open", "true"); });
  }
  // `data-live-after` (the feed position the page was rendered at) starts the stream there, so
  // a change between rendering and connecting is reported too.
  function from(root) {
    var at = root.getAttribute("data-live-after"), shown = root.getAttribute("data-live-shown");
    return (at ? "&after=" + encodeURIComponent(at) : "") + (shown ? "&shown=" + encodeURIComponent(shown) : "");
  }
  function followed(root) {
    return streams.some(function (s) { return s.root === root; });
  }
  // Closes the streams of panels no longer in the page, opens one for each new panel.
  function scan() {
    streams = streams.filter(function (s) {
      if (s.root.isConnected) return true;
      s.source.close();
      return false;
    });
    document.querySelectorAll("[data-live-ticket]").forEach(function (root) {
      if (!followed(root)) follow(root, "/live?ticket=" + encodeURIComponent(root.getAttribute("data-live-ticket")) + from(root));
    });
    document.querySelectorAll("[data-live-queue]").forEach(function (root) {
      if (!followed(root)) follow(root, "/live?queue=" + encodeURIComponent(root.getAttribute("data-live-queue")) + from(root));
    });
  }
  function start() {
    scan();
    document.addEventListener("htmx:afterSettle", scan);
    window.addEventListener("pagehide", function () { streams.forEach(function (s) { s.source.close(); }); });
    document.addEventListener("click", function (e) {
      var link = e.target.closest && e.target.closest("[data-live-reload]");
      if (link) { e.preventDefault(); window.location.reload(); }
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();

// Keyboard (console-queues). Screens add their own keys by listening for "steward:key" on
// document (detail: the key) and listing them in the help dialog (#keys-help [data-keys]).
(function () {
  var pendingG = false;
  function typing(el) {
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }
  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-queue] tr[data-row]"));
  }
  function select(step) {
    var all = rows();
    if (all.length === 0) return;
    var at = all.findIndex(function (r) { return r.getAttribute("aria-selected") === "true"; });
    var next = at < 0 ? 0 : Math.min(all.length - 1, Math.max(0, at + step));
    all.forEach(function (r) { r.removeAttribute("aria-selected"); });
    all[next].setAttribute("aria-selected", "true");
    var link = all[next].querySelector("a.number");
    if (link) link.focus();
    all[next].scrollIntoView({ block: "nearest" });
  }
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
    var help = document.getElementById("keys-help");
    if (help && help.open) return;
    if (pendingG) {
      pendingG = false;
      if (e.key === "q") { e.preventDefault(); window.location.assign("/queues"); }
      return;
    }
    switch (e.key) {
      case "j": e.preventDefault(); select(1); break;
      case "k": e.preventDefault(); select(-1); break;
      case "Enter": {
        var chosen = document.querySelector("[data-queue] tr[aria-selected=true]");
        if (chosen && document.activeElement === document.body) { e.preventDefault(); window.location.assign(chosen.getAttribute("data-href")); }
        break;
      }
      case "/": {
        var search = document.querySelector("[data-search]");
        if (search) { e.preventDefault(); search.focus(); search.select(); }
        break;
      }
      case "g": pendingG = true; break;
      case "?": if (help) { e.preventDefault(); help.showModal(); } break;
      default: document.dispatchEvent(new CustomEvent("steward:key", { detail: e.key }));
    }
  });
})();
