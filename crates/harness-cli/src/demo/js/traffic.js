// The traffic view made live (progressive enhancement: without this script the page lists the
// requests and links each to its detail page). New requests arrive over server-sent events as
// rows the server rendered (and escaped); they are inserted newest first. A burst is announced
// once to screen readers ("3 new requests"), never request by request. A path opens its
// detail in a dialog instead of leaving the page.
(function () {
  "use strict";

  var list = document.getElementById("traffic-list");
  if (!list) {
    return;
  }
  var rows = document.getElementById("traffic-rows");
  var shown = document.getElementById("traffic-shown");
  var noun = document.getElementById("traffic-count-noun");
  var live = document.getElementById("traffic-live");
  var streamState = document.getElementById("traffic-stream");
  var empty = document.getElementById("traffic-empty");
  var dialog = document.getElementById("traffic-dialog");
  var dialogBody = document.getElementById("traffic-dialog-body");
  var hostFilter = document.getElementById("traffic-host");
  var max = parseInt(list.getAttribute("data-max"), 10) || 200;
  var pending = 0;
  var announceTimer = null;

  function setState(text, state) {
    streamState.textContent = text;
    streamState.setAttribute("data-state", state);
  }

  function updateCount() {
    var count = rows.children.length;
    shown.textContent = String(count);
    noun.textContent = count === 1 ? "request" : "requests";
    empty.hidden = count > 0;
  }

  function announce() {
    live.textContent = pending + (pending === 1 ? " new request" : " new requests");
    pending = 0;
    announceTimer = null;
  }

  // A host first seen live joins the filter's choices.
  function offerHost(row) {
    var host = row.querySelector("[data-test='traffic-host']");
    if (!hostFilter || !host) {
      return;
    }
    var name = host.textContent;
    var known = Array.prototype.some.call(hostFilter.options, function (option) {
      return option.value === name;
    });
    if (!known) {
      hostFilter.add(new Option(name, name));
    }
  }

  function addRow(html, sequence) {
    if (document.getElementById("traffic-row-" + sequence)) {
      return;
    }
    // The server rendered the row (maud escaped every value); a template parses a <tr> alone.
    var template = document.createElement("template");
    template.innerHTML = html;
    var row = template.content.querySelector("tr");
    if (!row) {
      return;
    }
    // Newest first; a slow request stored after a later one goes to its place.
    var before = rows.firstElementChild;
    while (before && Number(before.getAttribute("data-sequence")) > sequence) {
      before = before.nextElementSibling;
    }
    row.classList.add("fresh");
    rows.insertBefore(row, before);
    while (rows.children.length > max) {
      rows.removeChild(rows.lastElementChild);
    }
    updateCount();
    offerHost(row);
    pending += 1;
    if (announceTimer === null) {
      announceTimer = window.setTimeout(announce, 3000);
    }
  }

  if (window.EventSource) {
    var source = new EventSource(list.getAttribute("data-events"));
    setState("Connecting…", "connecting");
    source.addEventListener("open", function () {
      setState("Live: new requests appear at the top.", "live");
    });
    source.addEventListener("error", function () {
      // The browser reconnects by itself, sending the last id it saw: nothing is lost.
      setState("Disconnected; reconnecting…", "reconnecting");
    });
    source.addEventListener("entry", function (event) {
      addRow(event.data, Number(event.lastEventId));
    });
    source.addEventListener("lagged", function () {
      // Requests came faster than the stream could send them: read the list again.
      source.close();
      setState("Too many requests to follow; reloading the list…", "lagged");
      window.location.reload();
    });
  }

  if (dialog && typeof dialog.showModal === "function") {
    rows.addEventListener("click", function (event) {
      var link = event.target.closest("a[data-test='traffic-detail-link']");
      if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) {
        return;
      }
      event.preventDefault();
      fetch(link.href, { credentials: "same-origin" })
        .then(function (response) {
          return response.text().then(function (text) {
            return { ok: response.ok, text: text };
          });
        })
        .then(function (answer) {
          var page = new DOMParser().parseFromString(answer.text, "text/html");
          var detail = page.getElementById("traffic-detail") || page.querySelector("main");
          dialogBody.replaceChildren(document.importNode(detail, true));
          dialog.showModal();
          var heading = dialogBody.querySelector("h1");
          if (heading) {
            heading.focus();
          }
        })
        .catch(function () {
          // No dialog: the detail page itself.
          window.location.href = link.href;
        });
    });
  }
})();
