// Message template editor: click a merge field to insert it at the cursor, and re-render
// the sample email as you type (debounced POST to the preview endpoint, CSRF header).
(function () {
  "use strict";

  var form = document.getElementById("tpl-form");
  if (!form) return;
  var inputs = form.querySelectorAll("[data-part]");
  var lastFocused = form.querySelector("[data-part='text_happened']");
  var timer = null;
  var pending = null;

  inputs.forEach(function (el) {
    el.addEventListener("focus", function () { lastFocused = el; });
    el.addEventListener("input", schedulePreview);
  });

  document.querySelectorAll(".cl-tpl-field").forEach(function (button) {
    button.addEventListener("click", function () {
      var target = lastFocused;
      if (!target || target.readOnly) return;
      var token = "{{ " + button.dataset.field + " }}";
      var start = target.selectionStart, end = target.selectionEnd;
      target.setRangeText(token, start, end, "end");
      target.focus();
      target.dispatchEvent(new Event("input", { bubbles: true }));
    });
  });

  var scope = document.querySelector("[data-autosubmit]");
  if (scope) scope.addEventListener("change", function () { scope.form.submit(); });

  var resetForm = document.getElementById("reset-form");
  if (resetForm) {
    resetForm.addEventListener("submit", function (event) {
      if (!window.confirm(resetForm.dataset.confirm)) event.preventDefault();
    });
  }

  function schedulePreview() {
    document.querySelector(".cl-tpl-preview").classList.add("cl-stale");
    setState(window.closeloopWords("updating"));
    clearTimeout(timer);
    timer = setTimeout(refreshPreview, 400);
  }

  function currentDraft() {
    var data = {};
    inputs.forEach(function (el) { data[el.dataset.part] = el.value; });
    return data;
  }

  function refreshPreview() {
    if (pending) pending.abort();
    pending = new AbortController();
    fetch(form.dataset.previewUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": form.dataset.csrf },
      body: JSON.stringify(currentDraft()),
      credentials: "same-origin",
      signal: pending.signal
    })
      .then(function (response) { return response.json(); })
      .then(showResult)
      .catch(function (err) {
        if (err.name !== "AbortError") setState(window.closeloopWords("unavailable"));
      });
  }

  function showResult(result) {
    if (result.message) {  // too many previews: keep what is shown, say when it resumes
      setState(result.message);
      return;
    }
    showErrors(result.ok ? {} : result.errors || {});
    if (!result.ok) {
      setState(window.closeloopWords("has_errors"));
      return;
    }
    document.getElementById("preview-subject").textContent = result.subject;
    document.getElementById("preview-frame").srcdoc = result.html;
    document.getElementById("preview-text").textContent = result.text;
    document.querySelector(".cl-tpl-preview").classList.remove("cl-stale");
    setState(window.closeloopWords("up_to_date"));
  }

  function showErrors(errors) {
    var box = document.getElementById("tpl-errors");
    var list = document.getElementById("tpl-error-list");
    list.textContent = "";
    inputs.forEach(function (el) {
      var messages = errors[el.dataset.part] || [];
      el.classList.toggle("is-invalid", messages.length > 0);
      var feedback = form.querySelector("[data-error-for='" + el.dataset.part + "']");
      if (feedback) {
        feedback.textContent = "";
        messages.forEach(function (m) {
          var div = document.createElement("div");
          div.textContent = m;
          feedback.appendChild(div);
        });
      }
    });
    Object.keys(errors).forEach(function (name) {
      errors[name].forEach(function (m) {
        var li = document.createElement("li");
        li.textContent = m;
        list.appendChild(li);
      });
    });
    box.classList.toggle("d-none", list.children.length === 0);
  }

  function setState(text) {
    document.getElementById("preview-state").textContent = text;
  }
})();
