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

  // The roster: each tap is its own small POST, so an error never loses the marks made before.
  document.addEventListener("click", function (event) {
    var button = event.target.closest(".marks button[name=status]");
    if (!button || !window.fetch) return;
    event.preventDefault();
    var form = button.form;
    var row = form.closest("li");
    var data = new FormData(form);
    data.set("status", button.value);
    button.classList.add("busy");
    fetch(form.action, {
      method: "POST",
      body: data,
      headers: { "X-Requested-With": "fetch", "Accept": "application/json" },
      credentials: "same-origin"
    }).then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, body: body }; });
    }).then(function (result) {
      button.classList.remove("busy");
      var error = row.querySelector(".row-error");
      if (result.ok) {
        form.querySelectorAll("button[name=status]").forEach(function (b) {
          b.setAttribute("aria-pressed", b.value === result.body.status ? "true" : "false");
        });
        error.textContent = "";
        var when = row.querySelector("[data-when]");
        if (when) when.textContent = result.body.time || "";
        var counter = document.getElementById("marked-count");
        if (counter && result.body.marked_count !== undefined) counter.textContent = result.body.marked_count;
        var live = document.getElementById("live");
        if (live) live.textContent = result.body.message;
      } else {
        error.textContent = result.body.error;
      }
    }).catch(function () {
      button.classList.remove("busy");
      form.submit();
    });
  });

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
