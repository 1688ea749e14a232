import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { graphemes, labelText, shorten, LABEL_MAX_GRAPHEMES } from '../../pipeline/layout/labelText.ts';

test('plain names pass unchanged', () => {
  assert.is(labelText('Ada Lovelace'), 'Ada Lovelace');
  assert.is(labelText('  José  Álvarez '), 'José Álvarez');
});

test('newlines, NUL and other controls become spaces or vanish; one line remains', () => {
  assert.is(labelText('Ada\nLovelace'), 'Ada Lovelace');
  assert.is(labelText('Ada\u0000\u0007Love'), 'Ada Love');
  assert.is(labelText('a\r\n\tb'), 'a b');
  assert.not.match(labelText('x\u2028y'), /\u2028/);
});

test('bidi overrides are removed (no spoofed reading order)', () => {
  assert.is(labelText('user\u202Egnp.exe'), 'usergnp.exe');
});

test('combining-mark floods are capped per grapheme; ordinary accents stay', () => {
  const zalgo = 'Z' + '\u0301'.repeat(60) + 'a';
  const out = labelText(zalgo);
  assert.ok([...out].length <= 6, out);
  assert.is(labelText('e\u0301'), '\u00e9'); // NFC
});

test('emoji sequences stay whole graphemes', () => {
  const family = '👩‍👩‍👧';
  assert.is(graphemes(labelText(`${family} team`))[0], family);
});

test('long names are cut at a grapheme boundary with an ellipsis', () => {
  const long = 'Wolfeschlegelsteinhausenbergerdorffvoralternwarengewissenhaftschaferswessen';
  const out = labelText(long);
  assert.is(graphemes(out).length, LABEL_MAX_GRAPHEMES);
  assert.ok(out.endsWith('…'));
  const emoji = '😀'.repeat(50);
  assert.ok(labelText(emoji).endsWith('…'));
  assert.not.match(labelText(emoji), /\uD83D$/); // no half surrogate pair before the ellipsis
});

test('markup is text, not markup (escaping is the renderer\'s job, nothing is dropped)', () => {
  assert.is(labelText('<b>Bob</b> & "Co"'), '<b>Bob</b> & "Co"');
});

test('empty or invisible names become Guest', () => {
  assert.is(labelText(''), 'Guest');
  assert.is(labelText('\u0000\n\u202E'), 'Guest');
});

test('shorten cuts further for labels wider than their tile', () => {
  assert.is(shorten('Ada Lovelace', 5), 'Ada L…');
  assert.is(shorten('Ada', 10), 'Ada');
});

test.run();
