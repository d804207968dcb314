// The scenario player's small enhancement (the page works without it): while a step plays,
// the status says so and the buttons cannot be pressed twice; after a step, focus moves to its
// report so that a screen reader reads it.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const status = document.getElementById("scenario-status");
  let sent = false;
  for (const form of document.querySelectorAll(".player-controls form")) {
    form.addEventListener("submit", (event) => {
      const buttons = document.querySelectorAll(".player-controls button");
      // One action at a time: a second press would wait behind the first anyway.
      if (sent) {
        event.preventDefault();
        return;
      }
      sent = true;
      if (status) {
        const label = event.submitter ? event.submitter.textContent.trim() : "Working";
        status.textContent = label + "…";
      }
      for (const button of buttons) {
        button.setAttribute("aria-disabled", "true");
      }
      document.body.setAttribute("aria-busy", "true");
    });
  }
  if (location.hash.startsWith("#step-")) {
    const step = document.getElementById(location.hash.slice(1));
    if (step) {
      step.focus();
    }
  }
});
