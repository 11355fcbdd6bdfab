// The identity of a task for deduplication: program text with comments, blank lines and trailing spaces
// removed (so cosmetic variants count as the same program), plus the input.
import type { Lang } from '../executor/types.js';

export function normalizeProgram(lang: Lang, program: string): string {
  const comment = lang === 'python' ? /#.*$/ : /\/\/.*$/;
  return program
    .split('\n')
    .map((line) => line.replace(comment, '').replace(/\s+$/, ''))
    .filter((line) => line.trim() !== '')
    .join('\n');
}

export function taskKey(lang: Lang, program: string, input: string): string {
  return `${lang}\u0000${normalizeProgram(lang, program)}\u0000${input.trim()}`;
}
