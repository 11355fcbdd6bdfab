import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inflateSync } from 'node:zlib';
import { renderPanels } from '../../src/plot/chart.js';
import { Canvas, crc32 } from '../../src/plot/png.js';

function chunks(png: Buffer): { type: string; data: Buffer }[] {
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const out: { type: string; data: Buffer }[] = [];
  for (let at = 8; at < png.length; ) {
    const len = png.readUInt32BE(at);
    const type = png.toString('ascii', at + 4, at + 8);
    const data = png.subarray(at + 8, at + 8 + len);
    assert.equal(png.readUInt32BE(at + 8 + len), crc32(png.subarray(at + 4, at + 8 + len)), `${type} CRC`);
    out.push({ type, data });
    at += 12 + len;
  }
  return out;
}

test('crc32 matches the standard check value', () => {
  assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
});

test('a canvas encodes to a valid PNG whose pixels decode back', () => {
  const cv = new Canvas(20, 10);
  cv.line(0, 5, 19, 5, [255, 0, 0], 1);
  const c = chunks(cv.encode());
  assert.deepEqual(
    c.map((x) => x.type),
    ['IHDR', 'IDAT', 'IEND'],
  );
  const ihdr = c[0]?.data as Buffer;
  assert.equal(ihdr.readUInt32BE(0), 20);
  assert.equal(ihdr.readUInt32BE(4), 10);
  const raw = inflateSync(c[1]?.data as Buffer);
  assert.equal(raw.length, (20 * 4 + 1) * 10);
  const pixel = (x: number, y: number) => [...raw.subarray(y * 81 + 1 + x * 4, y * 81 + 1 + x * 4 + 4)];
  for (let x = 0; x < 20; x++) assert.deepEqual(pixel(x, 5), [255, 0, 0, 255], `line pixel ${x}`);
  assert.deepEqual(pixel(3, 2), [255, 255, 255, 255]);
});

test('a chart draws its series inside the panel', () => {
  const png = renderPanels([
    {
      title: 'test',
      series: [
        {
          label: 'a',
          points: [
            [0, 0],
            [10, 1],
          ],
        },
      ],
      yRange: [0, 1],
    },
  ]);
  const c = chunks(png);
  const idat = c.find((x) => x.type === 'IDAT');
  assert.ok(idat);
  const raw = inflateSync(idat.data);
  const width = (c[0] as { data: Buffer }).data.readUInt32BE(0);
  // The series colour appears along the diagonal of the plot area.
  let blue = 0;
  for (let i = 0; i < raw.length; i += 4)
    if (raw[i] === 31 && raw[i + 1] === 119 && raw[i + 2] === 180) blue++;
  assert.ok(blue > 100, `${blue} series pixels`);
  assert.ok(width > 0);
});
