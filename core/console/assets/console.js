// Steward console behaviour. Pages work without it; it only adds conveniences. No inline
// script anywhere (the CSP forbids it): everything the pages do in the browser is here.
"use strict";
document.documentElement.classList.add("js");
