// The PNG encoder and rasteriser: files decode (signature, CRCs, IDAT inflating to every pixel), and what
// is drawn lands on the pixels the geometry says.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { drawText, textWidth } from '../../src/plot/font.js';
import { Canvas, crc32 } from '../../src/plot/png.js';
import { decodePng } from './decode.js';

test('crc32 matches the standard check value', () => {
  assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
});

test('a canvas encodes to an 8-bit RGBA PNG whose pixels decode back exactly', () => {
  const cv = new Canvas(20, 10);
  cv.line(0, 5, 19, 5, [255, 0, 0], 1);
  cv.fillRect(2, 1, 3, 2, [0, 0, 255]);
  const png = decodePng(cv.encode());
  assert.deepEqual(png.chunkTypes, ['IHDR', 'IDAT', 'IEND']);
  assert.deepEqual([png.width, png.height, png.bitDepth, png.colorType], [20, 10, 8, 6]);
  assert.deepEqual([...png.pixels], [...cv.pixels]);
  for (let x = 0; x < 20; x++) assert.deepEqual(png.at(x, 5), [255, 0, 0, 255], `line pixel ${x}`);
  assert.deepEqual(png.at(3, 2), [0, 0, 255, 255]);
  assert.deepEqual(png.at(3, 3), [255, 255, 255, 255]);
});

test('a thick line is equally thick steep or shallow, and drawing off the canvas is clipped', () => {
  const cv = new Canvas(40, 40);
  cv.line(5, 5, 35, 5, [255, 0, 0], 3); // shallow
  cv.line(20, 10, 22, 38, [0, 128, 0], 3); // steep
  cv.line(-10, -10, 100, 100, [0, 0, 0], 1); // runs off both ends
  const red = (y: number) => cv.get(15, y)[0] === 255 && cv.get(15, y)[1] === 0;
  assert.deepEqual([3, 4, 5, 6, 7].map(red), [false, true, true, true, false]);
  const green = [17, 18, 19, 20, 21, 22, 23, 24].filter(
    (x) => cv.get(x, 24)[1] === 128 && cv.get(x, 24)[0] === 0,
  );
  assert.equal(green.length, 3, `steep line covers ${green}`);
  assert.deepEqual(cv.get(0, 0), [0, 0, 0]);
  assert.deepEqual(cv.get(39, 39), [0, 0, 0]);
});

test('a dashed line leaves gaps', () => {
  const cv = new Canvas(30, 3);
  cv.line(0, 1, 29, 1, [0, 0, 0], 1, 4);
  const on = Array.from({ length: 30 }, (_, x) => (cv.get(x, 1)[0] === 0 ? 1 : 0)).join('');
  assert.equal(on, '111100001111000011110000111100');
});

test('the bitmap font draws known glyphs at their width', () => {
  const lit = new Set<string>();
  const w = drawText((x, y) => lit.add(`${x},${y}`), '1', 10, 20, 1);
  assert.equal(w, textWidth('1', 1));
  // '1' is rows 010 110 010 010 111.
  const want = ['11,20', '10,21', '11,21', '11,22', '11,23', '10,24', '11,24', '12,24'];
  assert.deepEqual([...lit].sort(), want.sort());
  // Lower case draws as upper case; a character the font lacks draws as a space.
  const drawn = (text: string) => {
    const px = new Set<string>();
    drawText((x, y) => px.add(`${x},${y}`), text, 0, 0, 1);
    return [...px].sort();
  };
  assert.deepEqual(drawn('a'), drawn('A'));
  for (const ch of ['a', '%', '_']) assert.ok(drawn(ch).length > 0, ch);
  assert.deepEqual(drawn('~'), []);
  assert.equal(textWidth('abc', 2), 24);
});
