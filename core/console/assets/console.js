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
