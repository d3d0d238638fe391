// Krąg staff UI: small progressive enhancements. Every page works without this file.
(function () {
  "use strict";

  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-autosubmit]")) event.target.form.submit();
  });

  // Confirm before actions that notify people or cannot be undone.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });

  // The roster's taps and the notes are sent by offline.js (kept on the phone first).

  // A report in progress: fetch the page again every few seconds and replace only the status
  // card, so the page never reloads under the user (focus and scroll stay where they are).
  function pollReport() {
    var card = document.querySelector("[data-poll]");
    if (!card || !window.fetch || !window.DOMParser) return;
    window.setTimeout(function () {
      fetch(window.location.href, { credentials: "same-origin" }).then(function (response) {
        return response.text();
      }).then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(card.id);
        if (!fresh) return pollReport();
        // The live region stays the same element, so screen readers announce its new text.
        card.querySelector(".progress").innerHTML = fresh.querySelector(".progress").innerHTML;
        card.querySelector("#report-body").innerHTML = fresh.querySelector("#report-body").innerHTML;
        if (!fresh.hasAttribute("data-poll")) card.removeAttribute("data-poll");
        pollReport();
      }).catch(pollReport);
    }, 3000);
  }
  pollReport();
})();
