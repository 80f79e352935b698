/*
 * A "Print" button (data-print) prints the page; the print styles hide the navigation. The strict
 * CSP forbids onclick="", so the handler lives here.
 */
(function () {
  "use strict";
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
})();
