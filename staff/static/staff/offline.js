// Krąg staff UI without a connection. Every mark and note is first written to IndexedDB on the
// phone (the "outbox"), then sent with its own Idempotency-Key; an answer that never arrived
// makes it send the same request again, and the server applies it once (staff/idempotency.py).
// What is not yet sent is shown as pending; a note signed meanwhile is shown as a conflict with
// its text kept. The service worker (/sw.js) keeps today's pages readable offline.
(function () {
  "use strict";

  var DB_NAME = "krag-offline";
  var OUTBOX = "outbox";
  var body = document.body;
  var user = body.getAttribute("data-user") || "";
  var status = document.getElementById("offline-status");

  // --- IndexedDB -------------------------------------------------------------------------------

  function openDb() {
    return new Promise(function (resolve, reject) {
      var request = window.indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = function () {
        request.result.createObjectStore(OUTBOX, { keyPath: "key" });
      };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function store(mode, work) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(OUTBOX, mode);
        var result = work(tx.objectStore(OUTBOX));
        tx.oncomplete = function () { resolve(result && result.result !== undefined ? result.result : result); };
        tx.onerror = function () { reject(tx.error); };
      });
    });
  }

  function put(item) { return store("readwrite", function (s) { s.put(item); }); }
  function remove(key) { return store("readwrite", function (s) { s["delete"](key); }); }
  function all() {
    return store("readonly", function (s) { return s.getAll(); }).then(function (items) {
      return (items || []).filter(function (item) { return item.user === user; })
        .sort(function (a, b) { return a.created - b.created; });
    });
  }

  function newKey() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  // --- What the user sees ----------------------------------------------------------------------

  function text(name, n) {
    return (status && status.getAttribute("data-" + name) || "").replace("%(n)s", n);
  }

  function announce(message) {
    if (!status) return;
    status.hidden = !message;
    status.textContent = message || "";
  }

  function showCount() {
    return all().then(function (items) {
      var pending = items.filter(function (i) { return i.state === "pending"; }).length;
      if (pending) announce(text(navigator.onLine ? "sending" : "pending", pending));
      else announce("");
      return items;
    });
  }

  function rowOf(item) {
    return document.getElementById("p-" + item.participant);
  }

  function showMark(item, state, answer) {
    var row = rowOf(item);
    if (!row) return;
    var pressed = state === "refused" ? item.previous : ((answer && answer.status) || item.status);
    row.querySelectorAll(".marks button[name=status]").forEach(function (b) {
      b.setAttribute("aria-pressed", b.value === pressed ? "true" : "false");
      b.classList.toggle("pending", state === "pending" && b.value === item.status);
    });
    var when = row.querySelector("[data-when]");
    var error = row.querySelector(".row-error");
    if (state === "pending") {
      if (when) when.textContent = text("mark-pending", "");
    } else if (state === "sent") {
      if (when) when.textContent = (answer && answer.time) || "";
      if (error) error.textContent = "";
      var counter = document.getElementById("marked-count");
      if (counter && answer && answer.marked_count !== undefined) counter.textContent = answer.marked_count;
      var live = document.getElementById("live");
      if (live && answer) live.textContent = answer.message;
    } else if (state === "refused") {
      if (when) when.textContent = "";
      if (error) error.textContent = answer.error;
    }
  }

  function formOf(item) {
    return Array.prototype.find.call(document.querySelectorAll("form[data-offline-note]"), function (form) {
      return form.getAttribute("action") === item.url && (form.elements.participant ? form.elements.participant.value : "") === (item.participant || "");
    });
  }

  function noteBox(form) {
    var box = form.querySelector(".note-state");
    if (!box) {
      box = document.createElement("div");
      box.className = "note-state";
      box.setAttribute("role", "status");
      form.appendChild(box);
    }
    return box;
  }

  function showNote(item) {
    var form = formOf(item);
    if (!form) return;
    var box = noteBox(form);
    box.textContent = "";
    if (item.state === "pending") {
      box.className = "note-state pending";
      box.textContent = text("note-pending", "");
      if (form.elements.text && !form.elements.text.value) form.elements.text.value = item.text;
    } else if (item.state === "conflict") {
      box.className = "note-state conflict";
      box.setAttribute("role", "alert");
      var message = document.createElement("p");
      message.className = "error";
      message.textContent = item.error;
      box.appendChild(message);
      if (item.addendumUrl) {
        // The text comes back as the draft of an addendum to the signed note.
        var addendum = document.createElement("form");
        addendum.method = "post";
        addendum.action = item.addendumUrl;
        addendum.setAttribute("data-offline-note", "");
        var token = document.querySelector("[name=csrfmiddlewaretoken]");
        addendum.innerHTML = '<input type="hidden" name="csrfmiddlewaretoken"><input type="hidden" name="note">' +
          '<label></label><textarea name="text" rows="3"></textarea>' +
          '<div class="actions"><button type="submit" class="secondary"></button></div>';
        addendum.elements.csrfmiddlewaretoken.value = token ? token.value : "";
        addendum.elements.note.value = item.note;
        var id = "conflict-" + item.key;
        addendum.querySelector("label").textContent = text("addendum-label", "");
        addendum.querySelector("label").setAttribute("for", id);
        addendum.elements.text.id = id;
        addendum.elements.text.value = item.text;
        addendum.querySelector("button").textContent = text("addendum-save", "");
        addendum.addEventListener("submit", function () { remove(item.key); });
        box.appendChild(addendum);
      } else if (form.elements.text) {
        form.elements.text.value = item.text;
      }
    } else if (item.state === "sent") {
      box.className = "note-state sent";
      box.textContent = item.message || "";
    }
  }

  // --- Sending ---------------------------------------------------------------------------------

  function csrfToken() {
    var field = document.querySelector("[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  function send(item) {
    var data = new URLSearchParams();
    item.fields.forEach(function (pair) {
      data.append(pair[0], pair[0] === "csrfmiddlewaretoken" ? (csrfToken() || pair[1]) : pair[1]);
    });
    return fetch(item.url, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      redirect: "manual",
      headers: {
        "X-Requested-With": "fetch",
        "Accept": "application/json",
        "Idempotency-Key": item.key
      }
    });
  }

  var flushing = null;

  // Send what waits, oldest first; stop at the first request the connection does not carry.
  function flush() {
    if (flushing) return flushing;
    flushing = all().then(function (items) {
      var queue = items.filter(function (i) { return i.state === "pending"; });
      var sent = [];
      function next() {
        var item = queue.shift();
        if (!item) return sent;
        return send(item).then(function (response) {
          var json = (response.headers.get("Content-Type") || "").indexOf("application/json") === 0;
          if (!json) {
            // Signed out (a redirect to the sign-in page) or refused by CSRF: keep it for later.
            announce(text("signin", ""));
            throw new Error("not sent");
          }
          return response.json().then(function (answer) {
            if (response.ok) {
              sent.push(item.key);
              if (item.kind === "mark") showMark(item, "sent", answer);
              else { item.state = "sent"; item.message = answer.message; showNote(item); }
              return remove(item.key);
            }
            if (item.kind === "mark") {
              showMark(item, "refused", answer);
              return remove(item.key);
            }
            item.state = "conflict";
            item.error = answer.error;
            item.text = answer.text !== undefined ? answer.text : item.text;
            item.note = answer.note;
            item.addendumUrl = answer.addendum_url;
            showNote(item);
            return put(item);
          }).then(next);
        });
      }
      return next();
    }).catch(function () { return []; }).then(function (sent) {
      flushing = null;
      showCount();
      return sent;
    });
    return flushing;
  }

  function fieldsOf(form, extra) {
    var pairs = [];
    new FormData(form).forEach(function (value, name) { if (typeof value === "string") pairs.push([name, value]); });
    Object.keys(extra || {}).forEach(function (name) {
      pairs = pairs.filter(function (pair) { return pair[0] !== name; });
      pairs.push([name, extra[name]]);
    });
    return pairs;
  }

  // One tap on the roster: kept on the phone first, then sent.
  document.addEventListener("click", function (event) {
    var button = event.target.closest(".marks button[name=status]");
    if (!button || !window.indexedDB || !window.fetch) return;
    event.preventDefault();
    var form = button.form;
    var before = form.querySelector("button[name=status][aria-pressed=true]");
    var item = {
      key: newKey(),
      previous: before ? before.value : "",
      user: user,
      kind: "mark",
      url: form.getAttribute("action"),
      page: window.location.pathname,
      participant: form.elements.participant.value,
      status: button.value,
      fields: fieldsOf(form, { status: button.value }),
      state: "pending",
      created: Date.now()
    };
    put(item).then(function () {
      showMark(item, "pending");
      return flush();
    });
  });

  // A note or an addendum: the same, and a page that sent it at once shows the saved note.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute("data-offline-note") || !window.indexedDB || !window.fetch) return;
    if (event.defaultPrevented) return;
    event.preventDefault();
    var item = {
      key: newKey(),
      user: user,
      kind: "note",
      url: form.getAttribute("action"),
      page: window.location.pathname,
      participant: form.elements.participant ? form.elements.participant.value : "",
      text: form.elements.text ? form.elements.text.value : "",
      fields: fieldsOf(form),
      state: "pending",
      created: Date.now()
    };
    put(item).then(function () {
      showNote(item);
      return flush();
    }).then(function (sent) {
      if (sent && sent.indexOf(item.key) >= 0) window.location.reload();
    });
  });

  // --- The page as it was left -----------------------------------------------------------------

  function restore() {
    return all().then(function (items) {
      items.forEach(function (item) {
        if (item.page !== window.location.pathname) return;
        if (item.kind === "mark") showMark(item, "pending");
        else showNote(item);
      });
      return showCount();
    });
  }

  window.addEventListener("online", function () { flush(); });
  window.addEventListener("offline", function () { showCount(); });
  window.setInterval(function () { if (navigator.onLine) flush(); }, 15000);

  if (window.indexedDB && user) {
    restore().then(function () { if (navigator.onLine) flush(); });
  }

  // --- The service worker ----------------------------------------------------------------------

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function (registration) {
      var today = document.querySelector("[data-offline-today]");
      if (today && registration.active) {
        var urls = Array.prototype.map.call(today.querySelectorAll("a[href^='/sessions/']"), function (a) {
          return a.getAttribute("href");
        });
        registration.active.postMessage({ type: "keep-pages", urls: urls });
      }
    }).catch(function () {});
    var signOut = document.querySelector("form[data-sign-out]");
    if (signOut) {
      signOut.addEventListener("submit", function () {
        if (navigator.serviceWorker.controller) navigator.serviceWorker.controller.postMessage({ type: "forget" });
      });
    }
  }

  // The page shown for a page that was not kept: list the ones that were.
  var kept = document.querySelector("[data-offline-pages]");
  if (kept && window.caches) {
    caches.keys().then(function (names) {
      var today = names.filter(function (n) { return n.indexOf("krag-pages-") === 0; }).pop();
      return today ? caches.open(today).then(function (cache) { return cache.keys(); }) : [];
    }).then(function (requests) {
      requests.forEach(function (request) {
        var path = new URL(request.url).pathname;
        if (path.indexOf("/sessions/") !== 0) return;
        var li = document.createElement("li");
        var a = document.createElement("a");
        a.className = "row";
        a.href = path;
        a.textContent = path;
        li.appendChild(a);
        kept.appendChild(li);
      });
    });
  }
})();
