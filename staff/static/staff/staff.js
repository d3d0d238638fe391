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

  // A report in progress: look again every few seconds until it is ready.
  var poll = document.querySelector("[data-poll]");
  if (poll) {
    window.setTimeout(function () { window.location.reload(); }, 3000);
  }
})();
