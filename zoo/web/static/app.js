// zoo serve: the only script. It reloads elements marked data-refresh from their URL (the queue panel on
// the overview) every data-refresh-seconds, so the page follows running workers without a full reload.
"use strict";
function refreshPanels() {
  document.querySelectorAll("[data-refresh]").forEach(function (panel) {
    var seconds = Number(panel.dataset.refreshSeconds) || 5;
    setTimeout(function update() {
      fetch(panel.dataset.refresh, { headers: { "Accept": "text/html" } })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          if (html === null) { return; }
          var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("[data-refresh]");
          if (fresh) { panel.innerHTML = fresh.innerHTML; }
        })
        .catch(function () {})
        .finally(function () { setTimeout(update, seconds * 1000); });
    }, seconds * 1000);
  });
}
document.addEventListener("DOMContentLoaded", refreshPanels);
