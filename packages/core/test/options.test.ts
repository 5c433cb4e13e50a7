import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseBuildArguments } from '../src/cli-arguments.js';
import { PyzError } from '../src/errors.js';
import { DEFAULT_LEVEL, DEFAULT_PYTHON, resolveOptions, type BuildOptions } from '../src/options.js';

const workspace = mkdtempSync(path.join(os.tmpdir(), 'pyz-options-'));
mkdirSync(path.join(workspace, 'site'));
afterAll(() => rmSync(workspace, { recursive: true, force: true }));

function resolveIn(options: Partial<BuildOptions>): ReturnType<typeof resolveOptions> {
  return resolveOptions({ output: 'app.pyz', sitePackages: ['site'], cwd: workspace, config: false, ...options } as BuildOptions, {});
}

function errorOf(run: () => unknown): PyzError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(PyzError);
    return error as PyzError;
  }
  throw new Error('expected a PyzError');
}

describe('resolveOptions', () => {
  it('fills every default', () => {
    const options = resolveIn({});
    expect(options.python).toBe(DEFAULT_PYTHON);
    expect(options.level).toBe(DEFAULT_LEVEL);
    expect(options.output).toBe(path.join(workspace, 'app.pyz'));
    expect(options.compressed).toBe(true);
    expect(options.sourceDateEpoch).toBeNull();
  });

  it('refuses an entry point without a module path, naming the value and the fix', () => {
    const error = errorOf(() => resolveIn({ entryPoint: 'app/main.py' }));
    expect(error.code).toBe('ENTRY_POINT_INVALID');
    expect(error.message).toContain('"app/main.py"');
    expect(error.message).toContain('fix:');
  });

  it.each(['app.main:main', 'app.main', 'app:obj.method', 'pkg_ü.mod:run'])('accepts entry point %s', (entryPoint) => {
    expect(resolveIn({ entryPoint }).entryPoint).toBe(entryPoint);
  });

  it('refuses -e together with -c (shiv silently runs the script)', () => {
    expect(errorOf(() => resolveIn({ entryPoint: 'a:b', consoleScript: 'flask' })).code).toBe('ENTRY_POINT_CONFLICT');
  });

  it('refuses a shebang longer than 128 bytes', () => {
    const error = errorOf(() => resolveIn({ python: `/opt/${'x'.repeat(130)}/python3` }));
    expect(error.code).toBe('SHEBANG_TOO_LONG');
  });

  it.each([['-t', 'x'], ['--target=x'], ['--editable', '.'], ['-d', 'x'], ['--download=x'], ['--user'], ['--prefix', 'x'], ['--prefix=/x'], ['-tfoo']])('refuses pip argument %s', (...pipArgs) => {
    const error = errorOf(() => resolveIn({ pipArgs }));
    expect(error.code).toBe('PIP_ARGUMENT_REFUSED');
    expect(error.message).toContain(pipArgs[0]);
  });

  it('refuses a missing --site-packages directory and an output that is a directory', () => {
    expect(errorOf(() => resolveIn({ sitePackages: ['nope'] })).code).toBe('SITE_PACKAGES_NOT_FOUND');
    expect(errorOf(() => resolveIn({ output: 'site' })).code).toBe('OUTPUT_IS_DIRECTORY');
  });

  it('takes timestamps from SOURCE_DATE_EPOCH, else a fixed date under --reproducible', () => {
    expect(resolveOptions({ output: 'a.pyz', sitePackages: ['site'], cwd: workspace, config: false }, { SOURCE_DATE_EPOCH: '1700000000' }).sourceDateEpoch).toBe(1_700_000_000);
    expect(resolveIn({ reproducible: true }).sourceDateEpoch).toBe(1_577_836_800);
    expect(errorOf(() => resolveOptions({ output: 'a.pyz', sitePackages: ['site'], cwd: workspace, config: false }, { SOURCE_DATE_EPOCH: 'yesterday' })).code).toBe('INVALID_OPTION');
  });

  it('validates levels', () => {
    expect(resolveIn({ level: 'max' }).level).toBe(12);
    expect(resolveIn({ compressed: false }).level).toBe(0);
    expect(errorOf(() => resolveIn({ level: 13 })).code).toBe('INVALID_OPTION');
  });
});

describe('[tool.pyz] in pyproject.toml', () => {
  it('supplies defaults that options override, and defaults the entry point to the only [project.scripts] entry', () => {
    const project = path.join(workspace, 'project');
    mkdirSync(path.join(project, 'site'), { recursive: true });
    writeFileSync(path.join(project, 'pyproject.toml'), '[project]\nname = "x"\n[project.scripts]\nx = "x.cli:main"\n[tool.pyz]\noutput-file = "dist/x.pyz"\nsite-packages = ["site"]\nlevel = 9\n');
    const fromConfig = resolveOptions({ cwd: project } as BuildOptions, {});
    expect(fromConfig.output).toBe(path.join(project, 'dist/x.pyz'));
    expect(fromConfig.level).toBe(9);
    expect(fromConfig.entryPoint).toBe('x.cli:main');
    const overridden = resolveOptions({ cwd: project, level: 3, consoleScript: 'other' } as BuildOptions, {});
    expect(overridden.level).toBe(3);
    expect(overridden.entryPoint).toBeNull();
    expect(overridden.consoleScript).toBe('other');
  });

  it('refuses invalid TOML and unknown keys with CONFIG_INVALID', () => {
    const project = path.join(workspace, 'bad');
    mkdirSync(project, { recursive: true });
    writeFileSync(path.join(project, 'pyproject.toml'), '[tool.pyz\n');
    expect(errorOf(() => resolveOptions({ cwd: project, output: 'a.pyz' } as BuildOptions, {})).code).toBe('CONFIG_INVALID');
    writeFileSync(path.join(project, 'pyproject.toml'), '[tool.pyz]\nentry_pont = "a:b"\n');
    const error = errorOf(() => resolveOptions({ cwd: project, output: 'a.pyz' } as BuildOptions, {}));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain('entry_pont');
  });
});

describe('pyz build argument parsing', () => {
  it('maps shiv flags and passes everything else to pip in order', () => {
    const { options } = parseBuildArguments(['-e', 'app:main', '-o', 'out.pyz', '-r', 'requirements.txt', '--site-packages', 'a', '--site-packages=b', '--uncompressed', '-E', '--index-url', 'http://x', '.']);
    expect(options).toMatchObject({ entryPoint: 'app:main', output: 'out.pyz', sitePackages: ['a', 'b'], compressed: false, extendPythonpath: true });
    expect(options.pipArgs).toEqual(['-r', 'requirements.txt', '--index-url', 'http://x', '.']);
  });

  it('parses pyz-only flags', () => {
    const { options, flags } = parseBuildArguments(['--level', 'max', '--include', 'dist:app/static', '--json', '-q', '--', '-e', 'x']);
    expect(options.level).toBe('max');
    expect(options.include).toEqual([{ from: 'dist', to: 'app/static' }]);
    expect(flags).toMatchObject({ json: true, quiet: true });
    expect(options.pipArgs).toEqual(['-e', 'x']);
  });
});
