// Krąg's service worker, served at /sw.js so that its scope is the whole staff UI.
// Pages: the Today page and every session screen are kept when opened (a cache per day, the
// older days dropped), and shown from there when the connection is gone. Static files are
// kept at install. Writes (POST) are never touched here: the page keeps them in IndexedDB
// (offline.js) and sends them, each with its Idempotency-Key, when the connection returns.
"use strict";

var VERSION = "1";
var STATIC_CACHE = "krag-static-" + VERSION;
var PAGES_PREFIX = "krag-pages-";
var OFFLINE_URL = "/offline/";
var PRECACHE = [
  OFFLINE_URL,
  "/manifest.webmanifest",
  "/static/staff/staff.css",
  "/static/staff/staff.js",
  "/static/staff/pickers.js",
  "/static/staff/offline.js",
  "/static/staff/vendor/tom-select/tom-select.complete.min.js",
  "/static/staff/vendor/tom-select/tom-select.default.min.css",
  "/static/staff/icons/krag-192.png"
];
var KEPT_PAGES = /^\/(sessions\/\d+\/)?$/;

function day() {
  var d = new Date();
  return d.getFullYear() + "-" + (d.getMonth() + 1) + "-" + d.getDate();
}

function pagesCache() { return PAGES_PREFIX + day(); }

function dropOldDays() {
  return caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) {
      return (name.indexOf(PAGES_PREFIX) === 0 && name !== pagesCache()) ||
        (name.indexOf("krag-static-") === 0 && name !== STATIC_CACHE);
    }).map(function (name) { return caches.delete(name); }));
  });
}

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(STATIC_CACHE).then(function (cache) {
    return cache.addAll(PRECACHE);
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(dropOldDays().then(function () { return self.clients.claim(); }));
});

function keepPage(request, response) {
  if (!response.ok || response.redirected || response.type !== "basic") return response;
  var copy = response.clone();
  caches.open(pagesCache()).then(function (cache) { cache.put(request.url, copy); });
  return response;
}

function fromNetworkKeeping(request) {
  return fetch(request).then(function (response) { return keepPage(request, response); });
}

function offlineAnswer(request) {
  return caches.open(pagesCache()).then(function (cache) {
    return cache.match(request.url);
  }).then(function (page) {
    return page || caches.match(OFFLINE_URL);
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(caches.match(request).then(function (hit) {
      return hit || fetch(request);
    }));
    return;
  }
  if (request.mode !== "navigate") return;
  if (KEPT_PAGES.test(url.pathname) && !url.search) {
    event.respondWith(fromNetworkKeeping(request).catch(function () {
      return offlineAnswer(request);
    }));
    return;
  }
  event.respondWith(fetch(request).catch(function () { return offlineAnswer(request); }));
});

self.addEventListener("message", function (event) {
  var data = event.data || {};
  if (data.type === "keep-pages") {
    // Today's sessions, fetched now so that they open without a connection later today.
    event.waitUntil(caches.open(pagesCache()).then(function (cache) {
      return Promise.all((data.urls || []).map(function (path) {
        return fetch(path, { credentials: "same-origin" }).then(function (response) {
          if (response.ok && !response.redirected) return cache.put(new URL(path, self.location.origin).href, response);
        }).catch(function () {});
      }));
    }));
  } else if (data.type === "forget") {
    // Signing out: nothing of this user's pages stays on the phone.
    event.waitUntil(caches.keys().then(function (names) {
      return Promise.all(names.filter(function (name) {
        return name.indexOf(PAGES_PREFIX) === 0;
      }).map(function (name) { return caches.delete(name); }));
    }));
  }
});
