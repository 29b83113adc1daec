// Pipeline board: drag a card onto another column to open that move's confirmation page
// (the same page the "Move to…" menu opens), and refresh the email preview when a reason
// is picked. Plain HTML5 drag and drop; no library.
(function () {
  "use strict";

  function moveUrl(board, appId, stage) {
    var pattern = board.dataset.movePattern;
    return pattern.replace(board.dataset.idSlot, appId) + "?to=" + encodeURIComponent(stage);
  }

  function initBoard(board) {
    var dragged = null;

    board.addEventListener("dragstart", function (event) {
      var card = event.target.closest && event.target.closest(".cl-card");
      if (!card) return;
      dragged = card;
      card.classList.add("cl-dragging");
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", card.dataset.appId);
    });

    board.addEventListener("dragend", function () {
      if (dragged) dragged.classList.remove("cl-dragging");
      dragged = null;
      board.querySelectorAll(".cl-drop-over").forEach(function (zone) {
        zone.classList.remove("cl-drop-over");
      });
    });

    board.querySelectorAll(".cl-drop").forEach(function (zone) {
      zone.addEventListener("dragover", function (event) {
        event.preventDefault(); // allows the drop
        event.dataTransfer.dropEffect = "move";
        zone.classList.add("cl-drop-over");
      });
      zone.addEventListener("dragleave", function (event) {
        if (!zone.contains(event.relatedTarget)) zone.classList.remove("cl-drop-over");
      });
      zone.addEventListener("drop", function (event) {
        event.preventDefault();
        zone.classList.remove("cl-drop-over");
        // Only cards of this board move; text dropped from elsewhere is ignored.
        if (!dragged || dragged.dataset.stage === zone.dataset.stage) return;
        window.location.assign(moveUrl(board, dragged.dataset.appId, zone.dataset.stage));
      });
    });
  }

  // Each card's "Move to…" menu is built when it opens, from one shared <template>.
  function fillMenu(board, toggle) {
    var menu = toggle.parentElement.querySelector(".dropdown-menu");
    var card = toggle.closest(".cl-card");
    if (!menu || !card || menu.children.length) return;
    var template = document.getElementById("move-menu");
    var slot = board.dataset.idSlot;
    var terminal = card.hasAttribute("data-terminal");
    template.content.querySelectorAll("li").forEach(function (item) {
      if (item.dataset.stage === card.dataset.stage) return;
      if (terminal && item.hasAttribute("data-active-only")) return;
      var copy = item.cloneNode(true);
      var link = copy.querySelector("a");
      if (link) link.setAttribute("href", link.getAttribute("href").replace(slot, card.dataset.appId));
      menu.appendChild(copy);
    });
  }

  function initAutoPreview(select) {
    // Each reason has its own email: show the one just picked.
    select.addEventListener("change", function () {
      var button = document.getElementById("update-preview");
      if (select.value && button && select.form) select.form.requestSubmit(button);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var board = document.getElementById("board");
    if (board) {
      initBoard(board);
      board.addEventListener("show.bs.dropdown", function (event) {
        fillMenu(board, event.target);
      });
    }
    document.querySelectorAll("select[data-autopreview]").forEach(initAutoPreview);
  });
})();
