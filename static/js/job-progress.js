/*
 * Keep a request page's job table current while a job on it is waiting or running.
 *
 * The server marks the section with data-refresh="<seconds>" only then; this script
 * re-fetches the same page and swaps in the fresh section until the mark is gone.
 * Without JavaScript, reloading the page shows the same information.
 */
(function () {
  "use strict";

  const section = document.getElementById("jobs");
  if (!section || !section.dataset.refresh) return;
  const delay = (Number(section.dataset.refresh) || 5) * 1000;

  async function refresh() {
    if (!document.hidden) {
      try {
        const response = await fetch(window.location.href, { credentials: "same-origin" });
        if (response.ok) {
          const page = new DOMParser().parseFromString(await response.text(), "text/html");
          const fresh = page.getElementById("jobs");
          if (fresh) {
            section.replaceChildren(...fresh.childNodes);
            if (!fresh.dataset.refresh) {
              delete section.dataset.refresh; // nothing left to watch
              return;
            }
          }
        }
      } catch (error) {
        // A network hiccup: try again at the next tick.
      }
    }
    window.setTimeout(refresh, delay);
  }

  window.setTimeout(refresh, delay);
})();
