// Candidates area: the queue's recruiter filter applies as soon as it changes.
(function () {
  "use strict";
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
  // An expanded row form gets the cursor, so answering is one click then typing.
  function focusWhenShown(form) {
    form.addEventListener("shown.bs.collapse", function () {
      var field = form.querySelector("textarea, input[type=email]");
      if (field) { field.focus(); }
    });
  }
  document.querySelectorAll(".cl-row-form").forEach(focusWhenShown);

  // A row's contact form is drawn on demand: its link leads to the queue with that form
  // open (what happens without JavaScript). Here the same page is fetched and only the
  // row's form is put in place, then opened where the link was.
  document.addEventListener("click", function (event) {
    var link = event.target.closest("a[data-row-form]");
    if (!link || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) {
      return;
    }
    event.preventDefault();
    if (link.getAttribute("aria-busy") === "true") { return; }
    link.setAttribute("aria-busy", "true");
    var key = link.getAttribute("data-row-form");
    fetch(link.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      })
      .then(function (html) {
        var page = new DOMParser().parseFromString(html, "text/html");
        var fresh = page.querySelector('[data-row-slot="' + CSS.escape(key) + '"]');
        var slot = link.closest("[data-row-slot]");
        var form = fresh && fresh.querySelector("form.cl-row-form");
        if (!form || !slot) { throw new Error(key); }  // not shown: the catch follows the link
        form.classList.remove("show");  // opened below, as a click on its button would
        var toggle = fresh.querySelector("[data-bs-toggle=collapse]");
        if (toggle) { toggle.setAttribute("aria-expanded", "false"); }
        fresh = document.adoptNode(fresh);
        slot.replaceWith(fresh);
        focusWhenShown(form);
        window.bootstrap.Collapse.getOrCreateInstance(form).show();
      })
      .catch(function () { window.location.assign(link.href); });
  });
})();
