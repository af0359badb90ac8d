/*
 * Add and remove rows of a child formset (items, notification messages) in place.
 *
 * Without this script each formset has one blank row to fill in and a "Remove"
 * checkbox per row. With it, the optional blank row is hidden, "Add" clones the
 * formset's empty form (the <template>) under the next index, and "Remove" ticks the
 * row's DELETE box and hides the row, so Django's formset handling stays the same
 * (a hidden blank row is posted as deleted).
 */
(function () {
  "use strict";

  function addRemoveButton(row) {
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
      box.checked = true;
      row.hidden = true;
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
    list.querySelectorAll("[data-formset-row]").forEach(addRemoveButton);

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
      addRemoveButton(row);
      const first = row.querySelector("input:not([type=hidden]), select, textarea");
      if (first) first.focus();
    });
    set.appendChild(add);
  }

  document.querySelectorAll("[data-formset]").forEach(enhance);
})();
