/*
 * Clinic metrics charts (templates/clinic/metrics.html): rates by appointment type and by reminder
 * channel, drawn with the vendored Chart.js from a json_script element (no inline script: CSP).
 * The tables under each chart carry the same numbers for screen readers and keyboard users.
 */
(function () {
  "use strict";

  var COLOURS = ["#b02a37", "#0a58ca", "#198754", "#6f42c1"];

  function bars(canvas, labels, series) {
    if (!canvas || typeof Chart === "undefined") {
      return;
    }
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: labels,
        datasets: series.map(function (s, i) {
          return { label: s.label, data: s.data, backgroundColor: COLOURS[i % COLOURS.length] };
        })
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: { y: { min: 0, max: 100, title: { display: true, text: "%" } } }
      }
    });
  }

  function draw() {
    var source = document.getElementById("metrics-chart-data");
    if (!source) {
      return;
    }
    var data = JSON.parse(source.textContent);
    bars(document.getElementById("metrics-types-chart"), data.types.labels, [
      { label: "No-show rate", data: data.types.no_show },
      { label: "Late-cancel rate", data: data.types.late_cancel }
    ]);
    bars(document.getElementById("metrics-channels-chart"), data.channels.labels, [
      { label: "Delivery rate", data: data.channels.delivery },
      { label: "Confirmation rate", data: data.channels.confirmation }
    ]);
  }

  document.addEventListener("DOMContentLoaded", draw);
})();
