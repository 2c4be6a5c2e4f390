// Keeps a page's live parts up to date: the server sends `change` on a server-sent
// events stream, and the page fetches itself and swaps every element marked data-live.
// Without EventSource (or scripts) the page's <noscript> refresh does the work instead.
(function () {
  var root = document.querySelector("[data-live-events]");
  if (!root || !window.EventSource || !window.fetch || !window.DOMParser) { return; }
  var url = root.getAttribute("data-live-events");
  var version = root.getAttribute("data-live-version");
  if (version) { url += (url.indexOf("?") < 0 ? "?" : "&") + "since=" + encodeURIComponent(version); }
  var busy = false, again = false;
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(location.pathname + location.search, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html");
        var parts = document.querySelectorAll("[data-live]");
        for (var i = 0; i < parts.length; i++) {
          var next = fresh.getElementById(parts[i].id);
          // Signed out meanwhile, or the page changed shape: show it whole.
          if (!next) { location.reload(); return; }
          parts[i].replaceWith(document.importNode(next, true));
        }
        document.documentElement.setAttribute("data-live-updated", String(Date.now()));
      })
      .catch(function () {})
      .then(function () { busy = false; if (again) { again = false; refresh(); } });
  }
  var events = new EventSource(url);
  events.addEventListener("change", refresh);
  window.addEventListener("pagehide", function () { events.close(); });
})();
