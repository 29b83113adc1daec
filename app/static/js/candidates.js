// Candidates area: the queue's recruiter filter applies as soon as it changes.
(function () {
  "use strict";
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
  // An expanded row form gets the cursor, so answering is one click then typing.
  document.querySelectorAll(".cl-row-form").forEach(function (form) {
    form.addEventListener("shown.bs.collapse", function () {
      var field = form.querySelector("textarea, input[type=email]");
      if (field) { field.focus(); }
    });
  });
})();
