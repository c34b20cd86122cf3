// Steward console behaviour. Pages work without it; it only adds conveniences. No inline
// script anywhere (the CSP forbids it): everything the pages do in the browser is here.
"use strict";
document.documentElement.classList.add("js");

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
