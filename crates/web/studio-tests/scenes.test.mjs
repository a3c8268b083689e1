import { test } from 'node:test';
import assert from 'node:assert/strict';
import { placements, pipBox, fitRect, PIP_WIDTH } from '../studio/js/studio/scenes.js';

test('camera full covers the whole frame', () => {
  assert.deepEqual(placements('camera', 1280, 720), [{ source: 'camera', x: 0, y: 0, w: 1280, h: 720, fit: 'cover' }]);
});

test('picture-in-picture puts the camera in the chosen corner over the screen', () => {
  const [screen, camera] = placements('pip', 1280, 720, { hasScreen: true, corner: 'top-left' });
  assert.equal(screen.source, 'screen');
  assert.equal(camera.source, 'camera');
  assert.equal(camera.w, 1280 * PIP_WIDTH);
  assert.equal(camera.h, 180);
  assert.deepEqual([camera.x, camera.y], [38, 38]);
});

test('a bottom picture-in-picture box stays above the given bottom (the bar)', () => {
  const box = pipBox(1280, 605, 'bottom-right');
  assert.ok(box.y + box.h <= 605 - 38);
  assert.equal(box.x + box.w, 1280 - 38);
});

test('picture-in-picture without a screen still shows the camera box', () => {
  const out = placements('pip', 1280, 720, { hasScreen: false });
  assert.deepEqual(out.map((p) => p.source), ['camera']);
});

test('side by side stacks on a vertical output', () => {
  const [screen, camera] = placements('side', 720, 1280, { hasScreen: true });
  assert.equal(screen.w, 720);
  assert.equal(camera.y, 640);
});

test('slates and missing sources draw nothing', () => {
  assert.deepEqual(placements('brb', 1280, 720), []);
  assert.deepEqual(placements('screen', 1280, 720, { hasScreen: false }), []);
});

test('cover crops to the box aspect; contain letterboxes', () => {
  const cover = fitRect(1280, 720, { x: 0, y: 0, w: 720, h: 1280 }, 'cover');
  assert.equal(Math.round(cover.sw), 405);
  assert.equal(cover.sh, 720);
  const contain = fitRect(1920, 1080, { x: 0, y: 0, w: 1280, h: 1280 }, 'contain');
  assert.equal(contain.dw, 1280);
  assert.equal(contain.dh, 720);
  assert.equal(contain.dy, 280);
});
