/*
 * The appointment type form's reminder preview: "The patient is reminded 2 days and 2 hours
 * before." as boxes are ticked. The server writes the same sentence (appointments.reminders.
 * offsets_sentence) on load and after saving; this only keeps it current while typing.
 */
(function () {
  "use strict";

  var preview = document.getElementById("reminder-preview");
  if (!preview) {
    return;
  }
  var boxes = document.querySelectorAll("input[name='reminder_offsets_hours']");

  function label(box) {
    var text = document.querySelector("label[for='" + box.id + "']").textContent.trim();
    return text.replace(/ before$/, "");
  }

  function update() {
    var chosen = [];
    // The boxes are listed largest first, the order the sentence names them.
    boxes.forEach(function (box) {
      if (box.checked) {
        chosen.push(label(box));
      }
    });
    if (!chosen.length) {
      preview.textContent = "The patient gets no reminder before the visit.";
      return;
    }
    var last = chosen.pop();
    var listed = chosen.length ? chosen.join(", ") + " and " + last : last;
    preview.textContent = "The patient is reminded " + listed + " before.";
  }

  boxes.forEach(function (box) {
    box.addEventListener("change", update);
  });
})();
