/*
 * Keep a request page's job table current while the page is open: new jobs appear,
 * progress moves, statuses change, without a reload.
 *
 * The section carries data-url (the table alone, as an HTML fragment of the same page
 * number) and data-refresh (seconds until the next look: short while a job may change,
 * longer otherwise; every answer says again). Nothing is fetched while the tab is hidden;
 * showing it again refreshes at once. Without JavaScript, reloading shows the same table.
 */
(function () {
  "use strict";

  const section = document.getElementById("jobs");
  if (!section || !section.dataset.url) return;
  let timer = null;
  let shown = null; // the last fragment put in the page, to leave an unchanged table alone

  function schedule(seconds) {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, (Number(seconds) || 5) * 1000);
  }

  async function refresh() {
    if (document.hidden) return; // visibilitychange starts again
    let next = section.dataset.refresh;
    try {
      const response = await fetch(section.dataset.url, {
        credentials: "same-origin",
        headers: { Accept: "text/html" },
      });
      if (response.ok) {
        const html = await response.text();
        if (html !== shown) {
          const fragment = document.createElement("template");
          fragment.innerHTML = html;
          // Keep open error details open across the swap.
          const open = new Set(
            Array.from(section.querySelectorAll("tr[id] details[open]"), (d) => d.closest("tr").id)
          );
          section.replaceChildren(fragment.content);
          open.forEach((id) => {
            const details = document.querySelector(`#${CSS.escape(id)} details`);
            if (details) details.open = true;
          });
          shown = html;
        }
        const marker = section.querySelector("[data-next-refresh]");
        if (marker) next = marker.dataset.nextRefresh;
      }
    } catch (error) {
      // A network hiccup: try again at the next tick.
    }
    schedule(next);
  }

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) refresh();
  });
  schedule(section.dataset.refresh);
})();
