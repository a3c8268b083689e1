// Camera, microphone and screen pickers, mute, volumes and level meters.

import { h } from '../lib/dom.js';
import { dropdown, setOptions, slider, meter, panel } from './controls.js';

const percent = (v) => `${Math.round(v * 100)} %`;

export function sourcesView(studio) {
  const s = studio.state;
  const camera = dropdown('Camera', [], s.cameraId, (id) => studio.selectCamera(id));
  const microphone = dropdown('Microphone', [], s.microphoneId, (id) => studio.selectMicrophone(id));
  const share = h('button', { type: 'button', class: 'secondary', onClick: () => studio.toggleScreen() });
  const mute = h('button', { type: 'button', class: 'secondary', 'aria-pressed': 'false', text: 'Mute microphone' });
  mute.addEventListener('click', () => studio.setMuted(!studio.state.muted));
  const micVolume = slider('Microphone volume', s.volumes.microphone, { min: 0, max: 2, step: 0.05, format: percent }, (v) => studio.setVolume('microphone', v));
  const screenVolume = slider('Screen audio volume', s.volumes.screen, { min: 0, max: 2, step: 0.05, format: percent }, (v) => studio.setVolume('screen', v));
  const micLevel = meter('Microphone level');
  const screenLevel = meter('Screen audio level');
  const programLevel = meter('Program level');
  studio.levels.subscribe((levels) => {
    micLevel.set(levels.microphone ?? -60);
    screenLevel.set(levels.screen ?? -60);
    programLevel.set(levels.program ?? -60);
  });
  const errors = h('div', { class: 'errors' });

  const alerts = (state) => state.errors.filter((e) => ['camera', 'microphone', 'screen'].includes(e.source));
  let devicesKey = '';
  let errorsKey = '';
  const render = (state) => {
    // Rebuild the option lists only when they changed: a rebuild closes an open dropdown.
    const key = JSON.stringify([state.cameras.map((d) => d.deviceId + d.label),
      state.microphones.map((d) => d.deviceId + d.label), state.cameraId, state.microphoneId]);
    if (key !== devicesKey) {
      devicesKey = key;
      const label = (d, i, kind) => d.label || `${kind} ${i + 1}`;
      setOptions(camera.input, [['none', 'No camera'], ...state.cameras.map((d, i) => [d.deviceId, label(d, i, 'Camera')])], state.cameraId);
      setOptions(microphone.input, [['none', 'No microphone'], ...state.microphones.map((d, i) => [d.deviceId, label(d, i, 'Microphone')])], state.microphoneId);
    }
    share.textContent = state.sharing ? 'Stop sharing' : 'Share screen';
    mute.setAttribute('aria-pressed', String(state.muted));
    mute.classList.toggle('active', state.muted);
    screenVolume.input.disabled = !state.sharing;
    const mine = alerts(state);
    const messages = mine.map((e) => e.message).join('\n');
    if (messages !== errorsKey) {
      errorsKey = messages;
      errors.replaceChildren(...mine.map((e) => h('p', { class: 'alert', role: 'alert', text: e.message })));
    }
  };
  studio.store.subscribe(render);
  render(s);
  return panel('Sources',
    camera.el,
    microphone.el,
    h('div', { class: 'row' }, mute, micLevel.el),
    micVolume.el,
    h('div', { class: 'row' }, share, screenLevel.el),
    screenVolume.el,
    h('div', { class: 'row program' }, h('span', { class: 'group-label', text: 'Program' }), programLevel.el),
    errors);
}
