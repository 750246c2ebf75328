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
