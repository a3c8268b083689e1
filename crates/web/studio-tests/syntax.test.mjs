// Every module of the studio parses as an ES module (no build step catches typos for us).
// Run with --experimental-vm-modules (crates/web/tests/studio_modules.rs does).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import vm from 'node:vm';

const root = new URL('../studio/js/', import.meta.url).pathname;

function modules(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? modules(path) : name.endsWith('.js') ? [path] : [];
  });
}

test('every studio module parses as an ES module', () => {
  const files = modules(root);
  assert.ok(files.length > 20, `found only ${files.length} modules`);
  for (const file of files) {
    assert.doesNotThrow(() => new vm.SourceTextModule(readFileSync(file, 'utf8'), { identifier: file }), file);
  }
});

test('no module is longer than 400 lines', () => {
  for (const file of modules(root)) {
    const lines = readFileSync(file, 'utf8').split('\n').length;
    assert.ok(lines <= 400, `${file} has ${lines} lines`);
  }
});
