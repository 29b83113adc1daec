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

  // "Show N more": fetch the column's next cards and put them in place (the link itself
  // reloads the board with ?show_<stage>=N when JavaScript is off or the fetch fails).
  function loadMore(board, link) {
    if (link.getAttribute("aria-busy") === "true") return;
    var section = link.closest(".cl-col");
    var zone = section && section.querySelector(".cl-drop");
    if (!zone) return;
    link.setAttribute("aria-busy", "true");
    fetch(link.dataset.moreUrl, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var first = null;
        doc.querySelectorAll(".cl-more-batch > .cl-card").forEach(function (card) {
          // A card moved into this column since the page was drawn may already be here.
          if (zone.querySelector('.cl-card[data-app-id="' + card.dataset.appId + '"]')) return;
          var copy = document.importNode(card, true);
          zone.appendChild(copy);
          if (!first) first = copy;
        });
        var next = doc.querySelector(".cl-more");
        if (next) {
          link.replaceWith(document.importNode(next, true));
        } else {
          link.remove();
        }
        // Keyboard users carry on from the first card that just appeared.
        var focusable = first && first.querySelector(".cl-card-name");
        if (focusable) focusable.focus();
      })
      .catch(function () {
        window.location.assign(link.href);
      });
  }

  function initAutoPreview(select) {
    // Each reason has its own email: show the one just picked.
    select.addEventListener("change", function () {
      var button = document.getElementById("update-preview");
      if (select.value && button && select.form) select.form.requestSubmit(button);
    });
  }

  // Where the keyboard (and a screen reader) carries on after the board loads: after a move
  // or an undo, on its announcement ("Lou Lane moved to client review", with Undo next),
  // the moved card outlined; back from a move's confirmation (Cancel), on that card's
  // "Move to…" button, where the move began.
  function placeFocus(board) {
    var note = document.querySelector("main [data-announce]");
    if (note) {
      var moved = note.dataset.moved && document.getElementById("card-" + note.dataset.moved);
      if (moved) moved.classList.add("cl-card-moved");
      note.focus();
      return;
    }
    var match = /^#card-(\d+)$/.exec(window.location.hash);
    var card = match && document.getElementById("card-" + match[1]);
    var button = card && card.querySelector(".dropdown-toggle");
    if (!button) return;
    // After the load: the browser's own scroll to #card-N would take focus back to <body>.
    var focusButton = function () {
      button.focus();
    };
    if (document.readyState === "complete") focusButton();
    else window.addEventListener("load", focusButton);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var board = document.getElementById("board");
    if (board) {
      initBoard(board);
      placeFocus(board);
      board.addEventListener("show.bs.dropdown", function (event) {
        fillMenu(board, event.target);
      });
      board.addEventListener("click", function (event) {
        var link = event.target.closest && event.target.closest("a.cl-more[data-more-url]");
        if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button) return;
        event.preventDefault();
        loadMore(board, link);
      });
    }
    document.querySelectorAll("select[data-autopreview]").forEach(initAutoPreview);
  });
})();
