// A small PNG reader for the tests: checks the signature and every chunk's CRC, inflates IDAT and undoes
// the per-row filter byte (only type 0 is expected from our encoder), giving RGBA pixels back.
import assert from 'node:assert/strict';
import { inflateSync } from 'node:zlib';
import { crc32 } from '../../src/plot/png.js';

export interface DecodedPng {
  width: number;
  height: number;
  chunkTypes: string[];
  bitDepth: number;
  colorType: number;
  /** RGBA, row-major. */
  pixels: Buffer;
  at(x: number, y: number): [number, number, number, number];
}

export function decodePng(png: Buffer): DecodedPng {
  assert.deepEqual(
    [...png.subarray(0, 8)],
    [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
    'PNG signature',
  );
  const chunks: { type: string; data: Buffer }[] = [];
  for (let at = 8; at < png.length; ) {
    const len = png.readUInt32BE(at);
    const type = png.toString('ascii', at + 4, at + 8);
    const data = png.subarray(at + 8, at + 8 + len);
    assert.equal(png.readUInt32BE(at + 8 + len), crc32(png.subarray(at + 4, at + 8 + len)), `${type} CRC`);
    chunks.push({ type, data });
    at += 12 + len;
  }
  const ihdr = chunks[0];
  assert.ok(ihdr && ihdr.type === 'IHDR', 'IHDR comes first');
  const width = ihdr.data.readUInt32BE(0);
  const height = ihdr.data.readUInt32BE(4);
  const raw = inflateSync(Buffer.concat(chunks.filter((c) => c.type === 'IDAT').map((c) => c.data)));
  const stride = width * 4 + 1;
  assert.equal(raw.length, stride * height, 'inflated IDAT holds every pixel');
  const pixels = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    assert.equal(raw[y * stride], 0, `row ${y} filter type`);
    raw.copy(pixels, y * width * 4, y * stride + 1, (y + 1) * stride);
  }
  return {
    width,
    height,
    chunkTypes: chunks.map((c) => c.type),
    bitDepth: ihdr.data[8] as number,
    colorType: ihdr.data[9] as number,
    pixels,
    at: (x, y) => {
      const i = (y * width + x) * 4;
      return [pixels[i], pixels[i + 1], pixels[i + 2], pixels[i + 3]] as [number, number, number, number];
    },
  };
}
