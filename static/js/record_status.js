// The "My record" page: while a copy is being prepared, ask its status every two seconds and move
// the progress bar; when it is ready (or failed), reload so the page shows the download link.
// Without JavaScript the page refreshes itself instead (<noscript> meta refresh).
(function () {
  "use strict";
  const cards = document.querySelectorAll("[data-record-status]");
  cards.forEach(function (card) {
    const url = card.getAttribute("data-record-status");
    const bar = card.querySelector("[data-record-progress]");
    const label = card.querySelector("[data-record-label]");
    function poll() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          if (!data) { return; }
          if (bar) { bar.value = data.progress; bar.textContent = data.progress + "%"; }
          if (label) { label.textContent = data.label; }
          if (data.status === "queued" || data.status === "preparing") {
            window.setTimeout(poll, 2000);
          } else {
            window.location.reload();
          }
        })
        .catch(function () { window.setTimeout(poll, 5000); });
    }
    window.setTimeout(poll, 1000);
  });
})();
