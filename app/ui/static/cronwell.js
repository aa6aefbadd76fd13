// Cronwell's web UI: the little that is not htmx's. Live parts are morphed in place
// (idiomorph), which keeps focus, selection and scroll; this keeps a run's output
// following its newest line, unless the reader has scrolled up.
(function () {
  "use strict";
  var following = true;

  function output() {
    return document.getElementById("output");
  }

  function atEnd(box) {
    return box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = output();
    if (box) {
      box.scrollTop = box.scrollHeight;
    }
  });
  document.addEventListener("htmx:beforeSwap", function () {
    var box = output();
    following = !box || atEnd(box);
  });
  document.addEventListener("htmx:afterSettle", function () {
    var box = output();
    if (box && following) {
      box.scrollTop = box.scrollHeight;
    }
  });
})();

// The jobs list does not refresh while rows are selected (a refresh would redraw the
// check boxes); it goes on once none is.
document.addEventListener("htmx:beforeRequest", function (event) {
  var table = document.getElementById("jobs-table");
  var polling = event.detail.elt === table && event.detail.requestConfig.triggeringEvent == null;
  if (polling && table.querySelector("input[name=ids]:checked")) {
    event.preventDefault();
  }
});

// Times: relative ("in 3 min", "2 h ago"), with the absolute time on hover and for
// screen readers, in the timezone the reader chose (the job's, this browser's or UTC;
// kept in this browser). Lists of fire times stay absolute (data-fixed). Without this
// script the server's absolute times stay.
(function () {
  "use strict";
  var KEY = "cronwell-zone";
  var STEPS = [[60, "s", 1], [3600, "min", 60], [86400, "h", 3600], [Infinity, "d", 86400]];

  function relative(at, now) {
    var seconds = Math.round((at - now) / 1000);
    var size = Math.abs(seconds);
    for (var i = 0; i < STEPS.length; i++) {
      if (size < STEPS[i][0]) {
        var count = Math.floor(size / STEPS[i][2]);
        if (STEPS[i][1] === "s" && count < 5) return "just now";
        var text = count + " " + STEPS[i][1];
        return seconds >= 0 ? "in " + text : text + " ago";
      }
    }
    return "";
  }

  function zoneOf(element, choice) {
    if (choice === "utc") return "UTC";
    if (choice === "browser") return undefined;
    return element.getAttribute("data-zone") || "UTC";
  }

  function render(root) {
    var choice = localStorage.getItem(KEY) || "job";
    var now = Date.now();
    root.querySelectorAll("time[datetime]:not([data-fixed])").forEach(function (element) {
      var at = new Date(element.getAttribute("datetime"));
      var absolute = new Intl.DateTimeFormat(undefined, {
        year: "numeric", month: "short", day: "numeric", hour: "2-digit",
        minute: "2-digit", second: "2-digit", timeZone: zoneOf(element, choice),
        timeZoneName: "short",
      }).format(at);
      element.title = absolute;
      element.textContent = relative(at, now);
      var full = document.createElement("span");
      full.className = "visually-hidden";
      full.textContent = " (" + absolute + ")";
      element.appendChild(full);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var select = document.getElementById("zone-choice");
    if (select) {
      select.value = localStorage.getItem(KEY) || "job";
      select.addEventListener("change", function () {
        localStorage.setItem(KEY, select.value);
        render(document);
      });
    }
    render(document);
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    render(event.detail.elt || document);
  });
})();
