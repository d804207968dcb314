// The connection check, live: each form marked data-run (Add Source, Test, Rotate secret)
// starts a run instead of waiting for the whole check, the page follows its steps over server-sent
// events in the #check-steps live region, then goes to the run's outcome page. Without this
// script (or when starting fails) the form posts as usual and the answer shows the same steps.
(function () {
  "use strict";

  var forms = document.querySelectorAll("form[data-run]");
  var section = document.getElementById("check-progress");
  var list = document.getElementById("check-steps");
  if (!forms.length || !section || !list || !window.EventSource || !window.fetch) {
    return;
  }

  var STATUS = { started: "Checking…", passed: "Passed", failed: "Failed" };

  // One item per step label, created when the step starts and updated when it ends.
  function render(items, step) {
    var item = items.get(step.label);
    if (!item) {
      item = document.createElement("li");
      item.className = "step";
      item.setAttribute("data-test", "check-step");
      item.dataset.label = step.label;
      var label = document.createElement("span");
      label.className = "step-label";
      label.textContent = step.label;
      var status = document.createElement("span");
      status.className = "step-status";
      status.setAttribute("data-test", "step-status");
      var time = document.createElement("span");
      time.className = "step-time";
      time.setAttribute("data-test", "step-time");
      item.append(label, " ", status, " ", time);
      list.append(item);
      items.set(step.label, item);
    }
    item.dataset.step = step.step;
    item.dataset.status = step.status;
    item.querySelector(".step-status").textContent = STATUS[step.status] || step.status;
    item.querySelector(".step-time").textContent = step.elapsed || "";
  }

  function follow(form, event) {
    event.preventDefault();
    var button = form.querySelector("button[type=submit]");
    if (button) {
      button.disabled = true;
    }
    list.replaceChildren();
    section.hidden = false;
    section.scrollIntoView({ block: "nearest" });
    var items = new Map();
    fetch(form.dataset.run, {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("the run did not start: HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (run) {
        var source = new EventSource(run.events);
        source.addEventListener("step", function (message) {
          render(items, JSON.parse(message.data));
        });
        source.addEventListener("done", function (message) {
          source.close();
          window.location.assign(JSON.parse(message.data).location);
        });
        source.addEventListener("error", function () {
          // The browser reconnects by itself (resuming after the last event); once it gives
          // up, the outcome page says what became of the run.
          if (source.readyState === EventSource.CLOSED) {
            window.location.assign(run.result);
          }
        });
      })
      .catch(function () {
        // The plain POST: the server waits for the check and answers with its outcome.
        form.submit();
      });
  }

  forms.forEach(function (form) {
    form.addEventListener("submit", function (event) {
      follow(form, event);
    });
  });

  // Back to a page the browser kept (back/forward cache): its buttons must work again.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {
      forms.forEach(function (form) {
        var button = form.querySelector("button[type=submit]");
        if (button) {
          button.disabled = false;
        }
      });
    }
  });
})();
