// Small control builders the studio's panels share: every one has a visible label or an
// aria-label, so screen readers (and our browser tests) find it by name.

import { h, uid } from '../lib/dom.js';

export function checkbox(label, checked, onChange) {
  const input = h('input', { type: 'checkbox', id: uid('cb'), checked });
  input.addEventListener('change', () => onChange(input.checked));
  return { el: h('div', { class: 'check' }, input, h('label', { for: input.id, text: label })), input };
}

export function textInput(label, value, onInput, attrs = {}) {
  const input = h('input', { type: 'text', id: uid('tx'), value, ...attrs });
  input.addEventListener('input', () => onInput(input.value));
  return { el: h('div', { class: 'field' }, h('label', { for: input.id, text: label }), input), input };
}

export function colorInput(label, value, onInput) {
  const input = h('input', { type: 'color', id: uid('co'), value });
  input.addEventListener('input', () => onInput(input.value));
  return { el: h('div', { class: 'field field-color' }, h('label', { for: input.id, text: label }), input), input };
}

export function slider(label, value, { min, max, step = 1, format = String }, onInput) {
  const input = h('input', { type: 'range', id: uid('sl'), min, max, step, value });
  const shown = h('output', { for: input.id, text: format(value) });
  input.setAttribute('aria-valuetext', format(value));
  input.addEventListener('input', () => {
    shown.textContent = format(Number(input.value));
    input.setAttribute('aria-valuetext', format(Number(input.value)));
    onInput(Number(input.value));
  });
  return { el: h('div', { class: 'field field-range' }, h('label', { for: input.id, text: label }), input, shown), input };
}

export function number(label, value, { min, max, step = 1 }, onChange) {
  const input = h('input', { type: 'number', id: uid('nu'), min, max, step, value, inputmode: 'numeric' });
  input.addEventListener('change', () => onChange(Number(input.value)));
  return { el: h('div', { class: 'field' }, h('label', { for: input.id, text: label }), input), input };
}

export function dropdown(label, options, selected, onChange) {
  const input = h('select', { id: uid('se') });
  setOptions(input, options, selected);
  input.addEventListener('change', () => onChange(input.value));
  return { el: h('div', { class: 'field' }, h('label', { for: input.id, text: label }), input), input };
}

/** Replaces a select's options (device lists change as devices come and go). */
export function setOptions(select, options, selected) {
  select.replaceChildren(...options.map(([value, text]) => h('option', { value, text, selected: value === selected })));
}

/** Updates an input's value unless the user is typing in it. */
export function sync(input, value, prop = 'value') {
  if (document.activeElement !== input && input[prop] !== value) input[prop] = value;
}

/** A meter from -60 to 0 dBFS. */
export function meter(label) {
  const el = h('meter', { min: -60, max: 0, low: -18, high: -6, optimum: -30, value: -60, 'aria-label': label, class: 'level' });
  return {
    el,
    set(db) {
      el.value = db;
      el.setAttribute('aria-valuetext', db <= -60 ? 'silent' : `${Math.round(db)} dB`);
    },
  };
}

export function panel(title, ...children) {
  const id = uid('panel');
  return h('section', { class: 'panel', 'aria-labelledby': id }, h('h2', { id, text: title }), ...children);
}
