// The CORS configuration panel (ADMIN-API §5) over the admin API (/admin/v1).
//
// Sign in with a token; an operator picks a tenant, a tenant sees its own.
// The table is a list of rule cards, edited in place (the draft); Save sends
// the draft with If-Match (the ETag of what was loaded); a 400's problems go
// next to their fields and into the summary; a 412 keeps the draft and offers
// Reload. Try it evaluates a request against the draft; History lists the
// versions, shows what one changed, and rolls back to it.
//
// Every text from the API is set with textContent (dom.js): no markup.

import {call, errorText, tenantPath, token, versionOf} from "./api.js";
import {$, fill, h} from "./dom.js";
import {
  LABELS, METHODS, NORMALISED, commitPending, diff, newCard, problemPlace, sameRules, summary,
  toCard, toRule, words,
} from "./rules.js";

const TENANT_KEY = "websvc-admin-tenant";

const state = {
  role: null, // "operator" | "tenant"
  tenant: null,
  version: null, // the version the draft was loaded from (If-Match)
  cards: [],
  baseline: "[]", // JSON of the loaded rules, to tell unsaved edits
  notes: new Map(), // card uid -> Map(key or "" -> [{text, level}])
  historyOpen: false,
  selected: null, // {version, actor, at, action, rules} of the revision on show
  compare: "previous",
  busy: false,
};

// -- starting, signing in and out ----------------------------------------------

function show(which) {
  document.body.dataset.state = which;
  $("sign-in").hidden = which !== "signed-out";
  $("workspace").hidden = which !== "signed-in";
  $("who").hidden = which !== "signed-in";
}

async function start() {
  if (!token.get()) {
    show("signed-out");
    return;
  }
  let result;
  try {
    result = await call("GET", "whoami");
  } catch {
    signOut("The admin API cannot be reached. Try again.");
    return;
  }
  if (result.status === 401) {
    signOut("That token is not valid (or it was revoked).");
    return;
  }
  if (!result.ok) {
    signOut(`Cannot sign in: ${errorText(result)}`);
    return;
  }
  state.role = result.data.role;
  if (state.role === "operator") {
    $("who-text").textContent = "Signed in as an operator";
    await loadTenantList();
  } else {
    state.tenant = result.data.tenant;
    $("who-text").textContent = `Signed in as tenant ${state.tenant}`;
    $("picker").hidden = true;
    show("signed-in");
    await loadTenant();
  }
}

async function loadTenantList() {
  const result = await call("GET", "tenants");
  if (!result.ok) {
    signOut(`Cannot list the tenants: ${errorText(result)}`);
    return;
  }
  const names = result.data.tenants.map((tenant) => tenant.name);
  const select = $("tenant-select");
  fill(select, ...names.map((name) => h("option", {value: name}, name)));
  $("picker").hidden = false;
  show("signed-in");
  if (!names.length) {
    state.tenant = null;
    $("tenant-name").textContent = "(no tenants yet)";
    setSummary("info", h("p", {}, "There are no tenants yet: create one with PUT /admin/v1/tenants/NAME."));
    return;
  }
  const remembered = sessionStorage.getItem(TENANT_KEY);
  state.tenant = names.includes(remembered) ? remembered : names[0];
  select.value = state.tenant;
  await loadTenant();
}

function signOut(message = "") {
  token.clear();
  sessionStorage.removeItem(TENANT_KEY);
  Object.assign(state, {role: null, tenant: null, version: null, cards: [], baseline: "[]"});
  state.notes.clear();
  fill($("rules"));
  fill($("tenant-name"));
  fill($("try-result"));
  delete $("try-result").dataset.rules;
  $("summary").hidden = true;
  closeHistory();
  const error = $("sign-in-error");
  error.textContent = message;
  error.hidden = !message;
  $("token-input").value = "";
  show("signed-out");
  $("token-input").focus();
}

$("sign-in-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const value = $("token-input").value.trim();
  if (!value) {
    const error = $("sign-in-error");
    error.textContent = "Paste a token first.";
    error.hidden = false;
    $("token-input").focus();
    return;
  }
  token.set(value);
  $("token-input").value = "";
  start();
});

$("sign-out").addEventListener("click", () => signOut("Signed out."));

$("tenant-select").addEventListener("change", (event) => {
  const name = event.target.value;
  if (isDirty() && !confirm(`Discard the unsaved edits to ${state.tenant}'s rules?`)) {
    event.target.value = state.tenant;
    return;
  }
  state.tenant = name;
  state.selected = null; // a version number of the other tenant's history
  fill($("revision"));
  $("revision").hidden = true;
  fill($("try-result"));
  delete $("try-result").dataset.rules;
  sessionStorage.setItem(TENANT_KEY, name);
  loadTenant();
});

// -- loading a tenant's rules ------------------------------------------------------

/** GET the tenant's rules into the table (the draft is replaced). */
async function loadTenant(message = "") {
  const result = await request("GET", tenantPath(state.tenant, "cors"));
  if (!result) return false;
  if (!result.ok) {
    setSummary("error", h("p", {}, `Cannot load the rules: ${errorText(result)}`));
    return false;
  }
  state.version = versionOf(result.etag) ?? result.data.version;
  state.cards = result.data.rules.map(toCard);
  state.baseline = JSON.stringify(state.cards.map(toRule));
  state.notes.clear();
  $("tenant-name").textContent = state.tenant;
  $("version").textContent = `version ${state.version}`;
  clearSummary();
  renderRules();
  clearTryNotes();
  if (message) announce(message);
  if (state.historyOpen) await loadRevisions();
  return true;
}

/** One API call with the busy state and the answers every call treats alike (401, 503, no network). */
async function request(method, path, options) {
  setBusy(true);
  try {
    const result = await call(method, path, options);
    if (result.status === 401) {
      signOut("Your token is no longer valid (revoked?). Sign in again.");
      return null;
    }
    if (result.status === 503) {
      setSummary("error", h("p", {}, "The rule store is unavailable; nothing was written. Try again in a few seconds."));
      return null;
    }
    return result;
  } catch {
    setSummary("error", h("p", {}, "The admin API cannot be reached; nothing was sent. Check the connection and try again."));
    return null;
  } finally {
    setBusy(false);
  }
}

function setBusy(busy) {
  state.busy = busy;
  $("workspace").setAttribute("aria-busy", busy ? "true" : "false");
  for (const id of ["save", "try-button"]) $(id).disabled = busy;
}

// -- the table -------------------------------------------------------------------

function isDirty() {
  const typed = state.cards.some((card) => Object.values(card.pending).some((text) => text.trim()));
  return typed || JSON.stringify(state.cards.map(toRule)) !== state.baseline;
}

function updateDirty() {
  $("dirty").textContent = isDirty() ? "Unsaved changes" : "";
  markTryStale();
}

function renderRules() {
  fill($("rules"), ...state.cards.map((card, index) => ruleCard(card, index)));
  $("no-rules").hidden = state.cards.length > 0;
  updateDirty();
}

function edited(card) {
  const line = $(`${card.uid}-summary`);
  if (line) line.textContent = summary(toRule(card));
  updateDirty();
}

function notesOf(card, key) {
  return (state.notes.get(card.uid) && state.notes.get(card.uid).get(key)) || [];
}

/** The error and warning lines shown under a field (or at the top of a card for key ""). */
function noteSlot(card, key, id) {
  const notes = notesOf(card, key);
  return h(
    "div", {id, class: "notes", hidden: notes.length === 0},
    notes.map((note) => note.level === "error"
      ? h("p", {class: "field-error"}, h("strong", {}, "Error: "), note.text)
      : h("p", {class: "field-warning"}, h("strong", {}, "Warning: "), note.text)),
  );
}

function described(card, key, hintId) {
  return [hintId, `${card.uid}-${key}-notes`].filter(Boolean).join(" ");
}

function invalid(card, key) {
  return notesOf(card, key).some((note) => note.level === "error") ? "true" : undefined;
}

function ruleCard(card, index) {
  const id = (key) => `${card.uid}-${key}`;
  const last = index === state.cards.length - 1;
  return h(
    "li", {class: "rule card", id: card.uid, "aria-labelledby": id("title")},
    h("div", {class: "rule-head"},
      h("h2", {id: id("title"), class: "rule-title"},
        h("span", {class: "rule-number"}, `Rule ${index + 1}`),
        h("span", {class: "rule-summary", id: id("summary")}, summary(toRule(card)))),
      h("div", {class: "rule-actions"},
        h("button", {type: "button", disabled: index === 0, "data-action": "up", "aria-describedby": id("title"),
          onclick: () => move(card, -1, "up")}, "Move up"),
        h("button", {type: "button", disabled: last, "data-action": "down", "aria-describedby": id("title"),
          onclick: () => move(card, 1, "down")}, "Move down"),
        h("button", {type: "button", class: "danger", "aria-describedby": id("title"),
          onclick: () => removeCard(card)}, "Remove rule"))),
    noteSlot(card, "", id("-notes")),
    h("div", {class: "grid"},
      textField(card, "domain", "Domain", "app.example.com, *.example.com (its subdomains), localhost, or * with Any origin.", "wide"),
      portsField(card),
      protocolsField(card),
      methodsField(card),
      tagField(card, "request_headers", "Allowed request headers",
        "Besides the server's defaults. * allows any but Authorization. Type a name, press Enter."),
      tagField(card, "expose_headers", "Exposed response headers",
        "Response headers the page's script may read, besides the defaults."),
      tagField(card, "paths", "Paths",
        "An exact path (/api/items) or a prefix ending in /* (/api/*). None: every path."),
      checkField(card, "allow_credentials", "Allow credentials",
        "Cookies and HTTP auth: the page's fetch() uses credentials: \"include\"."),
      checkField(card, "allow_caching", "Allow caching",
        "Browsers may cache the preflight for Max age seconds; off: Max-Age 0."),
      textField(card, "max_age", "Max age", "Seconds, 0 to 86400 (one day); used with Allow caching."),
      moreField(card)),
  );
}

function textField(card, key, label, hint, extra = "") {
  const inputId = `${card.uid}-${key}`;
  const hintId = `${inputId}-hint`;
  return h("div", {class: `field ${extra}`},
    h("label", {for: inputId}, label),
    h("input", {
      id: inputId, type: "text", value: card[key], spellcheck: "false", autocomplete: "off",
      inputmode: key === "max_age" ? "numeric" : undefined,
      "aria-describedby": described(card, key, hintId), "aria-invalid": invalid(card, key),
      oninput: (event) => { card[key] = event.target.value; edited(card); },
    }),
    h("p", {class: "hint", id: hintId}, hint),
    noteSlot(card, key, `${inputId}-notes`));
}

function checkField(card, key, label, hint) {
  const inputId = `${card.uid}-${key}`;
  const hintId = `${inputId}-hint`;
  return h("div", {class: "field check-field"},
    h("label", {class: "check"},
      h("input", {
        id: inputId, type: "checkbox", checked: card[key],
        "aria-describedby": described(card, key, hintId), "aria-invalid": invalid(card, key),
        onchange: (event) => { card[key] = event.target.checked; edited(card); },
      }),
      label),
    h("p", {class: "hint", id: hintId}, hint),
    noteSlot(card, key, `${inputId}-notes`));
}

function protocolsField(card) {
  const legendId = `${card.uid}-protocols-legend`;
  const box = (flag, label) => h("label", {class: "check"},
    h("input", {
      type: "checkbox", id: `${card.uid}-${flag}`, checked: card[flag],
      "aria-describedby": described(card, "protocols"), "aria-invalid": invalid(card, "protocols"),
      onchange: (event) => { card[flag] = event.target.checked; edited(card); },
    }),
    label);
  return h("fieldset", {class: "field", "aria-labelledby": legendId},
    h("legend", {id: legendId}, "Origin scheme"),
    h("div", {class: "checks"}, box("http", "Allow HTTP"), box("https", "Allow HTTPS")),
    noteSlot(card, "protocols", `${card.uid}-protocols-notes`));
}

function portsField(card) {
  const inputId = `${card.uid}-ports`;
  const hintId = `${inputId}-hint`;
  const input = h("input", {
    id: inputId, type: "text", value: card.ports, spellcheck: "false", autocomplete: "off",
    disabled: card.anyPort, placeholder: card.anyPort ? "any port" : "default",
    "aria-describedby": described(card, "ports", hintId), "aria-invalid": invalid(card, "ports"),
    oninput: (event) => { card.ports = event.target.value; edited(card); },
  });
  return h("div", {class: "field"},
    h("label", {for: inputId}, "Ports"),
    input,
    h("label", {class: "check small"},
      h("input", {
        type: "checkbox", id: `${inputId}-any`, checked: card.anyPort,
        onchange: (event) => {
          card.anyPort = event.target.checked;
          input.disabled = card.anyPort;
          input.placeholder = card.anyPort ? "any port" : "default";
          edited(card);
        },
      }),
      "Any port"),
    h("p", {class: "hint", id: hintId},
      "Comma-separated (8080, 8443). Empty: 80 for http, 443 for https; any port for localhost and 127.0.0.1."),
    noteSlot(card, "ports", `${inputId}-notes`));
}

function methodsField(card) {
  const legendId = `${card.uid}-methods-legend`;
  const hintId = `${card.uid}-methods-hint`;
  const box = (method) => h("label", {class: "check method"},
    h("input", {
      type: "checkbox", value: method, checked: card.methods.includes(method),
      "aria-describedby": described(card, "methods", hintId), "aria-invalid": invalid(card, "methods"),
      onchange: (event) => {
        const on = event.target.checked;
        const others = card.methods.filter((m) => !METHODS.includes(m));
        card.methods = [...METHODS.filter((m) => (m === method ? on : card.methods.includes(m))), ...others];
        edited(card);
      },
    }),
    method);
  return h("fieldset", {class: "field wide methods", "aria-labelledby": legendId},
    h("legend", {id: legendId}, "Allowed methods"),
    h("div", {class: "checks"}, METHODS.map(box)),
    otherMethods(card),
    h("p", {class: "hint trap", id: hintId},
      "Methods are case-sensitive, except GET, HEAD, POST, PUT, DELETE and OPTIONS, which browsers ",
      "upper-case. A page's fetch(url, {method: \"patch\"}) sends \"patch\", which PATCH does not ",
      "match: write PATCH in the page, or add patch under Other methods."),
    noteSlot(card, "methods", `${card.uid}-methods-notes`));
}

function otherMethods(card) {
  const inputId = `${card.uid}-other_methods`;
  const others = () => card.methods.filter((m) => !METHODS.includes(m));
  return tagInput({
    inputId, label: "Other methods", pending: card.pending.other_methods,
    values: others,
    add: (word) => { if (!card.methods.includes(word)) card.methods.push(word); },
    remove: (word) => { card.methods = card.methods.filter((m) => m !== word); },
    typed: (text) => { card.pending.other_methods = text; },
    changed: () => edited(card),
    describedBy: `${card.uid}-methods-hint`,
  });
}

function tagField(card, key, label, hint) {
  const inputId = `${card.uid}-${key}`;
  const hintId = `${inputId}-hint`;
  return h("div", {class: "field"},
    tagInput({
      inputId, label, pending: card.pending[key],
      values: () => card[key],
      add: (word) => { if (!card[key].includes(word)) card[key].push(word); },
      remove: (word) => { card[key] = card[key].filter((value) => value !== word); },
      typed: (text) => { card.pending[key] = text; },
      changed: () => edited(card),
      describedBy: described(card, key, hintId),
      invalid: invalid(card, key),
    }),
    h("p", {class: "hint", id: hintId}, hint),
    noteSlot(card, key, `${inputId}-notes`));
}

/** A labelled text input whose words become removable tags on Enter (or a comma). */
function tagInput({inputId, label, pending, values, add, remove, typed, changed, describedBy, invalid: bad}) {
  const list = h("ul", {class: "tags", "aria-label": `${label}: current values`});
  const input = h("input", {
    id: inputId, type: "text", value: pending, spellcheck: "false", autocomplete: "off",
    placeholder: "type, then Enter", "aria-describedby": describedBy, "aria-invalid": bad,
  });
  const draw = () => {
    const current = values();
    fill(list, current.map((value) => h("li", {class: "tag"},
      h("span", {}, value),
      h("button", {
        type: "button", class: "tag-remove", "aria-label": `Remove ${value} from ${label}`,
        onclick: () => { remove(value); draw(); changed(); input.focus(); },
      }, "×"))));
    list.hidden = current.length === 0;
  };
  const commit = () => {
    for (const word of words(input.value)) add(word);
    input.value = "";
    typed("");
    draw();
    changed();
  };
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === ",") {
      event.preventDefault();
      commit();
    }
  });
  input.addEventListener("input", () => { typed(input.value); changed(); });
  draw();
  return h("div", {class: "tag-input"}, h("label", {for: inputId}, label), input, list);
}

function moreField(card) {
  const box = (key, label, hint) => h("div", {class: "field check-field"},
    h("label", {class: "check"},
      h("input", {
        type: "checkbox", id: `${card.uid}-${key}`, checked: card[key],
        "aria-describedby": described(card, key, `${card.uid}-${key}-hint`), "aria-invalid": invalid(card, key),
        onchange: (event) => { card[key] = event.target.checked; edited(card); },
      }),
      label),
    h("p", {class: "hint", id: `${card.uid}-${key}-hint`}, hint),
    noteSlot(card, key, `${card.uid}-${key}-notes`));
  const open = card.allow_any_origin || card.allow_private_network ||
    notesOf(card, "allow_any_origin").length > 0 || notesOf(card, "allow_private_network").length > 0;
  return h("details", {class: "more full", open},
    h("summary", {}, "More options"),
    h("div", {class: "grid inner"},
      box("allow_any_origin", "Any origin", "Only with the domain *: every origin (never with credentials)."),
      box("allow_private_network", "Allow private network",
        "Answer Chrome's Private Network Access preflights with Allow-Private-Network.")));
}

function move(card, step, direction) {
  const from = state.cards.indexOf(card);
  const to = from + step;
  if (to < 0 || to >= state.cards.length) return;
  state.cards.splice(from, 1);
  state.cards.splice(to, 0, card);
  renderRules();
  announce(`Rule moved to position ${to + 1}.`);
  // keep the keyboard where it was: on the same button of the moved card, or its twin
  const target = document.querySelector(`#${card.uid} [data-action="${direction}"]`);
  const other = document.querySelector(`#${card.uid} [data-action="${direction === "up" ? "down" : "up"}"]`);
  (target && !target.disabled ? target : other).focus();
}

function removeCard(card) {
  const index = state.cards.indexOf(card);
  state.cards.splice(index, 1);
  state.notes.delete(card.uid);
  renderRules();
  announce(`Rule ${index + 1} removed (not saved yet).`);
  const next = state.cards[Math.min(index, state.cards.length - 1)];
  if (next) document.querySelector(`#${next.uid} button.danger`).focus();
  else $("add-rule").focus();
}

$("add-rule").addEventListener("click", () => {
  const card = newCard();
  state.cards.push(card);
  renderRules();
  announce(`Rule ${state.cards.length} added (not saved yet).`);
  $(`${card.uid}-domain`).focus();
});

// -- problems and the summary ------------------------------------------------------

function clearSummary() {
  const box = $("summary");
  box.hidden = true;
  box.className = "summary";
  fill(box);
}

function setSummary(level, ...children) {
  const box = $("summary");
  box.className = `summary ${level}`;
  fill(box, ...children);
  box.hidden = false;
}

function announce(text) {
  const status = $("status");
  status.textContent = "";
  // a new text node each time, so a repeated message is read again
  window.setTimeout(() => { status.textContent = text; }, 30);
}

function shown(value) {
  if (value === null || value === undefined) return "";
  return typeof value === "number" ? `${value} ` : `${JSON.stringify(value)} `;
}

/**
 * Put each problem (or warning) next to its field: rules[i].key -> the card that
 * was at i when the rules were sent. Returns the summary's items; a path the
 * panel has no field for is in the summary only.
 */
function placeNotes(problems, sentUids, level) {
  const items = [];
  for (const problem of problems) {
    const text = `${shown(problem.value)}${problem.why}`;
    const place = problemPlace(problem.path);
    const cardUid = place ? sentUids[place.index] : undefined;
    if (cardUid === undefined) {
      items.push({text: `${problem.path}: ${text}`, target: null});
      continue;
    }
    const key = place.key || "";
    if (!state.notes.has(cardUid)) state.notes.set(cardUid, new Map());
    const notes = state.notes.get(cardUid);
    notes.set(key, [...(notes.get(key) || []), {text, level}]);
    const where = key ? LABELS[key] : "the rule";
    items.push({text: `Rule ${place.index + 1}, ${where}: ${text}`, target: fieldTarget(cardUid, key)});
  }
  return items;
}

function fieldTarget(cardUid, key) {
  const ids = {"": `${cardUid}-domain`, protocols: `${cardUid}-http`, methods: `${cardUid}-methods-legend`,
    allow_any_origin: `${cardUid}-allow_any_origin`, allow_private_network: `${cardUid}-allow_private_network`};
  return ids[key] || `${cardUid}-${key}`;
}

function problemList(items) {
  return h("ul", {class: "problems"}, items.map((item) => h("li", {},
    item.target
      ? h("a", {href: `#${item.target}`, onclick: (event) => { event.preventDefault(); focusField(item.target); }}, item.text)
      : item.text)));
}

function focusField(id) {
  const element = $(id);
  if (!element) return;
  const details = element.closest("details");
  if (details) details.open = true;
  const focusable = element.matches("input, button, select") ? element : element.closest("fieldset").querySelector("input");
  focusable.focus();
  focusable.scrollIntoView({block: "center"});
}

// -- save ------------------------------------------------------------------------------

$("save").addEventListener("click", save);

async function save() {
  if (!state.tenant || state.busy) return;
  state.cards.forEach(commitPending);
  const sentUids = state.cards.map((card) => card.uid);
  const rules = state.cards.map(toRule);
  const result = await request("PUT", tenantPath(state.tenant, "cors"), {body: {rules}, ifMatch: state.version});
  if (!result) return;
  state.notes.clear();
  if (result.ok) {
    const saved = versionOf(result.etag) ?? result.data.version;
    const warnings = result.data.warnings || [];
    await loadTenant();
    if (state.version !== saved) {
      // someone saved again right after us: the table shows their newer version
      announce(`Saved version ${saved}; version ${state.version} is newer and is shown.`);
    }
    const said = `Saved: version ${saved}.`;
    if (warnings.length) {
      const sent = state.cards.map((card) => card.uid);
      const items = placeNotes(warnings, sent, "warning");
      renderRules();
      setSummary("warning",
        h("h2", {}, `${said} ${warnings.length} warning${warnings.length === 1 ? "" : "s"} (saved anyway):`),
        problemList(items));
    }
    announce(warnings.length ? `${said} With ${warnings.length} warning${warnings.length === 1 ? "" : "s"}.` : said);
    $("status").dataset.saved = String(saved);
    return;
  }
  if (result.status === 400 && result.data && Array.isArray(result.data.problems)) {
    const items = placeNotes(result.data.problems, sentUids, "error");
    renderRules();
    const count = result.data.problems.length;
    setSummary("error",
      h("h2", {}, `Nothing was saved: ${count} problem${count === 1 ? "" : "s"} to fix.`),
      problemList(items));
    $("summary").focus();
    return;
  }
  if (result.status === 412) {
    await conflict(result.data && result.data.version);
    return;
  }
  renderRules();
  setSummary("error", h("p", {}, `Nothing was saved: ${errorText(result)}`));
  $("summary").focus();
}

/** Someone else saved first: say so, keep the draft, offer Reload and show what they changed. */
async function conflict(current) {
  const theirs = current ? `version ${current}` : "a newer version";
  const compared = h("div", {class: "conflict-diff"});
  setSummary("conflict",
    h("h2", {}, "Someone else saved these rules while you were editing."),
    h("p", {}, `They saved ${theirs}; you were editing version ${state.version}. Nothing of yours was `,
      "saved, and your edits are still in the table below. Reload loads their version and replaces ",
      "your edits (note what you want to keep first)."),
    h("div", {class: "actions"},
      h("button", {type: "button", class: "primary", id: "reload", onclick: () => loadTenant("Reloaded the latest version.")}, "Reload")),
    compared);
  renderRules();
  $("summary").focus();
  const latest = await call("GET", tenantPath(state.tenant, "cors")).catch(() => null);
  if (latest && latest.ok) {
    const entries = diff(latest.data.rules, state.cards.map(toRule));
    fill(compared,
      h("h3", {}, `Your edits compared with version ${latest.data.version}:`),
      diffList(entries, "Your edits equal their version."));
  }
}

// -- try it ---------------------------------------------------------------------------

const TRY_FIELDS = {origin: "try-origin", method: "try-method", path: "try-path", request_headers: "try-headers"};

function clearTryNotes() {
  for (const id of Object.values(TRY_FIELDS)) {
    const slot = $(`${id}-error`);
    slot.hidden = true;
    slot.textContent = "";
    $(id).removeAttribute("aria-invalid");
  }
}

$("try-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!state.tenant || state.busy) return;
  state.cards.forEach(commitPending);
  const sentUids = state.cards.map((card) => card.uid);
  const method = $("try-method").value.trim();
  const body = {
    origin: $("try-origin").value.trim(),
    method,
    path: $("try-path").value.trim() || "/",
    request_headers: $("try-headers").value.split(",").map((name) => name.trim()).filter(Boolean),
    preflight: $("try-preflight").checked,
    rules: state.cards.map(toRule),
  };
  clearTryNotes();
  const missing = ["origin", "method"].filter((key) => !body[key]);
  if (missing.length) {
    for (const key of missing) tryNote(key, "is required");
    $(TRY_FIELDS[missing[0]]).focus();
    return;
  }
  const result = await request("POST", tenantPath(state.tenant, "cors/evaluate"), {body});
  if (!result) return;
  const output = $("try-result");
  state.notes.clear();
  delete output.dataset.rules;
  output.classList.remove("is-stale");
  if (result.ok) {
    renderRules();
    if ($("summary").classList.contains("error")) clearSummary(); // the rules passed the checks now
    showVerdict(output, result.data, method);
    output.dataset.rules = JSON.stringify(body.rules);
    return;
  }
  if (result.status === 400 && result.data && Array.isArray(result.data.problems)) {
    const ruleProblems = [];
    for (const problem of result.data.problems) {
      const key = (problem.path || "").split(/[.[]/)[0];
      if (TRY_FIELDS[key]) tryNote(key, `${shown(problem.value)}${problem.why}`);
      else ruleProblems.push(problem);
    }
    if (ruleProblems.length) {
      const items = placeNotes(ruleProblems, sentUids, "error");
      setSummary("error", h("h2", {}, "The rules in the table have problems; fix them to try a request:"), problemList(items));
    }
    renderRules();
    fill(output, h("p", {class: "verdict refused"}, "Not evaluated: see the problems."));
    return;
  }
  fill(output, h("p", {class: "verdict refused"}, `Not evaluated: ${errorText(result)}`));
});

function tryNote(key, text) {
  const id = TRY_FIELDS[key];
  const slot = $(`${id}-error`);
  fill(slot, h("strong", {}, "Error: "), text);
  slot.hidden = false;
  $(id).setAttribute("aria-invalid", "true");
}

/** The Try it answer is for the rules it was asked with: say so when the table has changed since. */
function markTryStale() {
  const output = $("try-result");
  if (!output.dataset.rules) return;
  const stale = !sameRules(JSON.parse(output.dataset.rules), state.cards.map(toRule));
  if (stale === output.classList.contains("is-stale")) return;
  output.classList.toggle("is-stale", stale);
  const note = output.querySelector(".stale");
  if (note) note.remove();
  if (stale) output.prepend(h("p", {class: "stale"}, "The rules in the table changed since this answer: press Try it again."));
}

function showVerdict(output, answer, method) {
  const rule = answer.rule === null ? null : state.cards[answer.rule];
  const by = answer.rule === null
    ? "no rule matches this origin"
    : `rule ${answer.rule + 1}${rule ? ` (${rule.domain || "no domain"})` : ""} decided`;
  const what = answer.status === null
    ? "The request goes on to your API; websvc adds these headers to its answer:"
    : `websvc answers ${answer.status} itself, with these headers:`;
  const upper = method.toUpperCase();
  const trap = method !== upper && !NORMALISED.includes(upper);
  fill(output,
    h("p", {class: `verdict ${answer.allowed ? "allowed" : "refused"}`},
      h("strong", {}, answer.allowed ? "Allowed" : "Refused"), ` — ${by}.`),
    h("dl", {class: "facts"},
      h("dt", {}, "Reason"), h("dd", {}, h("code", {}, answer.reason)),
      answer.detail ? [h("dt", {}, "Detail"), h("dd", {}, answer.detail)] : null),
    h("p", {}, what),
    h("pre", {class: "headers"}, answer.headers.length
      ? answer.headers.map(([name, value]) => `${name}: ${value}`).join("\n")
      : "(no headers)"),
    trap ? h("p", {class: "field-warning"},
      `"${method}" is not upper-cased by browsers (only GET, HEAD, POST, PUT, DELETE and OPTIONS are): `,
      `a rule must list "${method}" exactly, or the page must send ${upper}.`) : null,
    h("p", {class: "hint"},
      "To watch a real browser do it, call fetch() from a page on that origin: this panel's own origin ",
      "is the admin API's, so a fetch from here would not be the page's request."));
}

// -- history -------------------------------------------------------------------------

$("history-button").addEventListener("click", async () => {
  if (state.historyOpen) {
    closeHistory();
    return;
  }
  state.historyOpen = true;
  $("history").hidden = false;
  $("history-button").setAttribute("aria-expanded", "true");
  await loadRevisions();
  $("history-heading").focus();
});

function closeHistory() {
  state.historyOpen = false;
  state.selected = null;
  $("history").hidden = true;
  $("history-button").setAttribute("aria-expanded", "false");
  fill($("revisions"));
  fill($("revision"));
  $("revision").hidden = true;
}

async function loadRevisions() {
  const result = await request("GET", tenantPath(state.tenant, "cors/revisions"));
  if (!result) return;
  if (!result.ok) {
    fill($("revisions"), h("li", {class: "field-error"}, `Cannot load the history: ${errorText(result)}`));
    return;
  }
  const selected = state.selected && state.selected.version;
  fill($("revisions"), result.data.revisions.map((revision) => h("li", {class: "revision-row"},
    h("button", {
      type: "button", class: "version-button", "aria-pressed": revision.version === selected ? "true" : "false",
      "data-version": String(revision.version), onclick: () => selectRevision(revision.version),
    }, `Version ${revision.version}`),
    h("span", {class: `action action-${revision.action}`}, revision.action),
    revision.version === state.version ? h("span", {class: "current"}, "current") : null,
    h("span", {class: "meta"}, `${revision.actor} · `, h("time", {datetime: revision.at, title: revision.at}, when(revision.at))),
    h("span", {class: "what"}, revision.summary))));
  if (selected) await selectRevision(selected, false);
}

function when(at) {
  const date = new Date(at);
  return Number.isNaN(date.getTime()) ? at : date.toLocaleString(undefined, {dateStyle: "medium", timeStyle: "medium"});
}

async function revisionRules(version) {
  if (version < 1) return {rules: []};
  const result = await request("GET", tenantPath(state.tenant, `cors/revisions/${version}`));
  if (!result) return null;
  if (result.status === 404) return {rules: []}; // before the first version: no rules
  return result.ok ? result.data : null;
}

async function selectRevision(version, focus = true) {
  const found = await revisionRules(version);
  if (!found || found.version === undefined) {
    fill($("revision"), h("p", {class: "field-error"}, `Cannot load version ${version}.`));
    $("revision").hidden = false;
    return;
  }
  state.selected = found;
  for (const button of document.querySelectorAll(".version-button")) {
    button.setAttribute("aria-pressed", button.dataset.version === String(version) ? "true" : "false");
  }
  await drawRevision();
  if (focus) $("revision-heading").focus();
}

async function drawRevision() {
  const revision = state.selected;
  const box = $("revision");
  let before;
  let label;
  if (state.compare === "draft") {
    before = state.cards.map(toRule);
    label = `Version ${revision.version} compared with the table (your draft): what rolling back would change.`;
  } else {
    const previous = await revisionRules(revision.version - 1);
    before = previous ? previous.rules : [];
    label = `What version ${revision.version} changed from version ${revision.version - 1}:`;
  }
  const entries = diff(before, revision.rules);
  const isCurrent = revision.version === state.version;
  fill(box,
    h("h3", {id: "revision-heading", tabindex: "-1"}, `Version ${revision.version}`),
    h("p", {class: "meta"}, `${revision.action} by ${revision.actor}, ${when(revision.at)}; `,
      `${revision.rules.length} rule${revision.rules.length === 1 ? "" : "s"}.`),
    h("div", {class: "field compare"},
      h("label", {for: "compare-select"}, "Compare with"),
      h("select", {id: "compare-select", onchange: async (event) => { state.compare = event.target.value; await drawRevision(); $("compare-select").focus(); }},
        h("option", {value: "previous", selected: state.compare === "previous"}, "the version before it"),
        h("option", {value: "draft", selected: state.compare === "draft"}, "the table (your draft)"))),
    h("p", {class: "hint"}, label),
    diffList(entries, "No rule changed."),
    h("div", {class: "actions rollback"},
      h("button", {type: "button", class: "primary", id: "rollback", disabled: isCurrent,
        "aria-describedby": "rollback-note", onclick: () => rollback(revision.version)}, "Roll back"),
      h("p", {class: "hint", id: "rollback-note"}, isCurrent
        ? "This is the current version."
        : `Writes a new version whose rules equal version ${revision.version}'s, and reloads the table ` +
          "(unsaved edits in it are replaced).")));
  box.hidden = false;
}

function diffList(entries, none) {
  if (!entries.length) return h("p", {class: "diff-none"}, none);
  const sign = {added: "+", removed: "−", changed: "~", moved: "↕"};
  return h("ul", {class: "diff"}, entries.map((entry) => h("li", {class: `diff-${entry.kind}`},
    h("span", {class: "diff-sign", "aria-hidden": "true"}, sign[entry.kind]),
    h("div", {},
      h("strong", {}, entry.title),
      entry.lines.length ? h("ul", {}, entry.lines.map((line) => h("li", {}, line))) : null))));
}

async function rollback(version) {
  const result = await request("POST", tenantPath(state.tenant, "cors/rollback"), {body: {version}, ifMatch: state.version});
  if (!result) return;
  if (result.ok) {
    const made = versionOf(result.etag) ?? result.data.version;
    state.selected = null;
    fill($("revision"));
    $("revision").hidden = true;
    await loadTenant();
    announce(`Rolled back: version ${made} has the rules of version ${version}.`);
    $("status").dataset.saved = String(made);
    return;
  }
  if (result.status === 412) {
    await conflict(result.data && result.data.version);
    return;
  }
  setSummary("error", h("p", {}, `Nothing was rolled back: ${errorText(result)}`));
  $("summary").focus();
}

start();
