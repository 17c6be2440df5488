/* The front desk's calendar: drag a booked card onto a free cell to move it, and the side panel's focus.
 *
 * A file, not an inline script: the content security policy forbids inline scripts. A drop is an ordinary
 * htmx POST to the appointment's move URL with the cell's slot, so the booking service decides and its answer
 * (moved, or refused with its reason) is shown in the panel; nothing is decided here. The keyboard and touch
 * path needs no script at all: open the card, choose Move, pick one of the listed free times.
 */
(function () {
  "use strict";

  var dragged = null;
  var dropTarget = null;
  var opener = null;

  function panel() {
    return document.getElementById("desk-panel");
  }

  function cellUnder(event) {
    return event.target && event.target.closest ? event.target.closest(".cal-cell[data-slot]") : null;
  }

  function clearDropTarget() {
    if (dropTarget) {
      dropTarget.classList.remove("cal-drop");
    }
    dropTarget = null;
  }

  document.addEventListener("dragstart", function (event) {
    var card = event.target.closest ? event.target.closest(".cal-appt[data-move-url]") : null;
    if (!card) {
      return;
    }
    dragged = card;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.getAttribute("data-appointment"));
    // After the drag has started: cards stop catching the pointer, so the cells under them take the drop.
    window.setTimeout(function () {
      document.body.classList.add("desk-dragging");
    }, 0);
  });

  document.addEventListener("dragend", function () {
    dragged = null;
    clearDropTarget();
    document.body.classList.remove("desk-dragging");
  });

  document.addEventListener("dragover", function (event) {
    var cell = dragged && cellUnder(event);
    if (!cell) {
      return;
    }
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    if (dropTarget !== cell) {
      clearDropTarget();
      dropTarget = cell;
      cell.classList.add("cal-drop");
    }
  });

  document.addEventListener("drop", function (event) {
    var cell = dragged && cellUnder(event);
    if (!cell) {
      return;
    }
    event.preventDefault();
    var url = dragged.getAttribute("data-move-url");
    opener = dragged;
    clearDropTarget();
    document.body.classList.remove("desk-dragging");
    dragged = null;
    htmx.ajax("POST", url, {
      source: cell,
      target: "#desk-panel",
      swap: "innerHTML",
      values: { slot: cell.getAttribute("data-slot") },
    });
  });

  // The panel: remember what opened it, move focus to its heading, close it with its button or Escape.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var source = event.detail.elt;
    if (source && source.closest && source.closest("#desk-grid") && event.detail.target === panel()) {
      opener = source;
    }
  });

  // After the settle, not the swap: htmx makes the new content's hx-* attributes live at the settle, so a
  // key pressed as soon as focus arrived (Enter on Move, typing a patient's name) reached a dead link or input.
  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.detail.target !== panel()) {
      return;
    }
    var title = document.getElementById("panel-title");
    if (title) {
      title.focus();
    }
  });

  function closePanel() {
    var box = panel();
    if (!box) {
      return;
    }
    box.innerHTML = "";
    if (opener && document.body.contains(opener)) {
      opener.focus();
    } else {
      var grid = document.querySelector("#desk-grid .cal-scroll");
      if (grid) {
        grid.focus();
      }
    }
  }

  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-panel-close]")) {
      closePanel();
      return;
    }
    // A free cell (a button, so Enter and Space click it too) opens the booking panel for its slot: the URL
    // is written once on the grid and the target once a column (hx-target), not on each of a day's 1,600
    // cells. An ordinary htmx request from the cell, so the panel's focus handling sees the cell open it.
    var cell = event.target.closest ? event.target.closest("button.cal-cell[data-slot]") : null;
    var grid = cell && cell.closest("[data-book-url]");
    if (!grid) {
      return;
    }
    var body = cell.closest("[hx-target]");
    htmx.ajax("GET", grid.getAttribute("data-book-url"), {
      source: cell,
      target: body ? body.getAttribute("hx-target") : "#desk-panel",
      swap: "innerHTML",
      values: { slot: cell.getAttribute("data-slot") },
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && panel() && panel().contains(event.target)) {
      closePanel();
      return;
    }
    // Enter in the patient search looks the patient up; it does not send the booking form.
    if (event.key === "Enter" && event.target.matches && event.target.matches("[data-panel-search]")) {
      event.preventDefault();
      htmx.trigger(event.target, "search");
    }
  });

  // The grid scrolls inside its box (heads and hours stay in view): open it at the line that marks now, and
  // keep where the desk had scrolled to when it reloads (every minute, and after each change).
  var kept = null;

  function gridBox() {
    return document.querySelector("#desk-grid .cal-scroll");
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    var box = gridBox();
    if (box && event.detail.target && event.detail.target.id === "desk-grid") {
      kept = { top: box.scrollTop, left: box.scrollLeft };
    }
  });

  document.addEventListener("htmx:afterSettle", function () {
    var box = gridBox();
    if (box && kept) {
      box.scrollTop = kept.top;
      box.scrollLeft = kept.left;
      kept = null;
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    var box = gridBox();
    var now = box && box.querySelector(".cal-now");
    if (now) {
      var offset = now.getBoundingClientRect().top - box.getBoundingClientRect().top;
      box.scrollTop = Math.max(0, offset - box.clientHeight / 3);
    }
    // A panel opened with the page (?book=...): focus it as if it had just been opened.
    var title = document.getElementById("panel-title");
    if (title) {
      title.focus();
    }
  });
})();
