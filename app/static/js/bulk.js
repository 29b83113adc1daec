// Bulk review and lifecycle pages: refresh the emails when a reason is picked.
// Progress page: poll fanout.json and move the bar until every message is handed over.
// Without JavaScript the pages still work (buttons; a meta refresh on the progress page).
(function () {
  "use strict";

  function initAutoPreview(select) {
    select.addEventListener("change", function () {
      var button = document.getElementById("update-preview");
      if (select.value && button && select.form) select.form.requestSubmit(button);
    });
  }

  function render(box, data) {
    var bar = box.querySelector(".progress-bar");
    bar.style.width = data.percent + "%";
    box.querySelector(".progress").setAttribute("aria-valuenow", data.percent);
    if (data.finished) {
      bar.classList.remove("progress-bar-striped", "progress-bar-animated");
      bar.classList.add("bg-success");
    }
    box.querySelectorAll("[data-field]").forEach(function (el) {
      var key = el.dataset.field;
      if (key === "percent-label") el.textContent = data.percent + "%";
      else if (key in data) el.textContent = data[key];
    });
  }

  function poll(box) {
    var failures = 0;
    var every = Number(box.dataset.pollMs) || 1500;
    function tick() {
      fetch(box.dataset.url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.json();
        })
        .then(function (data) {
          failures = 0;
          render(box, data);
          if (!data.finished) window.setTimeout(tick, every);
        })
        .catch(function () {
          failures += 1; // a restart or a blip: slow down, keep trying
          window.setTimeout(tick, Math.min(30000, every * Math.pow(2, failures)));
        });
    }
    tick();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("select[data-autopreview]").forEach(initAutoPreview);
    var box = document.getElementById("fanout");
    if (box && box.dataset.finished !== "true") poll(box);
  });
})();
