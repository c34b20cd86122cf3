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
