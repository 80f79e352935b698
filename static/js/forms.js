/*
 * A form that comes back refused puts the keyboard focus on the first field in error, so a
 * screen reader announces that field, its label and its error (tied with aria-describedby)
 * at once, and a keyboard user starts where the work is. Loaded on every page by base.html.
 */
(function () {
  "use strict";

  function focusFirstError() {
    var field = document.querySelector(
      "main form [aria-invalid='true']:not(fieldset), main form fieldset[aria-invalid='true'] input, main form .is-invalid"
    );
    if (field && typeof field.focus === "function") {
      field.focus();
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", focusFirstError);
  } else {
    focusFirstError();
  }
})();
