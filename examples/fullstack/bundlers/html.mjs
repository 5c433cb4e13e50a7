// What Vite does to index.html and public/, redone for the Rollup and esbuild builds of the
// example, so that all three bundlers emit the same file set.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** index.html with the dev entry `<script src="/src/main.ts">` replaced by the built files. */
export function renderIndexHtml(root, { script, stylesheet }) {
  let html = readFileSync(path.join(root, 'index.html'), 'utf8');
  html = html.replace(/<script type="module" src="\/src\/main\.ts"><\/script>/, `<script type="module" crossorigin src="/${script}"></script>`);
  if (stylesheet) html = html.replace('</head>', `  <link rel="stylesheet" crossorigin href="/${stylesheet}">\n  </head>`);
  return html;
}

/** Every file below public/ as [path relative to public/ ('/'-separated), bytes]. */
export function publicFiles(root) {
  const base = path.join(root, 'public');
  const walk = (directory) =>
    readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
      const full = path.join(directory, entry.name);
      return entry.isDirectory() ? walk(full) : [[path.relative(base, full).split(path.sep).join('/'), readFileSync(full)]];
    });
  return walk(base);
}
