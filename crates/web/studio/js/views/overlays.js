// Overlay settings: the lower-third bar, title + subtitle, logo, clock and ticker.

import { h, uid } from '../lib/dom.js';
import { checkbox, textInput, colorInput, slider, dropdown, sync, panel } from './controls.js';
import { CORNERS } from '../studio/scenes.js';
import { LOGO_TYPES } from '../studio/settings.js';

export function overlaysView(studio) {
  const scene = () => studio.state.scene;
  const set = (patch) => studio.updateScene(patch);

  const barShow = checkbox('Show lower-third bar', scene().bar.show, (show) => set({ bar: { show } }));
  // Typing text for the bar is asking to see it.
  const barText = textInput('Bar text', scene().bar.text, (text) => set({ bar: { text, show: scene().bar.show || text.length > 0 } }), { maxlength: 200 });
  const barColor = colorInput('Bar colour', scene().bar.color, (color) => set({ bar: { color } }));
  const barTextColor = colorInput('Bar text colour', scene().bar.textColor, (textColor) => set({ bar: { textColor } }));

  const titleShow = checkbox('Show title', scene().title.show, (show) => set({ title: { show } }));
  const title = textInput('Title', scene().title.title, (t) => set({ title: { title: t, show: scene().title.show || t.length > 0 } }), { maxlength: 200 });
  const subtitle = textInput('Subtitle', scene().title.subtitle, (t) => set({ title: { subtitle: t } }), { maxlength: 200 });

  const file = h('input', { type: 'file', id: uid('logo'), accept: LOGO_TYPES.join(',') });
  file.addEventListener('change', () => file.files[0] && studio.setLogo(file.files[0]));
  const logoPreview = h('img', { class: 'logo-preview', alt: 'Current logo', hidden: true });
  const removeLogo = h('button', { type: 'button', class: 'secondary', text: 'Remove logo', onClick: () => { file.value = ''; studio.removeLogo(); } });
  const logoPosition = dropdown('Logo position', CORNERS, scene().logo.position, (position) => set({ logo: { position } }));
  const logoSize = slider('Logo size', scene().logo.size, { min: 4, max: 40, format: (v) => `${v} % of the width` }, (size) => set({ logo: { size } }));

  const clock = checkbox('Show clock', scene().clock.show, (show) => set({ clock: { show } }));
  const tickerShow = checkbox('Show ticker', scene().ticker.show, (show) => set({ ticker: { show } }));
  const tickerText = textInput('Ticker text', scene().ticker.text, (text) => set({ ticker: { text, show: scene().ticker.show || text.length > 0 } }), { maxlength: 500 });

  const saved = h('p', { class: 'saved', role: 'status', 'aria-live': 'polite' });
  const errors = h('div', { class: 'errors' });

  studio.store.subscribe((s) => {
    sync(barShow.input, s.scene.bar.show, 'checked');
    sync(barText.input, s.scene.bar.text);
    sync(barColor.input, s.scene.bar.color);
    sync(barTextColor.input, s.scene.bar.textColor);
    sync(titleShow.input, s.scene.title.show, 'checked');
    sync(title.input, s.scene.title.title);
    sync(subtitle.input, s.scene.title.subtitle);
    sync(logoPosition.input, s.scene.logo.position);
    sync(clock.input, s.scene.clock.show, 'checked');
    sync(tickerShow.input, s.scene.ticker.show, 'checked');
    sync(tickerText.input, s.scene.ticker.text);
    if (saved.textContent !== s.saved) saved.textContent = s.saved;
    logoPreview.hidden = !s.logoUrl;
    removeLogo.disabled = !s.logoUrl;
    if (s.logoUrl && logoPreview.src !== s.logoUrl) logoPreview.src = s.logoUrl;
    const mine = s.errors.filter((e) => e.source === 'logo');
    if (errors.childElementCount !== mine.length) {
      errors.replaceChildren(...mine.map((e) => h('p', { class: 'alert', role: 'alert', text: e.message })));
    }
  });

  const group = (legend, ...children) => h('fieldset', {}, h('legend', { text: legend }), ...children);
  return panel('Overlays',
    group('Lower-third bar', barShow.el, barText.el, h('div', { class: 'row' }, barColor.el, barTextColor.el)),
    group('Title and subtitle', titleShow.el, title.el, subtitle.el),
    group('Logo',
      h('div', { class: 'field' }, h('label', { for: file.id, text: 'Logo image' }), file,
        h('small', { class: 'hint', text: 'PNG, JPEG, WebP or GIF, up to 512 KiB. Saved to your account.' })),
      h('div', { class: 'row' }, logoPreview, removeLogo),
      logoPosition.el, logoSize.el),
    group('Clock and ticker', clock.el, tickerShow.el, tickerText.el),
    saved, errors);
}
