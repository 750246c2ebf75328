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

// Forms that undo or lose something ask first; the question is in their data-confirm attribute.
document.addEventListener("submit", (event) => {
  const question = event.target.dataset.confirm;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
