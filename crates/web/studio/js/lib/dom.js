// Building DOM from code without innerHTML: nothing a user typed is ever parsed as markup.

/**
 * Creates an element. `attrs` keys: `class`, `text`, `on<Event>` listeners, `dataset`,
 * boolean attributes as true/false, anything else as an attribute.
 * @param {string} tag
 * @param {Record<string, any>} [attrs]
 * @param {...(Node|string|null|undefined|false)} children
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === 'value' || key === 'checked' || key === 'selected') el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

/** Replaces all children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

let nextId = 0;
/** A document-unique id, for label/aria wiring. */
export function uid(prefix = 'id') {
  nextId += 1;
  return `${prefix}-${nextId}`;
}

/** A labelled form field: `<label>` + control, wired by id. */
export function field(labelText, control, hint) {
  control.id ||= uid('field');
  const parts = [h('label', { for: control.id, text: labelText }), control];
  if (hint) {
    const hintEl = h('small', { class: 'hint', id: uid('hint'), text: hint });
    control.setAttribute('aria-describedby', hintEl.id);
    parts.push(hintEl);
  }
  return h('div', { class: 'field' }, ...parts);
}
