/*
 * Column editor (progressive enhancement of templates/exports/_column_editor.html).
 *
 * Without this script the table works as is: tick a column, label it, number it.
 * With it, only the chosen columns are shown, as a list that can be reordered in
 * place (Up/Down), shortened (Remove) and extended (Add a column). The hidden
 * checkboxes and position inputs are kept in step, so the server receives exactly
 * what it would receive from the plain form.
 */
(function () {
  "use strict";

  function makeButton(text, label, onClick) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "small";
    button.textContent = text;
    button.setAttribute("aria-label", label);
    button.addEventListener("click", onClick);
    return button;
  }

  function enhance(table, tableIndex) {
    const body = table.tBodies[0];
    const rows = () => Array.from(body.querySelectorAll("tr[data-column-row]"));
    const input = (row, name) => row.querySelector(`[name$="-${name}"]`);
    const isIncluded = (row) => input(row, "include").checked;
    const included = () => rows().filter(isIncluded);

    const heading = document.createElement("th");
    heading.scope = "col";
    heading.textContent = "Order";
    table.tHead.rows[0].appendChild(heading);

    rows().forEach((row) => {
      const id = row.dataset.columnId;
      const cell = row.insertCell(-1);
      cell.className = "col-actions";
      const up = makeButton("↑", `Move ${id} up`, () => move(row, -1));
      const down = makeButton("↓", `Move ${id} down`, () => move(row, 1));
      up.dataset.move = "up";
      down.dataset.move = "down";
      cell.append(up, down, makeButton("Remove", `Remove ${id}`, () => remove(row)));
    });

    const empty = document.createElement("p");
    empty.className = "help";
    empty.textContent = "No columns chosen: the default columns will be exported.";

    const picker = document.createElement("div");
    picker.className = "column-add";
    const select = document.createElement("select");
    select.id = `column-add-${tableIndex}`;
    const label = document.createElement("label");
    label.htmlFor = select.id;
    label.textContent = "Add a column";
    picker.append(label, select, makeButton("Add", "Add the chosen column", () => add(select.value)));

    // Screen readers hear what moved where.
    const status = document.createElement("p");
    status.className = "visually-hidden";
    status.setAttribute("aria-live", "polite");

    table.after(empty, picker, status);
    table.classList.add("is-enhanced");

    // The help of the plain form speaks of ticks and position numbers: say what this one offers.
    const help = document.getElementById(table.getAttribute("aria-describedby"));
    if (help && help.dataset.enhancedHelp) help.textContent = help.dataset.enhancedHelp;

    function move(row, step) {
      const list = included();
      const target = list[list.indexOf(row) + step];
      if (!target) return;
      if (step < 0) target.before(row);
      else target.after(row);
      refresh();
      const same = row.querySelector(`[data-move="${step < 0 ? "up" : "down"}"]`);
      (same.disabled ? row.querySelector("[data-move]:not(:disabled)") || input(row, "label") : same).focus();
      status.textContent = `${row.dataset.columnId} is now column ${included().indexOf(row) + 1}.`;
    }

    function remove(row) {
      input(row, "include").checked = false;
      body.appendChild(row);
      refresh();
      select.focus();
      status.textContent = `${row.dataset.columnId} removed.`;
    }

    function add(id) {
      const row = rows().find((candidate) => candidate.dataset.columnId === id);
      if (!row) return;
      const last = included().pop();
      input(row, "include").checked = true;
      if (!input(row, "label").value.trim()) input(row, "label").value = id;
      if (last) last.after(row);
      else body.prepend(row);
      refresh();
      input(row, "label").focus();
      status.textContent = `${id} added as column ${included().length}.`;
    }

    // Show the chosen rows only, number them in row order, and offer the others to add.
    function refresh() {
      let position = 0;
      rows().forEach((row) => {
        const on = isIncluded(row);
        row.hidden = !on;
        input(row, "position").value = on ? String(++position) : "";
      });
      const list = included();
      list.forEach((row, index) => {
        row.querySelector('[data-move="up"]').disabled = index === 0;
        row.querySelector('[data-move="down"]').disabled = index === list.length - 1;
      });
      const others = rows().filter((row) => !isIncluded(row));
      select.replaceChildren(...others.map((row) => new Option(row.dataset.columnId, row.dataset.columnId)));
      picker.hidden = others.length === 0;
      empty.hidden = list.length > 0;
    }

    refresh();
  }

  document.querySelectorAll("table[data-column-editor]").forEach(enhance);
})();
