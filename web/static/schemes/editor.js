// The call-scheme editor (PRODUCT.md §4.1-4.2): time blocks → steps as cards → menus with items
// (nested blocks, up to the server's maximum level) and processing rules.
//
// The whole scheme lives in memory as the document the API takes; every edit changes it, and
// "Save" sends it in ONE PUT. The server validates the whole tree; its per-field errors
// ("blocks[0].steps[2].children.1.steps[0].target.id") are shown on the card they point at.
// Reordering: drag a card by its handle (HTML5 drag and drop, within its own list) or use the
// card's "Move up"/"Move down" buttons (keyboard). The final step of a block is not in the
// sortable list at all: it cannot be dragged, dropped after or removed.
//
// Everything the page needs comes from <script type="application/json" id="scheme-config">:
// the tree, the pickers' choices, the API address and every text already in the user's language.

const cfg = JSON.parse(document.getElementById("scheme-config").textContent);
const T = cfg.texts;
const root = document.getElementById("scheme-editor");
const saveButton = document.getElementById("save");
const saveState = document.getElementById("save-state");
const saveError = document.getElementById("save-error");
const announcer = document.getElementById("announce");
const nameInput = document.getElementById("scheme-name");
const descInput = document.getElementById("scheme-description");
const READONLY = !!cfg.readonly;
const MAX_LEVEL = cfg.max_level;
const PALETTE = ["greeting", "menu", "forward", "voicemail", "fax"];
const FINAL = ["hangup", "return_to_main"];
const ICONS = { greeting: "♪", menu: "☰", forward: "↪", voicemail: "✉", fax: "℻", return_to_main: "↩", hangup: "✆" };
const WITH_STEPS = ["no_input", "other_input", "wrong_input", "wrong_password"];
const DRAG_TYPE = "application/x-pult-scheme";

const scheme = cfg.scheme;
let dirty = false;
let errors = {};        // server field path → message
let localErrors = {};   // checks the editor makes itself before sending (duplicate digits)
let saving = false;
const collapsed = new Set();   // keys of menu cards folded by the user (a view setting, not saved)

// --- small helpers -------------------------------------------------------------------------------
function fmt(text, values) {
  return text.replace(/%\((\w+)\)s/g, (m, k) => (k in values ? String(values[k]) : m));
}

function newId() {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

let uidCounter = 0;
function uid(prefix) { uidCounter += 1; return `${prefix}-${uidCounter}`; }

/** Create an element: h("div", {class: "x", onclick: fn}, child, "text", ...). */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** A small padlock (inline SVG: no emoji font needed). */
function lockIcon(title) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  for (const [k, v] of Object.entries({ viewBox: "0 0 16 16", width: "14", height: "14", class: "lock-icon",
    "aria-hidden": "true" })) svg.setAttribute(k, v);
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", "M4 7V5a4 4 0 0 1 8 0v2h.5A1.5 1.5 0 0 1 14 8.5v5a1.5 1.5 0 0 1-1.5 1.5h-9A1.5 1.5 0 0 1 2 13.5v-5A1.5 1.5 0 0 1 3.5 7H4zm2 0h4V5a2 2 0 0 0-4 0v2z");
  path.setAttribute("fill", "currentColor");
  svg.append(path);
  return title ? h("span", { class: "lock", title }, svg) : svg;
}

function announce(text) {
  announcer.textContent = "";
  window.setTimeout(() => { announcer.textContent = text; }, 30);
}

// stable keys for things without ids (menu items, blocks) so focus survives a re-render
const keys = new WeakMap();
function keyOf(obj) {
  if (obj.id) return obj.id;
  if (!keys.has(obj)) keys.set(obj, newId());
  return keys.get(obj);
}

function markDirty() {
  if (READONLY) return;
  dirty = true;
  if (saveButton) saveButton.disabled = saving;
  saveState.textContent = T.unsaved;
  saveState.className = "save-state unsaved";
}

// --- the model -----------------------------------------------------------------------------------
function newStep(kind) {
  const step = { id: newId(), kind };
  if (kind === "greeting") Object.assign(step, { sound_id: null, wait_end: false });
  if (kind === "forward") Object.assign(step, { target: null, ring_time: null, queue: null });
  if (kind === "voicemail" || kind === "fax") step.emails = [];
  if (kind === "menu") {
    step.children = [{ digits: "1", password: null, steps: [{ id: newId(), kind: "hangup" }] }];
    step.rules = {};
  }
  return step;
}

/** Make sure every step list ends with a final step (the server says so too) and menus hold
 * their items as a list. */
function ensureFinal(steps) {
  if (!steps.length || !FINAL.includes(steps[steps.length - 1].kind)) {
    steps.push({ id: newId(), kind: "hangup" });
  }
  for (const step of steps) {
    if (step.kind !== "menu") continue;
    if (!Array.isArray(step.children)) {
      step.children = Object.entries(step.children || {}).map(([digits, c]) => ({ digits, ...c }));
    }
    step.rules = step.rules || {};
    step.children.forEach((c) => { c.steps = c.steps || []; ensureFinal(c.steps); });
    Object.values(step.rules).forEach((r) => { if (r.steps) ensureFinal(r.steps); });
  }
}
scheme.blocks.forEach((b) => ensureFinal(b.steps));

function move(list, from, to) {
  if (to < 0 || to >= list.length || from === to) return false;
  const [item] = list.splice(from, 1);
  list.splice(to, 0, item);
  return true;
}

// --- rendering -----------------------------------------------------------------------------------
// Each sortable list (movable steps of a block/item/rule, items of a menu) is registered while
// rendering, so a drop finds its list and index by the dragged thing's key.
let registry = new Map();   // key → {list, index, limit}

function render(focusKey) {
  registry = new Map();
  const active = focusKey || (document.activeElement && document.activeElement.dataset.focus);
  const blocks = scheme.blocks;
  const out = [];
  blocks.forEach((block, i) => out.push(renderBlock(block, i, blocks.length)));
  if (!READONLY) {
    out.push(h("div", { class: "add-block" },
      h("button", { type: "button", class: "btn", "data-focus": "add-block", onclick: addBlock }, "＋ ", T.add_block)));
  }
  root.replaceChildren(...out);
  root.dataset.ready = "true";
  if (active) {
    let el = root.querySelector(`[data-focus="${CSS.escape(active)}"]`);
    if (el && el.disabled) {   // moved to the top or the bottom: keep focus on the card's other arrow
      const other = active.replace(/:(up|down)$/, (m, d) => (d === "up" ? ":down" : ":up"));
      el = root.querySelector(`[data-focus="${CSS.escape(other)}"]`) || el;
    }
    if (el) el.focus();
  }
}

function errorFor(path) {
  return localErrors[path] || errors[path] || null;
}

function errorBox(path, id) {
  const msg = errorFor(path);
  return msg ? h("p", { class: "field-error card-error", id, role: "alert" }, msg) : null;
}

function renderBlock(block, i, total) {
  const last = i === total - 1;
  const path = `blocks[${i}]`;
  const titleId = uid("block-title");
  const head = h("div", { class: "block-head" });
  const title = h("h2", { id: titleId, class: "block-title" },
    h("span", { class: "block-badge", "aria-hidden": "true" }, last ? "∞" : String(i + 1)),
    last ? T.block_any : `${T.block} ${i + 1}`);
  head.append(title);
  if (!last) {
    const selId = uid("schedule");
    const sel = picker("schedule", block.schedule_id, T.choose_schedule, {
      id: selId, "data-focus": `${keyOf(block)}:schedule`,
      "aria-invalid": errorFor(`${path}.schedule_id`) ? "true" : null,
    }, (v) => { block.schedule_id = v; });
    head.append(h("div", { class: "inline-field" }, h("label", { for: selId }, T.schedule), sel));
    if (!READONLY) {
      head.append(h("div", { class: "card-tools" },
        iconButton("↑", T.block_up, `${keyOf(block)}:up`, i === 0, () => { move(scheme.blocks, i, i - 1); markDirty(); render(); }),
        iconButton("↓", T.block_down, `${keyOf(block)}:down`, i >= total - 2, () => { move(scheme.blocks, i, i + 1); markDirty(); render(); }),
        iconButton("✕", T.remove_block, `${keyOf(block)}:remove`, false, () => {
          if (!window.confirm(T.remove_confirm)) return;
          scheme.blocks.splice(i, 1); markDirty(); render("add-block");
        }, "danger")));
    }
  }
  return h("section", { class: `time-block${last ? " any-time" : ""}`, "aria-labelledby": titleId, "data-path": path },
    head,
    h("p", { class: "hint block-hint" }, last ? T.block_any_hint : T.block_hint),
    errorBox(`${path}.schedule_id`), errorBox(path),
    renderSteps(block.steps, `${path}.steps`, 0, false));
}

/** A step list: the movable cards, the palette, then the fixed final card. */
function renderSteps(steps, path, level, nested) {
  const wrap = h("div", { class: `step-list lvl-${Math.min(level, 4)}`, "data-path": path });
  const movable = steps.length - 1;
  const ol = h("ol", { class: "steps" });
  for (let i = 0; i < movable; i += 1) {
    registry.set(keyOf(steps[i]), { list: steps, index: i, limit: movable });
    ol.append(renderStep(steps, i, `${path}[${i}]`, level, nested));
  }
  if (!movable) ol.append(h("li", { class: "empty-steps muted" }, T.empty_nested));
  wrap.append(ol);
  if (!READONLY) wrap.append(renderPalette(steps, level, nested, path));
  wrap.append(renderFinal(steps, path, nested));
  const err = errorBox(path);
  if (err) wrap.append(err);
  return wrap;
}

function renderPalette(steps, level, nested, path) {
  const note = h("p", { class: "palette-note", role: "alert", hidden: true });
  const buttons = PALETTE.map((kind) => h("button", {
    type: "button", class: "chip-btn", "data-kind": kind, "data-focus": `${path}:add:${kind}`,
    onclick: () => {
      if (kind === "menu" && level >= MAX_LEVEL) {   // a 5th level: refused, in the server's words
        note.textContent = cfg.depth_message;
        note.hidden = false;
        return;
      }
      const step = newStep(kind);
      steps.splice(steps.length - 1, 0, step);
      markDirty();
      render(`${step.id}:title`);
    },
  }, h("span", { class: "chip-icon", "aria-hidden": "true" }, ICONS[kind]), cfg.steps[kind]));
  if (nested) {
    buttons.push(h("button", {
      type: "button", class: "chip-btn", "data-kind": "return_to_main", "data-focus": `${path}:add:return_to_main`,
      disabled: steps[steps.length - 1].kind === "return_to_main",
      onclick: () => { steps[steps.length - 1] = { id: newId(), kind: "return_to_main" }; markDirty(); render(`${path}:final`); },
    }, h("span", { class: "chip-icon", "aria-hidden": "true" }, ICONS.return_to_main), cfg.steps.return_to_main));
  }
  return h("div", { class: "palette", role: "group", "aria-label": T.add_step },
    h("span", { class: "palette-label" }, T.add_step), ...buttons, note);
}

function renderFinal(steps, path, nested) {
  const i = steps.length - 1;
  const step = steps[i];
  const p = `${path}[${i}]`;
  const card = h("div", { class: "step-card final-card", "data-path": p, "data-kind": step.kind, tabindex: "-1",
    "data-focus": `${path}:finalcard`, "aria-label": `${cfg.steps[step.kind]} — ${T.final_fixed}`,
    onkeydown: (e) => {
      if (e.key === "Delete" || e.key === "Backspace") {   // the one step nobody may remove
        e.preventDefault();
        const note = card.querySelector(".final-note");
        note.textContent = cfg.final_message;
        note.classList.add("refused");
      }
    } });
  const icon = h("span", { class: "step-icon", "aria-hidden": "true" }, ICONS[step.kind]);
  if (nested && !READONLY) {
    const selId = uid("final");
    const sel = h("select", { id: selId, "data-focus": `${path}:final`, onchange: () => {
      steps[i] = { id: step.id || newId(), kind: sel.value }; markDirty(); render(`${path}:final`);
    } }, FINAL.map((k) => h("option", { value: k, selected: step.kind === k }, cfg.steps[k])));
    card.append(h("div", { class: "step-head" }, icon,
      h("label", { for: selId, class: "final-label" }, T.final_nested), sel,
      lockIcon(T.final_fixed)));
  } else {
    card.append(h("div", { class: "step-head" }, icon, h("h3", { class: "step-title" }, cfg.steps[step.kind]),
      lockIcon(T.final_fixed)));
  }
  card.append(h("p", { class: "hint final-note" }, T.final_fixed));
  const err = errorBox(p);
  if (err) { card.classList.add("has-error"); card.append(err); }
  return card;
}

function iconButton(symbol, label, focus, disabled, onclick, extra) {
  return h("button", { type: "button", class: `icon-btn${extra ? ` ${extra}` : ""}`, "aria-label": label, title: label,
    "data-focus": focus, disabled, onclick }, h("span", { "aria-hidden": "true" }, symbol));
}

function cardTools(list, index, limit, key, what, onRemove) {
  if (READONLY) return null;
  const moveTo = (to) => {
    if (!move(list, index, to)) return;
    markDirty();
    render(`${key}:${to < index ? "up" : "down"}`);
    announce(fmt(T.moved, { position: to + 1, total: limit }));
  };
  return h("div", { class: "card-tools" },
    iconButton("↑", `${T.move_up}: ${what}`, `${key}:up`, index === 0, () => moveTo(index - 1)),
    iconButton("↓", `${T.move_down}: ${what}`, `${key}:down`, index >= limit - 1, () => moveTo(index + 1)),
    iconButton("✕", `${T.remove}: ${what}`, `${key}:remove`, false, onRemove, "danger"));
}

/** Drag and drop within one list: the handle arms the card, the drop moves it. */
function sortable(el, key, handle) {
  if (READONLY) return;
  handle.addEventListener("mousedown", () => { el.draggable = true; });
  handle.addEventListener("mouseup", () => { el.draggable = false; });
  el.addEventListener("dragstart", (e) => {
    if (e.target !== el) return;
    e.stopPropagation();
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData(DRAG_TYPE, key);
    e.dataTransfer.setData("text/plain", key);
    el.classList.add("dragging");
    root.dataset.dragging = key;
  });
  el.addEventListener("dragend", () => {
    el.draggable = false;
    el.classList.remove("dragging");
    delete root.dataset.dragging;
    root.querySelectorAll(".drop-before, .drop-after").forEach((x) => x.classList.remove("drop-before", "drop-after"));
  });
  const sameList = (e) => {
    const dragged = root.dataset.dragging || e.dataTransfer.getData(DRAG_TYPE);
    const from = dragged && registry.get(dragged);
    const to = registry.get(key);
    return from && to && from.list === to.list ? { from, to, dragged } : null;
  };
  const after = (e) => {
    const r = el.getBoundingClientRect();
    return e.clientY > r.top + r.height / 2;
  };
  el.addEventListener("dragover", (e) => {
    const m = sameList(e);
    if (!m) return;   // another list's card: the event bubbles to the card that owns the drag
    e.preventDefault();
    e.stopPropagation();
    e.dataTransfer.dropEffect = "move";
    const a = after(e);
    el.classList.toggle("drop-after", a);
    el.classList.toggle("drop-before", !a);
  });
  el.addEventListener("dragleave", (e) => {
    if (!el.contains(e.relatedTarget)) el.classList.remove("drop-before", "drop-after");
  });
  el.addEventListener("drop", (e) => {
    const m = sameList(e);
    if (!m) return;
    e.preventDefault();
    e.stopPropagation();
    let to = m.to.index + (after(e) ? 1 : 0);
    if (m.from.index < to) to -= 1;
    delete root.dataset.dragging;
    if (move(m.from.list, m.from.index, to)) {
      markDirty();
      render(`${m.dragged}:handle`);
      announce(fmt(T.moved, { position: to + 1, total: m.from.limit }));
    } else {
      render();
    }
  });
}

function renderStep(steps, i, path, level, nested) {
  const step = steps[i];
  const key = keyOf(step);
  const title = cfg.steps[step.kind] || step.kind;
  const titleId = uid("step-title");
  const handle = h("span", { class: "handle", title: T.drag, "aria-hidden": "true", "data-focus": `${key}:handle` }, "⠿");
  const head = h("div", { class: "step-head" },
    READONLY ? null : handle,
    h("span", { class: "step-icon", "aria-hidden": "true" }, ICONS[step.kind] || "•"),
    h("h3", { class: "step-title", id: titleId, tabindex: "-1", "data-focus": `${key}:title` },
      h("span", { class: "step-no" }, `${i + 1}.`), " ", title),
    step.kind === "menu" ? h("span", { class: "level-badge" }, fmt(T.level, { level: level + 1 })) : null,
    step.kind === "menu" ? h("button", { type: "button", class: "icon-btn fold", "data-focus": `${key}:fold`,
      "aria-expanded": collapsed.has(key) ? "false" : "true", "aria-label": `${T.fold}: ${title}`, title: T.fold,
      onclick: () => { if (collapsed.has(key)) collapsed.delete(key); else collapsed.add(key); render(`${key}:fold`); } },
    h("span", { "aria-hidden": "true" }, collapsed.has(key) ? "▸" : "▾")) : null,
    cardTools(steps, i, steps.length - 1, key, title, () => {
      if ((step.kind === "menu") && !window.confirm(T.remove_confirm)) return;
      steps.splice(i, 1);
      markDirty();
      const movable = steps.length - 1;
      const next = i < movable ? steps[i] : (i > 0 ? steps[i - 1] : null);
      render(next ? `${keyOf(next)}:title` : `${path.replace(/\[\d+\]$/, "")}:add:greeting`);
    }));
  const card = h("li", { class: `step-card kind-${step.kind}`, "data-path": path, "data-kind": step.kind,
    "data-key": key, "aria-labelledby": titleId }, head);
  const body = h("div", { class: "step-body" });
  const fields = STEP_FIELDS[step.kind];
  if (step.kind === "menu" && collapsed.has(key)) {
    body.append(h("p", { class: "hint folded" }, step.children.map((c) => c.digits).join(" · ")));
  } else if (fields) {
    fields(step, body, path, level, key);
  }
  if (body.childNodes.length) card.append(body);
  const err = ownErrors(path);
  if (err.length) {
    card.classList.add("has-error");
    card.append(...err.map((m) => h("p", { class: "field-error card-error", role: "alert" }, m)));
  }
  sortable(card, key, handle);
  return card;
}

/** Errors that point into this card but not into a nested step list (those show on their cards). */
function ownErrors(path) {
  const out = [];
  const all = { ...errors, ...localErrors };
  for (const [field, msg] of Object.entries(all)) {
    if (field !== path && !field.startsWith(`${path}.`)) continue;
    const rest = field.slice(path.length);
    if (/\.(children\.[^.]*|rules\.\w+)\.steps(\[|$)/.test(rest)) continue;   // deeper card or list
    if (/^\.children\.[^.]*(\.password)?$/.test(rest)) continue;             // shown on the item row
    if (/^\.rules\.\w+/.test(rest)) continue;                                 // shown on the rule's row
    out.push(msg);
  }
  return out;
}

// --- fields of each kind ------------------------------------------------------------------------
function field(labelText, control, hint, wide) {
  return h("div", { class: `field${wide ? " field-wide" : ""}` }, h("label", { for: control.id }, labelText), control,
    hint ? h("p", { class: "hint" }, hint) : null);
}

function picker(kind, value, emptyText, attrs, onPick) {
  const items = cfg.pickers[kind] || [];
  const sel = h("select", { ...attrs, disabled: READONLY, onchange: () => { onPick(sel.value || null); markDirty(); } },
    h("option", { value: "" }, emptyText),
    items.map((p) => h("option", { value: p.id, selected: p.id === value }, p.hint ? `${p.name} (${p.hint})` : p.name)));
  if (value && !items.some((p) => p.id === value)) {   // deleted meanwhile: keep it visible
    sel.append(h("option", { value, selected: true }, `? ${value}`));
  }
  return sel;
}

function textInput(value, attrs, onValue) {
  const input = h("input", { ...attrs, value: value ?? "", disabled: READONLY,
    oninput: () => { onValue(input.value); markDirty(); } });
  return input;
}

function intOrRaw(text) {
  const t = String(text).trim();
  if (t === "") return null;
  return /^\d+$/.test(t) ? Number(t) : t;   // the server explains anything else in its own words
}

function invalid(path) { return errorFor(path) ? "true" : null; }

const STEP_FIELDS = {
  greeting(step, body, path, level, key) {
    const id = uid("sound");
    body.append(field(T.sound, picker("sound", step.sound_id, T.no_sound,
      { id, "data-focus": `${key}:sound`, "aria-invalid": invalid(`${path}.sound_id`) }, (v) => { step.sound_id = v; })));
    const cb = h("input", { type: "checkbox", id: uid("wait"), checked: !!step.wait_end, disabled: READONLY,
      "data-focus": `${key}:wait`, onchange: () => { step.wait_end = cb.checked; markDirty(); } });
    body.append(h("label", { class: "check" }, cb, T.wait_end));
  },

  forward(step, body, path, level, key) {
    const t = step.target;
    const typeId = uid("ttype");
    const typeSel = h("select", { id: typeId, disabled: READONLY, "data-focus": `${key}:ttype`,
      "aria-invalid": invalid(`${path}.target.type`), onchange: () => {
        const type = typeSel.value;
        step.target = type ? { type, ...(["group", "employee", "trunk"].includes(type) ? { id: null } : { value: "" }) } : null;
        if (type !== "group") step.queue = null;
        markDirty();
        render(`${key}:ttype`);
      } },
    h("option", { value: "" }, T.not_set),
    Object.entries(cfg.targets).map(([k, label]) => h("option", { value: k, selected: t && t.type === k }, label)));
    const row = h("div", { class: "field-row" }, field(T.target_type, typeSel));
    if (t && ["group", "employee", "trunk"].includes(t.type)) {
      const id = uid("target");
      row.append(field(T.target, picker(t.type, t.id, T.not_set,
        { id, "data-focus": `${key}:tid`, "aria-invalid": invalid(`${path}.target.id`) },
        (v) => { t.id = v; }), null, true));
    } else if (t) {
      const id = uid("tval");
      row.append(field(t.type === "extension" ? T.extension : T.number,
        textInput(t.value, { id, inputmode: "tel", autocomplete: "off", "data-focus": `${key}:tval`,
          "aria-invalid": invalid(`${path}.target.value`) }, (v) => { t.value = v; })));
    }
    const ringId = uid("ring");
    row.append(field(T.ring_time, textInput(step.ring_time ?? "", { id: ringId, inputmode: "numeric", class: "short",
      "data-focus": `${key}:ring`, "aria-invalid": invalid(`${path}.ring_time`) }, (v) => { step.ring_time = intOrRaw(v); }),
    T.ring_time_hint));
    body.append(row);
    if (t && t.type === "group") {
      const q = step.queue;
      const cb = h("input", { type: "checkbox", checked: !!q, disabled: READONLY, "data-focus": `${key}:qon`,
        onchange: () => { step.queue = cb.checked ? { enabled: true, max_wait: 600 } : null; markDirty(); render(`${key}:qon`); } });
      body.append(h("label", { class: "check" }, cb, T.queue_override));
      if (q) {
        const en = h("input", { type: "checkbox", checked: q.enabled !== false, disabled: READONLY, "data-focus": `${key}:qen`,
          onchange: () => { q.enabled = en.checked; markDirty(); } });
        const waitId = uid("qwait");
        body.append(h("div", { class: "field-row sub" }, h("label", { class: "check" }, en, T.queue_enabled),
          field(T.queue_max_wait, textInput(q.max_wait ?? "", { id: waitId, inputmode: "numeric", class: "short",
            "data-focus": `${key}:qwait`, "aria-invalid": invalid(`${path}.queue.max_wait`) }, (v) => { q.max_wait = intOrRaw(v); }))));
      }
    }
  },

  voicemail(step, body, path, level, key) { emailsField(step, body, path, key); },
  fax(step, body, path, level, key) { emailsField(step, body, path, key); },

  menu(step, body, path, level, key) {
    const menuLevel = level + 1;
    const items = step.children;
    const itemsBox = h("div", { class: "menu-items" }, h("h4", { class: "sub-title" }, T.menu_items));
    const ol = h("ol", { class: "items" });
    items.forEach((item, idx) => {
      registry.set(keyOf(item), { list: items, index: idx, limit: items.length });
      ol.append(renderItem(step, item, idx, path, menuLevel));
    });
    itemsBox.append(ol);
    if (!READONLY) {
      itemsBox.append(h("button", { type: "button", class: "btn btn-small", "data-focus": `${key}:add-item`, onclick: () => {
        const used = new Set(items.map((c) => c.digits));
        const digits = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0"].find((d) => !used.has(d)) || "";
        const item = { digits, password: null, steps: [{ id: newId(), kind: "hangup" }] };
        items.push(item);
        markDirty();
        render(`${keyOf(item)}:digits`);
      } }, "＋ ", T.add_item));
    }
    body.append(itemsBox);
    body.append(renderRules(step, path, menuLevel, key));
  },
};

function emailsField(step, body, path, key) {
  const id = uid("emails");
  const value = Array.isArray(step.emails) ? step.emails.join(", ") : (step.emails || "");
  body.append(field(T.emails, textInput(value, { id, type: "text", autocomplete: "off", "data-focus": `${key}:emails`,
    "aria-invalid": invalid(`${path}.emails`) }, (v) => { step.emails = v; }), T.emails_hint, true));
}

function renderItem(menu, item, idx, menuPath, menuLevel) {
  const key = keyOf(item);
  const items = menu.children;
  const ipath = `${menuPath}.children.${item.digits}`;
  const digitsId = uid("digits");
  const pwId = uid("pw");
  const what = `${T.item} ${item.digits}`;
  const handle = h("span", { class: "handle", title: T.drag, "aria-hidden": "true", "data-focus": `${key}:handle` }, "⠿");
  const cap = h("span", { class: "key-cap", "aria-hidden": "true" }, item.digits || "?");
  const digits = textInput(item.digits, { id: digitsId, class: "digits", inputmode: "numeric", maxlength: 4,
    autocomplete: "off", "data-focus": `${key}:digits`, "aria-invalid": invalid(ipath) },
  (v) => { item.digits = v.trim(); cap.textContent = item.digits || "?"; });
  const pw = textInput(item.password || "", { id: pwId, class: "password", inputmode: "numeric", maxlength: 10,
    autocomplete: "off", "data-focus": `${key}:pw`, "aria-invalid": invalid(`${ipath}.password`),
    "aria-describedby": `${pwId}-hint` }, (v) => { item.password = v.trim() || null; });
  const head = h("div", { class: "item-head" },
    READONLY ? null : handle,
    cap,
    h("div", { class: "inline-field" }, h("label", { for: digitsId }, T.digit), digits),
    h("div", { class: "inline-field" }, h("label", { for: pwId, class: "pw-label" }, lockIcon(), T.password), pw),
    h("span", { class: "visually-hidden", id: `${pwId}-hint` }, T.password_hint),
    cardTools(items, idx, items.length, key, what, () => {
      if (!window.confirm(T.remove_confirm)) return;
      items.splice(idx, 1); markDirty(); render(`${keyOf(menu)}:add-item`);
    }));
  const li = h("li", { class: "menu-item", "data-path": ipath, "data-digits": item.digits, "data-key": key }, head);
  for (const p of [ipath, `${ipath}.password`]) {
    const msg = errorFor(p);
    if (msg) { li.classList.add("has-error"); li.append(h("p", { class: "field-error card-error", role: "alert" }, msg)); }
  }
  li.append(h("div", { class: "nested" }, renderSteps(item.steps, `${ipath}.steps`, menuLevel, true)));
  sortable(li, key, handle);
  return li;
}

function renderRules(step, path, menuLevel, key) {
  const box = h("div", { class: "rules" }, h("h4", { class: "sub-title" }, T.rules));
  if (menuLevel >= MAX_LEVEL) {
    box.append(h("p", { class: "hint" }, cfg.rules_level_message));
    return box;
  }
  box.append(h("p", { class: "hint" }, T.rules_hint));
  const list = h("div", { class: "rule-list" });
  for (const [kind, label] of Object.entries(cfg.rules)) {
    const rule = step.rules[kind];
    const rpath = `${path}.rules.${kind}`;
    const cb = h("input", { type: "checkbox", checked: !!rule, disabled: READONLY, "data-focus": `${key}:rule:${kind}`,
      onchange: () => {
        if (cb.checked) {
          const r = {};
          if (kind === "disa") Object.assign(r, { min_length: 2, max_length: 5 });
          if (kind === "fax_detect") r.emails = [];
          if (kind === "no_input") r.timeout = 5;
          if (kind === "wrong_input" || kind === "wrong_password") r.count = 3;
          if (WITH_STEPS.includes(kind)) r.steps = [{ id: newId(), kind: "hangup" }];
          step.rules[kind] = r;
        } else {
          delete step.rules[kind];
        }
        markDirty();
        render(`${key}:rule:${kind}`);
      } });
    const row = h("div", { class: `rule${rule ? " on" : ""}`, "data-path": rpath, "data-rule": kind },
      h("label", { class: "check rule-toggle" }, cb, label));
    if (rule) {
      const params = h("div", { class: "field-row sub" });
      const num = (name, labelText) => {
        const id = uid(name);
        params.append(field(labelText, textInput(rule[name] ?? "", { id, inputmode: "numeric", class: "short",
          "data-focus": `${key}:rule:${kind}:${name}`, "aria-invalid": invalid(`${rpath}.${name}`) },
        (v) => { rule[name] = intOrRaw(v); })));
      };
      if (kind === "disa") { num("min_length", T.min_length); num("max_length", T.max_length); }
      if (kind === "no_input") num("timeout", T.timeout);
      if (kind === "wrong_input" || kind === "wrong_password") num("count", T.count);
      const schedId = uid("rule-schedule");   // the rule's own time period (none: at any time)
      params.append(field(T.rule_schedule, picker("schedule", rule.schedule_id || null, T.rule_any_time, {
        id: schedId, class: "rule-schedule", "data-focus": `${key}:rule:${kind}:schedule`,
        "aria-invalid": invalid(`${rpath}.schedule_id`) }, (v) => { rule.schedule_id = v; })));
      if (kind === "fax_detect") {
        const id = uid("fax");
        const value = Array.isArray(rule.emails) ? rule.emails.join(", ") : (rule.emails || "");
        params.append(field(T.emails, textInput(value, { id, "data-focus": `${key}:rule:fax:emails`,
          "aria-invalid": invalid(`${rpath}.emails`) }, (v) => { rule.emails = v; }), T.emails_hint, true));
      }
      if (params.childNodes.length) row.append(params);
      const own = Object.entries(errors).filter(([f]) => f === rpath || (f.startsWith(`${rpath}.`) && !f.startsWith(`${rpath}.steps`)));
      own.forEach(([, m]) => { row.classList.add("has-error"); row.append(h("p", { class: "field-error card-error", role: "alert" }, m)); });
      if (rule.steps) row.append(h("div", { class: "nested" }, renderSteps(rule.steps, `${rpath}.steps`, menuLevel, true)));
    }
    list.append(row);
  }
  box.append(list);
  return box;
}

// --- checks the editor makes itself --------------------------------------------------------------
function forEachMenu(steps, path, fn) {
  steps.forEach((s, i) => {
    if (s.kind !== "menu") return;
    const p = `${path}[${i}]`;
    fn(s, p);
    s.children.forEach((c) => forEachMenu(c.steps, `${p}.children.${c.digits}.steps`, fn));
    Object.entries(s.rules).forEach(([k, r]) => { if (r.steps) forEachMenu(r.steps, `${p}.rules.${k}.steps`, fn); });
  });
}

/** Two items with the same digits would silently become one on the server: refuse here. */
function checkDigits() {
  localErrors = {};
  scheme.blocks.forEach((b, i) => forEachMenu(b.steps, `blocks[${i}].steps`, (menu, p) => {
    const seen = new Map();
    menu.children.forEach((c) => seen.set(c.digits, (seen.get(c.digits) || 0) + 1));
    for (const [digits, n] of seen) {
      if (n > 1) localErrors[`${p}.children.${digits}`] = fmt(T.duplicate_digit, { digits });
    }
  }));
  return Object.keys(localErrors).length === 0;
}

// --- saving --------------------------------------------------------------------------------------
function payloadSteps(steps) {
  return steps.map((s) => {
    const out = { ...s };
    if (s.kind === "menu") {
      out.children = s.children.map((c) => ({ digits: c.digits, password: c.password || null, steps: payloadSteps(c.steps) }));
      out.rules = Object.fromEntries(Object.entries(s.rules).map(([k, r]) => [k, r.steps ? { ...r, steps: payloadSteps(r.steps) } : { ...r }]));
    }
    return out;
  });
}

function payload() {
  return {
    name: nameInput.value,
    description: descInput.value,
    blocks: scheme.blocks.map((b, i, all) => ({ schedule_id: i === all.length - 1 ? null : (b.schedule_id || null),
      steps: payloadSteps(b.steps) })),
  };
}

function xsrf() {
  const meta = document.querySelector('meta[name="xsrf-token"]');
  if (meta && meta.content) return meta.content;
  const m = document.cookie.match(/(?:^|;\s*)_xsrf=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : "";
}

function showTopFields() {
  for (const [input, name] of [[nameInput, "name"], [descInput, "description"]]) {
    const box = document.getElementById(`scheme-${name}-error`);
    const msg = errors[name];
    box.hidden = !msg;
    box.textContent = msg || "";
    if (msg) input.setAttribute("aria-invalid", "true"); else input.removeAttribute("aria-invalid");
  }
}

function focusFirstError() {
  const bad = root.querySelector(".has-error, [aria-invalid=true]") ||
    document.querySelector(".scheme-props [aria-invalid=true]");
  if (!bad) return;
  bad.scrollIntoView({ block: "center" });
  const target = bad.matches("input, select") ? bad
    : bad.querySelector("[aria-invalid=true]") || bad.querySelector("input, select, h3");
  if (target) target.focus({ preventScroll: true });
}

async function save() {
  if (READONLY || saving) return;
  saveError.hidden = true;
  if (!checkDigits()) {
    errors = {};
    render();
    saveError.textContent = T.save_failed;
    saveError.hidden = false;
    focusFirstError();
    return;
  }
  saving = true;
  saveButton.disabled = true;
  saveState.textContent = T.saving;
  saveState.className = "save-state";
  let response;
  let body = null;
  try {
    response = await fetch(cfg.api, {
      method: "PUT",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-XSRFToken": xsrf() },
      body: JSON.stringify(payload()),
    });
    body = await response.json().catch(() => null);
  } catch (err) {
    saving = false;
    saveButton.disabled = false;
    saveState.textContent = T.unsaved;
    saveState.className = "save-state unsaved";
    saveError.textContent = T.network_error;
    saveError.hidden = false;
    return;
  }
  saving = false;
  if (response.ok) {
    errors = {};
    dirty = false;
    saveButton.disabled = true;
    saveState.textContent = T.saved;
    saveState.className = "save-state saved";
    document.getElementById("scheme-title").textContent = nameInput.value.trim();
    showTopFields();
    render();
    return;
  }
  saveButton.disabled = false;
  const e = (body && body.error) || {};
  errors = e.fields || {};
  saveState.textContent = T.unsaved;
  saveState.className = "save-state unsaved";
  saveError.textContent = Object.keys(errors).length ? T.save_failed : fmt(T.save_error, { message: e.message || response.status });
  if (Object.keys(errors).length) {
    // a field the cards do not show (e.g. a deleted sound named by its kind) still gets its words
    const shown = Object.keys(errors).every((f) => f === "name" || f === "description" || /^blocks\[/.test(f));
    if (!shown) saveError.textContent = `${T.save_failed} ${Object.values(errors).join("; ")}`;
  }
  saveError.hidden = false;
  showTopFields();
  render();
  focusFirstError();
}

function addBlock() {
  const block = { schedule_id: null, steps: [{ id: newId(), kind: "hangup" }] };
  scheme.blocks.splice(scheme.blocks.length - 1, 0, block);
  markDirty();
  render(`${keyOf(block)}:schedule`);
}

// --- start ---------------------------------------------------------------------------------------
if (saveButton) saveButton.addEventListener("click", save);
for (const input of [nameInput, descInput]) input.addEventListener("input", markDirty);
document.addEventListener("keydown", (e) => {
  if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "s" && !READONLY) { e.preventDefault(); save(); }
});
window.addEventListener("beforeunload", (e) => {
  if (!dirty) return;
  e.preventDefault();
  e.returnValue = T.leave_warning;
});
if (READONLY) { saveState.textContent = T.readonly; }
render();
