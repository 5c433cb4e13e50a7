/**
 * What the bundler plugins need to translate bundler facts into build options: the output
 * directory as include mappings (never packing the archive itself), and the Python input files a
 * watcher must follow.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { IncludeMapping } from './options.js';
import { OPTIONS_WITH_FILE, isProjectNoise } from './pip.js';

function isInside(root: string, candidate: string): boolean {
  const relative = path.relative(root, candidate);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

/**
 * Maps the bundler's output directory to `to` inside site-packages. When the .pyz itself is
 * written inside that directory, the directories on the way to it are split into their entries
 * so the archive never packs itself (or a previous copy of itself).
 */
export function includeOutputDirectory(directory: string, to: string, archivePath: string): IncludeMapping[] {
  if (!isInside(directory, archivePath)) return [{ from: directory, to }];
  return readdirSync(directory)
    .sort()
    .map((name) => path.join(directory, name))
    .filter((entry) => entry !== archivePath && !path.basename(entry).startsWith(`${path.basename(archivePath)}.`))
    .flatMap((entry) => includeOutputDirectory(entry, `${to}/${path.basename(entry)}`, archivePath));
}


function filesBelow(target: string, skip: string): string[] {
  let stat;
  try {
    stat = statSync(target);
  } catch {
    return [];
  }
  if (stat.isFile()) return [target];
  if (!stat.isDirectory() || target === skip) return [];
  return readdirSync(target)
    .filter((name) => !isProjectNoise(name)) // the entries the pip cache key skips too
    .flatMap((name) => filesBelow(path.join(target, name), skip));
}

/**
 * Files whose edits change the archive without the bundler knowing: local projects and
 * requirement files named in the pip arguments, and `include` sources. Watch mode adds them to
 * the bundler's watcher so that editing a `.py` file rebuilds the .pyz. Prebuilt
 * `sitePackages` trees are not watched (thousands of files that a build step replaces whole).
 */
export function pythonInputFiles(pipArgs: readonly string[], include: readonly IncludeMapping[], cwd: string, outputDirectory: string): string[] {
  const candidates: string[] = [];
  pipArgs.forEach((argument, index) => {
    const previous = pipArgs[index - 1];
    if (previous !== undefined && OPTIONS_WITH_FILE.has(previous)) candidates.push(argument);
    else if (/^(-r|-c|--requirement=|--constraint=)./.test(argument)) candidates.push(argument.replace(/^(-r|-c|--requirement=|--constraint=)/, ''));
    else if (!argument.startsWith('-')) candidates.push(argument);
  });
  for (const mapping of include) candidates.push(mapping.from);
  const files = candidates.flatMap((candidate) => filesBelow(path.resolve(cwd, candidate), outputDirectory));
  return [...new Set(files)].sort();
}
