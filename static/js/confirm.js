/*
 * Confirmation before destructive actions. A form (or a submit button) with data-confirm="…"
 * asks first; Cancel leaves the page as it was. The strict CSP forbids onclick="", so the
 * handler lives here and is attached to every page by base.html.
 */
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var button = event.submitter;
    var question = (button && button.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
})();
