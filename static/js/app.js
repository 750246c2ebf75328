// Django messages arrive as shown toasts; hide them after a few seconds unless they are errors.
const TOAST_VISIBLE_MS = 6000;

function scheduleToastHiding(root) {
  root.querySelectorAll(".hv-toast.show").forEach((toast) => {
    if (toast.getAttribute("role") === "alert") {
      return;
    }
    window.setTimeout(() => toast.classList.remove("show"), TOAST_VISIBLE_MS);
  });
}

document.addEventListener("DOMContentLoaded", () => scheduleToastHiding(document));
document.addEventListener("htmx:afterSwap", (event) => scheduleToastHiding(event.target));

// Forms that undo or lose something ask first; the question is in the data-confirm attribute of the form or
// of the button that submits it.
document.addEventListener("submit", (event) => {
  const question = (event.submitter && event.submitter.dataset.confirm) || event.target.dataset.confirm;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

// Drop zones for supplier documents: files dropped on the card are uploaded as if chosen in its file input.
document.querySelectorAll("[data-dropzone]").forEach((zone) => {
  const input = zone.querySelector("[data-dropzone-input]");
  ["dragenter", "dragover"].forEach((name) => zone.addEventListener(name, (event) => {
    event.preventDefault();
    zone.classList.add("is-dragging");
  }));
  ["dragleave", "drop"].forEach((name) => zone.addEventListener(name, () => zone.classList.remove("is-dragging")));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    if (event.dataTransfer && event.dataTransfer.files.length) {
      input.files = event.dataTransfer.files;
      zone.requestSubmit();
    }
  });
});
