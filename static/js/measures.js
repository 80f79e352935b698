/*
 * Symptom-score charts (patients/measures/_chart.html): scores over time on a time axis, the
 * medication timeline under them (one bar per drug, one segment per dose, labelled with the
 * dose), dose changes as dashed markers across the scores, side-effect reports as triangles.
 *
 * Data comes from a json_script element named by data-source; this file has no inline
 * counterpart (CSP). The tables next to the chart carry the same data for screen readers.
 */
(function () {
  "use strict";

  var SERIES_COLOURS = ["#0a58ca", "#6f42c1", "#198754", "#b02a37"];
  var DOSE_RGB = "13, 110, 253";
  var AXIS_WIDTH = 120; // both charts' left axes: keeps their time axes aligned
  var BAND_AXIS_WIDTH = 86; // the band names right of the scores; the doses chart keeps it empty
  var POINT_GAP = 2; // pixels between the markers of two scores of one day
  var DAY = 24 * 60 * 60 * 1000;
  var FONT = { size: 11 };

  // Moments come as the viewer's wall clock without an offset (measure_charts.py), read here as
  // local time: the axis shows the viewer's days whatever zone the browser is in.
  function time(value) {
    return new Date(value).getTime();
  }

  function fixedWidth(scale) {
    scale.width = AXIS_WIDTH;
  }

  function bandAxisWidth(scale) {
    scale.width = BAND_AXIS_WIDTH;
  }

  function xScale(data) {
    var start = time(data.range.start);
    var end = time(data.range.end);
    // Whatever the range says, no score falls off either end of the axis.
    data.series.forEach(function (series) {
      series.points.forEach(function (p) {
        start = Math.min(start, time(p.t));
        end = Math.max(end, time(p.t));
      });
    });
    if (end - start < 14 * DAY) {
      start = end - 14 * DAY;
    }
    return {
      type: "time",
      min: start,
      max: end,
      time: { tooltipFormat: "MMM d, yyyy", minUnit: "day" },
      ticks: { maxRotation: 0, autoSkip: true }
    };
  }

  // Score ticks at multiples of 5 (the band edges), never the scale's top (27, 21) crowding 25, 20.
  function scoreAxis(data) {
    return {
      min: 0,
      max: data.y_max,
      title: { display: true, text: "Score (higher is worse)" },
      afterBuildTicks: function (scale) {
        var ticks = [];
        for (var value = 0; value <= data.y_max; value += 5) {
          ticks.push({ value: value });
        }
        scale.ticks = ticks;
      },
      afterFit: fixedWidth
    };
  }

  // The band names on their own axis right of the plot, each between its edges: laid out by
  // Chart.js with the other axes, so they can overlap neither a tick, each other, nor a point.
  function bandAxis(data) {
    var bands = data.thresholds.map(function (line, index) {
      var next = data.thresholds[index + 1];
      return { value: ((next ? next.y : data.y_max) + line.y) / 2, lines: line.label.split(" ") };
    });
    return {
      position: "right",
      min: 0,
      max: data.y_max,
      grid: { drawOnChartArea: false, drawTicks: false },
      title: { display: true, text: data.band_instrument + " band", font: FONT },
      afterBuildTicks: function (scale) {
        scale.ticks = bands.map(function (band) { return { value: band.value }; });
      },
      ticks: {
        font: FONT,
        autoSkip: true,
        callback: function (value, index) {
          return bands[index] ? bands[index].lines : "";
        }
      },
      afterFit: bandAxisWidth
    };
  }

  // Horizontal dashed lines at each band's lower edge (PHQ-9: 5, 10, 15, 20); named on bandAxis.
  function bandLines(thresholds) {
    return {
      id: "measuresBands",
      beforeDatasetsDraw: function (chart) {
        var area = chart.chartArea;
        var y = chart.scales.y;
        var ctx = chart.ctx;
        ctx.save();
        ctx.setLineDash([4, 4]);
        ctx.lineWidth = 1;
        ctx.strokeStyle = "#adb5bd";
        thresholds.forEach(function (line) {
          var pos = y.getPixelForValue(line.y);
          if (pos < area.top || pos > area.bottom) {
            return;
          }
          ctx.beginPath();
          ctx.moveTo(area.left, pos);
          ctx.lineTo(area.right, pos);
          ctx.stroke();
        });
        ctx.restore();
      }
    };
  }

  // Scores of one day are minutes or hours apart: less than a pixel on an axis of months, so their
  // markers would be drawn on top of each other and the line would seem to end at whichever is on
  // top. Each earlier score of the day moves left until its marker clears the next one; the newest
  // keeps its place as the line's end. Tooltips still give the real date.
  var sameDaySpread = {
    id: "measuresSameDay",
    afterDatasetsUpdate: function (chart) {
      chart.data.datasets.forEach(function (dataset, index) {
        if (dataset.type !== "line") {
          return;
        }
        var points = chart.getDatasetMeta(index).data;
        for (var i = points.length - 2; i >= 0; i--) {
          if (dataset.data[i].day === dataset.data[i + 1].day) {
            var gap = points[i].options.radius + points[i + 1].options.radius + POINT_GAP;
            points[i].x = Math.min(points[i].x, points[i + 1].x - gap);
          }
        }
      });
    }
  };

  // Vertical markers at each dose change or stop.
  function changeMarkers(changes) {
    return {
      id: "measuresChanges",
      afterDatasetsDraw: function (chart) {
        var area = chart.chartArea;
        var x = chart.scales.x;
        var ctx = chart.ctx;
        ctx.save();
        ctx.setLineDash([2, 3]);
        ctx.strokeStyle = "#198754";
        ctx.lineWidth = 1.5;
        changes.forEach(function (change) {
          var pos = x.getPixelForValue(time(change.t));
          if (pos < area.left || pos > area.right) {
            return;
          }
          ctx.beginPath();
          ctx.moveTo(pos, area.top);
          ctx.lineTo(pos, area.bottom);
          ctx.stroke();
          ctx.beginPath();
          ctx.setLineDash([]);
          ctx.fillStyle = "#198754";
          ctx.moveTo(pos - 5, area.top);
          ctx.lineTo(pos + 5, area.top);
          ctx.lineTo(pos, area.top + 7);
          ctx.fill();
          ctx.setLineDash([2, 3]);
        });
        ctx.restore();
      }
    };
  }

  function scoreScales(data) {
    var scales = { x: xScale(data), y: scoreAxis(data) };
    if (data.thresholds.length) {
      scales.bands = bandAxis(data);
    }
    return scales;
  }

  function drawScores(canvas, data) {
    var datasets = data.series.map(function (series, index) {
      var colour = SERIES_COLOURS[index % SERIES_COLOURS.length];
      return {
        type: "line",
        label: series.label,
        data: series.points.map(function (p) {
          return { x: time(p.t), y: p.y, day: p.t.slice(0, 10), band: p.band, worsened: p.worsened };
        }),
        borderColor: colour,
        backgroundColor: colour,
        pointRadius: series.points.map(function (p) { return p.worsened ? 6 : 3; }),
        pointStyle: series.points.map(function (p) { return p.worsened ? "rectRot" : "circle"; }),
        tension: 0
      };
    });
    if (data.side_effects.length) {
      datasets.push({
        type: "scatter",
        label: "Side-effect report",
        data: data.side_effects.map(function (r) {
          return { x: time(r.t), y: 0, note: r.label };
        }),
        pointStyle: "triangle",
        pointRadius: 7,
        borderColor: "#b02a37",
        backgroundColor: "#dc3545"
      });
    }
    if (data.changes.length) {
      // Legend entry only: the markers are drawn by changeMarkers.
      datasets.push({ type: "line", label: "Dose change", data: [], borderColor: "#198754", borderDash: [2, 3] });
    }
    return new Chart(canvas, {
      type: "line",
      data: { datasets: datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "nearest", intersect: true },
        scales: scoreScales(data),
        plugins: {
          legend: { position: "bottom" },
          tooltip: {
            callbacks: {
              label: function (ctx) {
                var raw = ctx.raw;
                if (raw.note) {
                  return raw.note;
                }
                return ctx.dataset.label + ": " + raw.y + " (" + raw.band + ")" + (raw.worsened ? " — worse" : "");
              }
            }
          }
        }
      },
      plugins: [bandLines(data.thresholds), changeMarkers(data.changes), sameDaySpread]
    });
  }

  // The dose written inside each segment, when it fits.
  var segmentLabels = {
    id: "measuresDoseLabels",
    afterDatasetsDraw: function (chart) {
      var ctx = chart.ctx;
      ctx.save();
      ctx.font = "11px system-ui, sans-serif";
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      chart.getDatasetMeta(0).data.forEach(function (bar, index) {
        var raw = chart.data.datasets[0].data[index];
        var props = bar.getProps(["x", "y", "base"], true);
        var width = Math.abs(props.x - props.base);
        var text = raw.label;
        if (ctx.measureText(text).width + 6 > width) {
          text = raw.short;
          if (ctx.measureText(text).width + 6 > width) {
            return;
          }
        }
        ctx.fillStyle = raw.alpha > 0.55 ? "#ffffff" : "#052c65";
        ctx.fillText(text, (props.x + props.base) / 2, props.y);
      });
      ctx.restore();
    }
  };

  function drawMedications(canvas, data) {
    var drugs = data.medications.map(function (m) { return m.drug; });
    var bars = [];
    data.medications.forEach(function (medication) {
      var top = Math.max.apply(null, medication.segments.map(function (s) { return s.mg_per_day; })) || 1;
      medication.segments.forEach(function (segment) {
        var alpha = 0.25 + 0.65 * (segment.mg_per_day / top);
        bars.push({
          x: [time(segment.start), time(segment.end)],
          y: medication.drug,
          label: segment.label,
          short: segment.label.split(" ")[0] + " mg",
          alpha: alpha,
          drug: medication.drug,
          ongoing: segment.ongoing
        });
      });
    });
    canvas.parentNode.style.height = 34 * drugs.length + 40 + "px";
    return new Chart(canvas, {
      type: "bar",
      data: {
        labels: drugs,
        datasets: [{
          label: "Dose",
          data: bars,
          backgroundColor: bars.map(function (b) { return "rgba(" + DOSE_RGB + ", " + b.alpha.toFixed(2) + ")"; }),
          borderColor: "#ffffff",
          borderWidth: 2,
          borderSkipped: false,
          barPercentage: 0.8,
          categoryPercentage: 0.9
        }]
      },
      options: {
        indexAxis: "y",
        responsive: true,
        // The width of the scores' band axis, so the two time axes line up.
        layout: { padding: { right: data.thresholds.length ? BAND_AXIS_WIDTH : 0 } },
        maintainAspectRatio: false,
        animation: false,
        scales: {
          x: xScale(data),
          y: { afterFit: fixedWidth }
        },
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              label: function (ctx) {
                return ctx.raw.drug + " " + ctx.raw.label + (ctx.raw.ongoing ? " (current)" : "");
              }
            }
          }
        }
      },
      plugins: [segmentLabels]
    });
  }

  function draw(root) {
    try {
      drawCharts(root);
    } finally {
      // The spinner goes whether or not a chart could be drawn: the tables hold the same data.
      root.classList.add("is-ready");
      root.setAttribute("aria-busy", "false");
    }
  }

  function drawCharts(root) {
    var source = document.getElementById(root.getAttribute("data-source"));
    if (!source || typeof Chart === "undefined") {
      return; // the tables still hold everything
    }
    var data = JSON.parse(source.textContent);
    var scores = root.querySelector(".measures-scores-canvas");
    var meds = root.querySelector(".measures-meds-canvas");
    if (scores) {
      drawScores(scores, data);
    }
    if (meds && data.medications.length) {
      drawMedications(meds, data);
    }
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-measures-chart]"), draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
