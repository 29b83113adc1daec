// CSV import progress: polls the import's JSON status and moves the bar; when the import
// is no longer running, reloads so the server shows the done, failed or preview page.
(function () {
  "use strict";
  var card = document.querySelector("[data-import-progress]");
  if (!card) return;
  var bar = card.querySelector("[data-progress-bar]");
  var fill = bar.querySelector(".progress-bar");
  var text = card.querySelector("[data-progress-text]");
  var percent = card.querySelector("[data-progress-percent]");

  function show(info) {
    fill.style.width = info.percent + "%";
    bar.setAttribute("aria-valuenow", String(info.percent));
    percent.textContent = info.percent + "%";
    text.textContent = info.done
      ? window.closeloopWords("written", { done: info.done, total: info.total })
      : window.closeloopWords("waiting", { total: info.total });
  }

  function poll() {
    fetch(card.dataset.url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (info) {
        if (info.status !== "importing") {
          window.location.assign(info.url);
          return;
        }
        show(info);
        window.setTimeout(poll, 1000);
      })
      .catch(function () {
        window.setTimeout(poll, 3000); // a blip: keep trying, the import carries on
      });
  }
  window.setTimeout(poll, 1000);
})();
