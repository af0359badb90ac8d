/*
 * Add and remove rows of a child formset (items, notification messages) in place.
 *
 * Without this script each formset has one blank row to fill in and a "Remove"
 * checkbox per row. With it, the optional blank row is hidden, "Add" clones the
 * formset's empty form (the <template>) under the next index, and "Remove" ticks the
 * row's DELETE box and hides the row, so Django's formset handling stays the same
 * (a hidden blank row is posted as deleted).
 *
 * Keyboard and screen readers: "Add" leaves focus on the new row's first field; "Remove"
 * moves it to the previous row's heading (or the next row's, or the Add button) and says
 * "Item 2 removed" in the page's live region (#live-status, in base.html).
 */
(function () {
  "use strict";

  function announce(text) {
    const region = document.getElementById("live-status");
    if (!region) return;
    // Emptied first, so the same words said twice are still read twice.
    region.textContent = "";
    window.setTimeout(() => { region.textContent = text; }, 50);
  }

  function visibleRows(list) {
    return Array.from(list.querySelectorAll("[data-formset-row]")).filter((row) => !row.hidden);
  }

  function focusHeading(row) {
    const legend = row.querySelector("legend");
    legend.tabIndex = -1; // focusable by script only, not a tab stop
    legend.focus();
  }

  function addRemoveButton(row, set) {
    const box = row.querySelector('input[type="checkbox"][name$="-DELETE"]');
    if (!box) return;
    const wrapper = box.closest(".field");
    if (wrapper) wrapper.hidden = true;
    if (box.checked) {
      row.hidden = true;
      return;
    }
    const button = document.createElement("button");
    button.type = "button";
    button.className = "small remove-row";
    button.textContent = (box.labels[0] ? box.labels[0].textContent : "Remove").replace(/:\s*$/, "");
    button.addEventListener("click", () => {
      const list = row.parentElement;
      const rows = visibleRows(list);
      const index = rows.indexOf(row);
      box.checked = true;
      row.hidden = true;
      const neighbour = rows[index - 1] || rows[index + 1];
      if (neighbour) focusHeading(neighbour);
      else set.querySelector(":scope > .add-row")?.focus();
      announce(`${set.dataset.rowLabel || "Row"} ${index + 1} removed`);
    });
    row.querySelector("legend").after(button);
  }

  function enhance(set) {
    const prefix = set.dataset.formset;
    const total = set.querySelector(`input[name="${prefix}-TOTAL_FORMS"]`);
    const max = set.querySelector(`input[name="${prefix}-MAX_NUM_FORMS"]`);
    const list = set.querySelector("[data-formset-list]");
    const template = set.querySelector("template[data-formset-empty]");
    if (!total || !list || !template) return;

    // Mark the optional blank row deleted rather than removing it: a missing row would
    // reach Django as a changed one (its select fields lose their defaults).
    list.querySelectorAll("[data-formset-blank]").forEach((row) => {
      const box = row.querySelector('input[type="checkbox"][name$="-DELETE"]');
      if (box) box.checked = true;
    });
    list.querySelectorAll("[data-formset-row]").forEach((row) => addRemoveButton(row, set));

    const add = document.createElement("button");
    add.type = "button";
    add.className = "add-row";
    add.textContent = set.dataset.addLabel || "Add";
    add.addEventListener("click", () => {
      const index = Number(total.value);
      if (max && index >= Number(max.value)) return;
      list.insertAdjacentHTML("beforeend", template.innerHTML.replace(/__prefix__/g, String(index)));
      total.value = String(index + 1);
      const row = list.lastElementChild;
      addRemoveButton(row, set);
      // The first field shown (fields of other choices are hidden by CSS).
      const first = Array.from(row.querySelectorAll("input:not([type=hidden]), select, textarea"))
        .find((field) => field.getClientRects().length);
      if (first) first.focus();
      announce(`${set.dataset.rowLabel || "Row"} ${visibleRows(list).length} added`);
    });
    set.appendChild(add);
  }

  document.querySelectorAll("[data-formset]").forEach(enhance);
})();
