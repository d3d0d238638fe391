// Searchable pickers: every <select data-search="address"> becomes a Tom Select that asks the
// staff UI's scoped search (staff/views/search.py) for one page of matches at a time. The page
// carries only the chosen option, never the whole institution.
(function () {
  "use strict";

  function withQuery(base, query) {
    return base + (base.indexOf("?") < 0 ? "?" : "&") + "q=" + encodeURIComponent(query);
  }

  function enhance(select) {
    if (select.tomselect || !window.TomSelect) return;
    var base = select.getAttribute("data-search");
    var label = select.labels && select.labels[0] ? select.labels[0].textContent.trim() : "";
    var picker = new window.TomSelect(select, {
      valueField: "id",
      labelField: "text",
      searchField: [],
      // The server has matched already (names are compared there, without diacritics).
      score: function () { return function () { return 1; }; },
      plugins: ["virtual_scroll"],
      preload: "focus",
      maxOptions: null,
      allowEmptyOption: false,
      placeholder: select.getAttribute("data-placeholder") || "",
      firstUrl: function (query) { return withQuery(base, query); },
      load: function (query, callback) {
        var self = this;
        fetch(self.getUrl(query), {
          headers: { "Accept": "application/json" },
          credentials: "same-origin"
        }).then(function (response) {
          if (!response.ok) throw new Error(response.status);
          return response.json();
        }).then(function (body) {
          if (body.next) self.setNextUrl(query, body.next);
          callback(body.results);
        }).catch(function () { callback(); });
      },
      render: {
        no_results: function () {
          return '<div class="no-results">' + escape(select.getAttribute("data-no-results") || "") + "</div>";
        },
        loading_more: function () {
          return '<div class="loading-more-results">' + escape(select.getAttribute("data-more") || "") + "</div>";
        }
      }
    });
    // The original <select> stays in the form (hidden): it keeps a name for assistive
    // technologies, which Tom Select moves to its own input.
    if (label) select.setAttribute("aria-label", label.replace(/\s*\*$/, ""));
    return picker;
  }

  function escape(text) {
    var div = document.createElement("div");
    div.textContent = text;
    return div.innerHTML;
  }

  function enhanceAll(root) {
    (root || document).querySelectorAll("select[data-search]").forEach(enhance);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { enhanceAll(); });
  } else {
    enhanceAll();
  }
})();
