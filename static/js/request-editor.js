/*
 * The request editor's enhancements: type-ahead pickers from the series catalog, and focus
 * on the error summary (or the preview) after the page comes back from the server.
 *
 * Without this script the page serves the same choices as <datalist>s (channel, subtopic,
 * publisher) and a multi-select (metrics), narrowed by what the item held when the page was
 * rendered. With it, each picker asks the catalog endpoint (data-catalog-url on the form)
 * for options narrowed by what the item holds now, as you type. Free text stays possible:
 * the inputs are the form's own fields, the list only suggests.
 */
(function () {
  "use strict";

  const form = document.getElementById("request-form");
  if (!form) return;
  const catalogUrl = form.dataset.catalogUrl;
  const NARROWED_BY = { channel: [], subtopic: ["channel"], publisher: ["channel", "subtopic"], name: ["channel", "subtopic", "publisher"] };
  const INPUT_OF = { channel: "channel_id", subtopic: "subtopic", publisher: "publisher" };
  let counter = 0;

  function focusOnLoad() {
    const target = document.querySelector("[data-focus-on-load]");
    if (target) {
      target.focus();
      target.scrollIntoView({ block: "start" });
    }
  }

  function rowPrefix(input) {
    // items-3-channel_id → items-3
    return input.name.replace(/-[^-]+$/, "");
  }

  function valueOf(prefix, field) {
    const input = form.elements.namedItem(`${prefix}-${INPUT_OF[field]}`);
    return input ? storedValue(input) : "";
  }

  /*
   * A named channel or publisher shows its name in the field and its id under it; the form
   * posts the id (see "formdata" below). Text typed over the name posts as typed: the server
   * takes a name (or an id) people type, and asks about one it does not know.
   */
  const HINT = "Choose from the list, or type a name or an id.";

  function storedValue(input) {
    const { value, shown } = input.dataset;
    return value !== undefined && input.value === shown ? value : input.value.trim();
  }

  function showName(input, value, name) {
    const help = document.getElementById(`${input.id}_helptext`);
    if (!name || name === value) {
      delete input.dataset.value;
      delete input.dataset.shown;
      input.value = value;
      if (help) help.textContent = HINT;
      return;
    }
    input.dataset.value = value;
    input.dataset.shown = name;
    input.value = name;
    if (help) help.textContent = `id ${value}`;
  }

  function namedField(input) {
    const { id, name } = input.dataset;
    const typed = input.value.trim();
    if (id && name && (typed === id || typed.toLowerCase() === name.toLowerCase())) {
      showName(input, id, name);
    }
    input.addEventListener("input", () => {
      if (input.dataset.value !== undefined && input.value !== input.dataset.shown) {
        delete input.dataset.value;
        delete input.dataset.shown;
        const help = document.getElementById(`${input.id}_helptext`);
        if (help) help.textContent = HINT;
      }
    });
  }

  form.addEventListener("formdata", (event) => {
    form.querySelectorAll("input[data-shown]").forEach((input) => {
      if (input.name && !input.disabled) event.formData.set(input.name, storedValue(input));
    });
  });

  function debounce(fn, ms) {
    let timer;
    return (...args) => {
      clearTimeout(timer);
      timer = setTimeout(() => fn(...args), ms);
    };
  }

  /*
   * One combobox (ARIA 1.2 pattern): the input keeps focus, the list shows options,
   * arrows move the active option, Enter or a click chooses it, Escape closes.
   */
  function combobox(input, field, onChoose) {
    const prefix = rowPrefix(input);
    const list = document.createElement("ul");
    const listId = `picker-${++counter}`;
    list.id = listId;
    list.className = "picker-list";
    list.setAttribute("role", "listbox");
    list.hidden = true;
    const wrapper = document.createElement("div");
    wrapper.className = "picker";
    const focused = document.activeElement === input; // moving it blurs it
    input.before(wrapper);
    wrapper.append(input, list);
    if (focused) input.focus(); // before the focus listener below: the list stays closed
    input.removeAttribute("list"); // our list replaces the native one
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", listId);
    input.autocomplete = "off";
    let options = [];
    let listed = []; // the values of the options on show, for render() to keep the marked one
    let active = -1;
    let request = 0;
    let chosen = null; // the field's value right after a choice: no list to reopen for it

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function mark(index) {
      const items = list.querySelectorAll("[role=option]");
      items.forEach((item, i) => item.setAttribute("aria-selected", String(i === index)));
      active = index;
      if (index >= 0 && items[index]) {
        input.setAttribute("aria-activedescendant", items[index].id);
        items[index].scrollIntoView({ block: "nearest" });
      }
    }

    function render() {
      // A new answer keeps the option the arrows had marked if it is still there; otherwise
      // nothing is marked, so Enter never chooses an option the user has not seen marked.
      const marked = active >= 0 ? listed[active] : undefined;
      active = marked === undefined ? -1 : options.findIndex((option) => option.value === marked);
      listed = options.map((option) => option.value);
      list.replaceChildren();
      options.forEach((option, index) => {
        const item = document.createElement("li");
        item.id = `${listId}-${index}`;
        item.setAttribute("role", "option");
        item.setAttribute("aria-selected", String(index === active));
        const label = document.createElement("span");
        label.className = "picker-label";
        label.textContent = option.label;
        item.append(label);
        if (option.detail) {
          const detail = document.createElement("span");
          detail.className = "picker-detail";
          detail.textContent = option.detail;
          item.append(detail);
        }
        // mousedown, not click: choosing must happen before the input's blur closes the list
        item.addEventListener("mousedown", (event) => {
          event.preventDefault();
          choose(index);
        });
        list.append(item);
      });
      if (!options.length) {
        const empty = document.createElement("li");
        empty.className = "picker-empty";
        empty.textContent = "Nothing in the catalog matches; you can still type a name.";
        list.append(empty);
      }
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
      if (active >= 0) input.setAttribute("aria-activedescendant", `${listId}-${active}`);
      else input.removeAttribute("aria-activedescendant");
    }

    function choose(index) {
      const option = options[index];
      if (!option) return;
      onChoose(option);
      chosen = input.value;
      request++; // an answer still on its way (typed before the choice) is not shown
      list.removeAttribute("aria-busy");
      close();
    }

    async function load(query) {
      const params = new URLSearchParams({ field, q: query });
      NARROWED_BY[field].forEach((name) => params.set(name, valueOf(prefix, name)));
      const zone = form.elements.namedItem("timezone");
      if (zone && zone.value) params.set("tz", zone.value);
      const mine = ++request;
      list.setAttribute("aria-busy", "true");
      try {
        const response = await fetch(`${catalogUrl}?${params}`, { headers: { Accept: "application/json" } });
        if (!response.ok || mine !== request) return;
        options = (await response.json()).options;
        if (mine !== request) return;
      } catch (error) {
        return; // the field stays a plain text input
      } finally {
        if (mine === request) list.removeAttribute("aria-busy"); // the latest answer is in
      }
      if (document.activeElement === input) render();
    }

    const typed = debounce(() => {
      if (input.value === chosen) return list.removeAttribute("aria-busy");
      chosen = null;
      load(field === "name" ? input.value : input.value.trim());
    }, 150);
    input.addEventListener("input", () => {
      list.setAttribute("aria-busy", "true"); // the list on show is for the text before this
      typed();
    });
    const open = () => load(field === "name" ? input.value : "");
    input.addEventListener("focus", open);
    input.addEventListener("click", () => list.hidden && open()); // focused already, list closed
    input.addEventListener("blur", close);
    input.addEventListener("keydown", (event) => {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        if (list.hidden) return load(input.value);
        const step = event.key === "ArrowDown" ? 1 : -1;
        mark(Math.max(0, Math.min(options.length - 1, active + step)));
      } else if (event.key === "Enter" && !list.hidden && active >= 0) {
        event.preventDefault(); // choose, do not submit
        choose(active);
      } else if (event.key === "Escape" && !list.hidden) {
        event.preventDefault();
        close();
      }
    });
  }

  // The metrics multi-select becomes a type-ahead that adds names to the metrics field.
  function enhanceMetrics(select) {
    const prefix = rowPrefix(select);
    const target = form.elements.namedItem(`${prefix}-target_value`);
    const wrapper = select.closest(".field");
    if (!target || !wrapper) return;
    select.disabled = true; // not posted: the metrics field holds the choice
    select.hidden = true;
    const input = document.createElement("input");
    input.type = "text";
    input.id = `${select.id}-search`;
    input.name = `${prefix}-metric_search`;
    input.placeholder = "Type to search the catalog";
    input.setAttribute("form", "no-form"); // a helper, never posted
    const label = wrapper.querySelector("label");
    if (label) label.htmlFor = input.id;
    select.after(input);
    combobox(input, "name", (option) => {
      const names = target.value.split(",").map((name) => name.trim()).filter(Boolean);
      const added = !names.includes(option.value);
      if (added) names.push(option.value);
      target.value = names.join(",");
      target.dispatchEvent(new Event("input", { bubbles: true }));
      input.value = "";
      const region = document.getElementById("live-status"); // in base.html
      if (region) region.textContent = added ? `Added ${option.value}` : `${option.value} is already chosen`;
    });
  }

  // An item's window and decimation pickers: the words of a typed duration (asked of the
  // server, the one function that words durations), of the decimation, and the default
  // window's meaning for the chosen type. CSS shows only the fields of the choice.
  const UNITS = { s: "second", m: "minute", h: "hour", d: "day", w: "week", M: "month", y: "year" };
  const FUNCTIONS = { "": "averages", avg: "averages", max: "maxima", min: "minima", sum: "sums",
    stddev: "standard deviations", variance: "variances" };

  function helpOf(input) {
    let help = document.getElementById(`${input.id}_helptext`);
    if (!help) {
      help = document.createElement("p");
      help.className = "help";
      help.id = `${input.id}_helptext`;
      input.after(help);
      input.setAttribute("aria-describedby", help.id);
    }
    return help;
  }

  function windowPickers(row) {
    const prefix = row.querySelector('select[name$="-window"]')?.name.replace(/-window$/, "");
    if (!prefix) return;
    const field = (name) => form.elements.namedItem(`${prefix}-${name}`);
    const size = field("ds_size"), unit = field("ds_unit"), func = field("dsf");
    if (size && unit && func) {
      const help = helpOf(unit);
      help.setAttribute("aria-live", "polite");
      const words = () => {
        const count = parseInt(size.value, 10);
        help.textContent = unit.value && count > 0
          ? `${count}-${UNITS[unit.value]} ${FUNCTIONS[func.value] || func.value}` : "";
      };
      [size, unit, func].forEach((input) => {
        input.addEventListener("input", words);
        input.addEventListener("change", words);
      });
      words();
    }
    const period = field("period");
    const url = form.dataset.wordsUrl;
    if (period && url) {
      const help = helpOf(period);
      help.setAttribute("aria-live", "polite");
      const base = help.textContent.replace(/^.*?\. (?=ISO 8601)/, "");
      let asked = 0;
      period.addEventListener("input", debounce(async () => {
        const mine = ++asked;
        try {
          const response = await fetch(`${url}?${new URLSearchParams({ duration: period.value })}`,
            { headers: { Accept: "application/json" } });
          if (!response.ok || mine !== asked) return;
          const answer = await response.json();
          help.textContent = answer.words ? `${answer.words}. ${base}` : base;
        } catch (error) {
          // offline: the help stays as it was
        }
      }, 250));
    }
    const type = form.elements.namedItem("type");
    const choice = field("window");
    if (type && choice) {
      const relabel = () => {
        const option = choice.querySelector('option[value=""]');
        if (option) {
          option.textContent = type.value === "recurring"
            ? "The scheduled period (since the previous run)" : "All data up to the run";
        }
      };
      type.addEventListener("change", relabel);
      relabel();
    }
  }

  function enhanceRow(row) {
    windowPickers(row);
    Object.keys(INPUT_OF).forEach((field) => {
      const input = row.querySelector(`input[data-picker="${field}"]`);
      if (input && !input.closest(".picker")) {
        const named = field !== "subtopic"; // channels and publishers have names
        if (named) namedField(input);
        combobox(input, field, (option) => {
          if (named) showName(input, option.value, option.name);
          else input.value = option.value;
          input.dispatchEvent(new Event("change", { bubbles: true }));
        });
      }
    });
    const select = row.querySelector('select[data-picker="name"]');
    if (select && !select.disabled) enhanceMetrics(select);
  }

  // The schedule in words, asked of the server (the one function that words schedules)
  // whenever a field that shapes the schedule changes.
  function liveScheduleWords() {
    const box = document.getElementById("schedule-words");
    const url = form.dataset.wordsUrl;
    if (!box || !url) return;
    const names = ["type", "schedule", "every", "at_minute", "at_time", "weekday", "day",
      "periodicity", "period_start", "timezone"];
    let asked = 0;
    const update = debounce(async () => {
      const params = new URLSearchParams();
      names.forEach((name) => {
        const field = form.elements.namedItem(name);
        if (field) params.set(name, field.value);
      });
      const mine = ++asked;
      try {
        const response = await fetch(`${url}?${params}`, { headers: { Accept: "application/json" } });
        if (!response.ok || mine !== asked) return;
        const answer = await response.json();
        box.querySelector("[data-words]").textContent = answer.words;
        box.querySelector("[data-periodicity]").textContent = answer.periodicity;
        box.hidden = !answer.words;
      } catch (error) {
        // offline: the words shown stay those of the last answer
      }
    }, 250);
    names.forEach((name) => {
      const field = form.elements.namedItem(name);
      if (!field) return;
      field.addEventListener("change", update);
      field.addEventListener("input", update);
    });
  }

  // "Preview" asks the same view (it saves nothing) and swaps the preview in, keeping what is
  // typed and where the page is. Anything but a preview (field errors) submits normally, so
  // the server shows its errors exactly as without this script.
  function inlinePreview() {
    const button = form.querySelector('button[name="preview"]');
    if (!button || !window.fetch || !window.DOMParser) return;
    button.addEventListener("click", async (event) => {
      event.preventDefault();
      const body = new FormData(form);
      body.set("preview", "1");
      button.disabled = true;
      let page;
      try {
        const response = await fetch(form.action || window.location.href, { method: "POST", body });
        page = response.status === 200 ? await response.text() : null;
      } catch (error) {
        page = null;
      }
      button.disabled = false;
      const answer = page && new DOMParser().parseFromString(page, "text/html");
      const fresh = answer && answer.getElementById("preview");
      if (!fresh) {
        form.requestSubmit(button);
        return;
      }
      // A preview is only made of a valid form: errors from an earlier submit are stale.
      const summary = document.getElementById("form-errors");
      if (summary) summary.remove();
      form.querySelectorAll(".errors, .errorlist").forEach((node) => node.remove());
      form.querySelectorAll(".has-error").forEach((node) => node.classList.remove("has-error"));
      form.querySelectorAll("[aria-invalid]").forEach((node) => node.removeAttribute("aria-invalid"));
      const old = document.getElementById("preview");
      if (old) old.replaceWith(fresh);
      else form.after(fresh);
      fresh.focus();
      fresh.scrollIntoView({ block: "start" });
    });
  }

  const items = form.querySelector('[data-formset="items"] [data-formset-list]');
  if (items && catalogUrl) {
    items.querySelectorAll("[data-formset-row]").forEach(enhanceRow);
    // Rows added by formset-rows.js get the pickers too.
    new MutationObserver((changes) => {
      changes.forEach((change) => change.addedNodes.forEach((node) => {
        if (node.nodeType === 1 && node.matches("[data-formset-row]")) enhanceRow(node);
      }));
    }).observe(items, { childList: true });
  }
  // The From/To and start help names the zone chosen on the page, not the stored one.
  function liveZoneHelp() {
    const zone = form.elements.namedItem("timezone");
    if (!zone) return;
    zone.addEventListener("change", () => {
      form.querySelectorAll("p.help").forEach((help) => {
        help.textContent = help.textContent.replace(
          /in the export's time zone \([^)]*\)(; a new time zone chosen above applies when you save)?/,
          `in the export's time zone (${zone.value})`);
      });
    });
  }

  // A preview's column of times shows its edge only while rows scroll beneath it.
  document.addEventListener("scroll", (event) => {
    const box = event.target;
    if (box instanceof Element && box.matches(".preview-scroll")) {
      box.classList.toggle("is-scrolled", box.scrollLeft > 0);
    }
  }, true);

  liveZoneHelp();
  liveScheduleWords();
  inlinePreview();
  focusOnLoad();
})();
