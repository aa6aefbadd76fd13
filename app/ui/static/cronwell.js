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
