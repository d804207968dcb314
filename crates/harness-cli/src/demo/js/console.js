// The tenant console, made live: every console form posts with fetch (the server answers the
// console's fragment) and the fragment replaces #console without a reload; the live region
// #console-notice announces what changed, or why not. Without this script the forms post and
// the server redirects back with the notice. Every 2 s (while the tab is visible) it asks the
// world's version and, when the world changed elsewhere (another tab, `d365-harness admin`),
// fetches the fresh console.
"use strict";

(function () {
  var container = document.getElementById("console");
  var notice = document.getElementById("console-notice");
  if (!container || !notice || !window.fetch) {
    return;
  }

  function announce(text, refused) {
    // Emptied first, so that the same sentence twice is announced twice.
    notice.textContent = "";
    notice.classList.toggle("error", !!refused);
    if (text) {
      window.setTimeout(function () { notice.textContent = text; }, 50);
    }
  }

  // Puts the server's fragment in place and keeps the keyboard where it was: on the same
  // form's button if the form is still there, on the form's error if it has one, else on the
  // notice.
  function swap(html, formId) {
    container.innerHTML = html;
    var result = document.getElementById("console-result");
    var refused = result && result.getAttribute("data-outcome") === "refused";
    announce(result ? result.textContent.trim() : "", refused);
    var form = formId ? document.getElementById(formId) : null;
    var error = form ? form.querySelector("[data-test=change-error]") : null;
    var target = error ? form.querySelector("input:not([type=hidden]), select, textarea, button") :
      form ? form.querySelector("button") : null;
    if (target) {
      target.focus();
    } else {
      notice.focus();
    }
  }

  var busy = false;
  // Bumped by every post: a refresh that started before it must not put back an older console.
  var generation = 0;

  function currentVersion() {
    var result = document.getElementById("console-result");
    return result ? result.getAttribute("data-version") : "";
  }

  // Someone typing in a console form keeps what they typed: the refresh waits.
  function typing() {
    var active = document.activeElement;
    return !!active && container.contains(active) &&
      /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName);
  }

  function refresh() {
    if (busy || document.hidden || typing()) {
      return;
    }
    busy = true;
    var started = generation;
    fetch("/console/version", { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : currentVersion(); })
      .then(function (version) {
        if (version === currentVersion()) {
          return null;
        }
        return fetch("/console/fragment", { credentials: "same-origin" }).then(function (response) {
          return response.ok ? response.text() : null;
        });
      })
      .then(function (html) {
        if (html !== null && started === generation && !typing()) {
          var focused = document.activeElement && document.activeElement.id;
          container.innerHTML = html;
          announce("The tenant was changed elsewhere; the console shows it now.", false);
          var again = focused ? document.getElementById(focused) : null;
          if (again) {
            again.focus();
          }
        }
      })
      .catch(function () {})
      .then(function () { busy = false; });
  }

  window.setInterval(refresh, 2000);

  container.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.classList.contains("change")) {
      return;
    }
    event.preventDefault();
    busy = true;
    generation += 1;
    var body = new URLSearchParams(new FormData(form));
    body.set("fragment", "1");
    var buttons = form.querySelectorAll("button");
    buttons.forEach(function (button) { button.disabled = true; });
    container.setAttribute("aria-busy", "true");
    fetch(form.action, { method: "POST", body: body, credentials: "same-origin" })
      .then(function (response) {
        return response.text().then(function (text) {
          if (response.ok || response.status === 422) {
            swap(text, form.id);
          } else {
            buttons.forEach(function (button) { button.disabled = false; });
            announce("Not applied: the demo refused the form (HTTP " + response.status +
              "). Reload the page and try again.", true);
          }
        });
      })
      .catch(function () {
        buttons.forEach(function (button) { button.disabled = false; });
        announce("Not applied: the demo did not answer. Is it still running?", true);
      })
      .then(function () {
        container.removeAttribute("aria-busy");
        busy = false;
      });
  });
})();
