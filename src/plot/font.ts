// A 3x5 bitmap font for chart labels: digits, upper-case letters (lower case is drawn as upper case)
// and a little punctuation; anything else draws as a space. Each glyph is five rows of three bits, most
// significant bit on the left.
const GLYPHS: Record<string, number[]> = {
  '0': [7, 5, 5, 5, 7],
  '1': [2, 6, 2, 2, 7],
  '2': [7, 1, 7, 4, 7],
  '3': [7, 1, 7, 1, 7],
  '4': [5, 5, 7, 1, 1],
  '5': [7, 4, 7, 1, 7],
  '6': [7, 4, 7, 5, 7],
  '7': [7, 1, 1, 1, 1],
  '8': [7, 5, 7, 5, 7],
  '9': [7, 5, 7, 1, 7],
  A: [2, 5, 7, 5, 5],
  B: [6, 5, 6, 5, 6],
  C: [3, 4, 4, 4, 3],
  D: [6, 5, 5, 5, 6],
  E: [7, 4, 6, 4, 7],
  F: [7, 4, 6, 4, 4],
  G: [3, 4, 5, 5, 3],
  H: [5, 5, 7, 5, 5],
  I: [7, 2, 2, 2, 7],
  J: [1, 1, 1, 5, 2],
  K: [5, 5, 6, 5, 5],
  L: [4, 4, 4, 4, 7],
  M: [5, 7, 7, 5, 5],
  N: [6, 5, 5, 5, 5],
  O: [2, 5, 5, 5, 2],
  P: [6, 5, 6, 4, 4],
  Q: [2, 5, 5, 6, 3],
  R: [6, 5, 6, 5, 5],
  S: [3, 4, 2, 1, 6],
  T: [7, 2, 2, 2, 2],
  U: [5, 5, 5, 5, 7],
  V: [5, 5, 5, 5, 2],
  W: [5, 5, 7, 7, 5],
  X: [5, 5, 2, 5, 5],
  Y: [5, 5, 2, 2, 2],
  Z: [7, 1, 2, 4, 7],
  '.': [0, 0, 0, 0, 2],
  '%': [5, 1, 2, 4, 5],
  '-': [0, 0, 7, 0, 0],
  '/': [1, 1, 2, 4, 4],
  ':': [0, 2, 0, 2, 0],
  '(': [1, 2, 2, 2, 1],
  ')': [4, 2, 2, 2, 4],
  '+': [0, 2, 7, 2, 0],
  '=': [0, 7, 0, 7, 0],
  ',': [0, 0, 0, 2, 4],
  _: [0, 0, 0, 0, 7],
  '<': [1, 2, 4, 2, 1],
  '>': [4, 2, 1, 2, 4],
  '[': [3, 2, 2, 2, 3],
  ']': [6, 2, 2, 2, 6],
  '?': [7, 1, 2, 0, 2],
  '!': [2, 2, 2, 0, 2],
  "'": [2, 2, 0, 0, 0],
  '#': [5, 7, 5, 7, 5],
  '*': [5, 2, 7, 2, 5],
  ' ': [0, 0, 0, 0, 0],
};

/** Width in pixels of `text` drawn at `scale` (glyphs are 3 wide plus 1 of spacing). */
export function textWidth(text: string, scale = 2): number {
  return [...text].length * 4 * scale;
}

/** Draw text with its top-left corner at (x, y), each font pixel `scale` pixels wide. Returns the width. */
export function drawText(
  set: (x: number, y: number) => void,
  text: string,
  x: number,
  y: number,
  scale = 2,
): number {
  // Whole pixels, so every glyph has the same shape wherever it lands.
  let cx = Math.round(x);
  const top = Math.round(y);
  for (const ch of text.toUpperCase()) {
    const rows = GLYPHS[ch] ?? (GLYPHS[' '] as number[]);
    rows.forEach((bits, r) => {
      for (let c = 0; c < 3; c++) {
        if (bits & (4 >> c))
          for (let dy = 0; dy < scale; dy++)
            for (let dx = 0; dx < scale; dx++) set(cx + c * scale + dx, top + r * scale + dy);
      }
    });
    cx += 4 * scale;
  }
  return cx - Math.round(x);
}
