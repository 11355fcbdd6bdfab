// The dashboard page, served as one self-contained document: inline script, style and SVG, nothing
// fetched from elsewhere. Its parts are files of their own beside this module's source (page.html,
// page.css, page.js), so each can be read, linted and opened as what it is; this joins them.
import { readFileSync } from 'node:fs';
import { packageFile } from '../util/package-files.js';

function part(name: string): string {
  return readFileSync(packageFile('src', 'dashboard', name), 'utf8');
}

/** `html` with the one `tag` in it replaced by `content` inline in a <`element`> element. */
function inline(html: string, tag: string, element: 'style' | 'script', content: string): string {
  const at = html.indexOf(tag);
  if (at === -1 || html.indexOf(tag, at + 1) !== -1) {
    throw new Error(`page.html must hold ${tag} exactly once`);
  }
  // Inline, the element ends at the first closing tag in its text, wherever that is.
  if (content.toLowerCase().includes(`</${element}`)) {
    throw new Error(`the text inlined as <${element}> must not contain </${element}`);
  }
  return `${html.slice(0, at)}<${element}>\n${content}</${element}>${html.slice(at + tag.length)}`;
}

/** The page as served: page.html with page.css and page.js inlined where it links them. */
export function dashboardPage(): string {
  const withStyle = inline(
    part('page.html'),
    '<link rel="stylesheet" href="page.css">',
    'style',
    part('page.css'),
  );
  return inline(withStyle, '<script src="page.js"></script>', 'script', part('page.js'));
}
