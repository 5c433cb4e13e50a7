// The Python bootstrap (packages/core/python): modes, runtime variables, exit statuses and errors,
// on the oldest and newest supported Python. Tests named "SPEC §3: …" would fail on shiv's runtime.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BOOTSTRAP_SOURCE,
  DEMO_FILES,
  PREAMBLE_FILES,
  buildArchive,
  buildStandIn,
  findPython,
  inProcessRun,
  type ArchiveOptions,
  makeTemporaryDirectory,
  removeDirectory,
  runEnvironment,
  runPyz,
  writeTree,
} from './python/bootstrap-harness.js';

const BOOTSTRAP_FILES = ['__main__.py', ...readdirSync(join(BOOTSTRAP_SOURCE, '_pyz_bootstrap')).filter((name) => name.endsWith('.py')).map((name) => `_pyz_bootstrap/${name}`)];

describe('bootstrap sources', () => {
  it.each(['3.8', '3.11', '3.13'])('every bootstrap file byte-compiles with python%s', (version) => {
    const files = BOOTSTRAP_FILES.map((name) => join(BOOTSTRAP_SOURCE, name));
    const script = [
      'import os, py_compile, sys, tempfile',
      'with tempfile.TemporaryDirectory() as out:',
      '    for index, path in enumerate(sys.argv[1:]):',
      '        py_compile.compile(path, cfile=os.path.join(out, "%d.pyc" % index), doraise=True)',
      'print(len(sys.argv) - 1)',
    ].join('\n');
    const result = spawnSync(findPython(version), ['-c', script, ...files], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe(String(files.length));
    expect(files.length).toBeGreaterThanOrEqual(4);
  });
});

describe.each(['3.8', '3.13'])('bootstrap on python%s', (version) => {
  const python = findPython(version);
  let workspace: string;
  let sitePackages: string;
  let preambles: string;
  let cacheRoot: string;
  const archives: Record<string, string> = {};

  /** Builds (once) an archive of the demo app with the real builder and these options. */
  async function archive(name: string, options: Omit<ArchiveOptions, 'output' | 'sitePackages'> = {}): Promise<string> {
    const output = join(workspace, `${name}.pyz`);
    if (!archives[name]) {
      await buildArchive({ output, sitePackages, ...options });
      archives[name] = output;
    }
    return output;
  }

  function run(pyz: string, args: string[] = [], environment: Record<string, string | undefined> = {}, input = '') {
    return runPyz(python, pyz, args, { environment: { SHIV_ROOT: cacheRoot, ...environment }, input });
  }

  beforeAll(() => {
    workspace = makeTemporaryDirectory(`modes-${version}`);
    sitePackages = writeTree(join(workspace, 'site-packages'), DEMO_FILES);
    preambles = writeTree(join(workspace, 'preambles'), PREAMBLE_FILES);
    cacheRoot = join(workspace, 'cache');
  });
  afterAll(() => removeDirectory(workspace));

  describe('start-up cost', () => {
    it('compiles each bootstrap module once (a plain import from a zip compiles it twice)', async () => {
      const pyz = await archive('app', { entryPoint: 'demo:main' });
      // Counts compile() calls per file name around the same code path as `python app.pyz`
      // (runpy on the archive; runpy itself compiles __main__.py twice, like the interpreter).
      const driver = inProcessRun(
        [
          'import builtins, json',
          'counts = {}',
          'real_compile = builtins.compile',
          'def counting_compile(source, filename, *args, **kwargs):',
          '    counts[str(filename)] = counts.get(str(filename), 0) + 1',
          '    return real_compile(source, filename, *args, **kwargs)',
          'builtins.compile = counting_compile',
        ],
        [
          'modules = {name: [module.__file__, module.__spec__.origin, type(module.__loader__).__name__] for name, module in sys.modules.items() if name.startswith("_pyz_bootstrap")}',
          'sys.stderr.write("REPORT " + json.dumps({"counts": {name.replace(archive, "ARCHIVE").replace("\\\\", "/"): count for name, count in counts.items() if "_pyz_bootstrap" in name}, "modules": modules}) + "\\n")',
        ],
      );
      const report = (root: string) => {
        // No bytecode written into the cache: a new __pycache__ would move a directory's mtime,
        // and the next start would (rightly) load _extract to check it.
        const result = spawnSync(python, ['-c', driver, pyz], { env: runEnvironment({ SHIV_ROOT: root, PYTHONDONTWRITEBYTECODE: '1' }), encoding: 'utf8' });
        const match = /REPORT (.*)/.exec(result.stderr);
        if (!match) throw new Error(result.stderr);
        return JSON.parse(match[1]!) as { counts: Record<string, number>; modules: Record<string, [string, string, string]> };
      };
      const root = join(workspace, 'compile-count');
      const first = report(root);
      expect(first.counts).toEqual({
        'ARCHIVE/_pyz_bootstrap/__init__.py': 1,
        'ARCHIVE/_pyz_bootstrap/_extract.py': 1,
        'ARCHIVE/_pyz_bootstrap/_unzip.py': 1,
      });
      expect(first.modules['_pyz_bootstrap._unzip']).toEqual([join(pyz, '_pyz_bootstrap', '_unzip.py'), join(pyz, '_pyz_bootstrap', '_unzip.py'), 'zipimporter']);
      expect(first.modules['_pyz_bootstrap']![0]).toBe(join(pyz, '_pyz_bootstrap', '__init__.py'));
      expect(report(root).counts).toEqual({ 'ARCHIVE/_pyz_bootstrap/__init__.py': 1 });
      removeDirectory(root);
    });

    it('a traceback from a bootstrap module shows its source lines', async () => {
      const pyz = await archive('app', { entryPoint: 'demo:main' });
      const driver = inProcessRun(
        ['import traceback'],
        ['unzip = sys.modules["_pyz_bootstrap._unzip"]', 'try:', '    unzip.read_directory(None, 0, 0, "x")', 'except Exception:', '    print(traceback.format_exc())'],
      );
      const result = spawnSync(python, ['-c', driver, pyz], { env: runEnvironment({ SHIV_ROOT: join(workspace, 'traceback') }), encoding: 'utf8' });
      expect(result.stdout).toContain('_pyz_bootstrap/_unzip.py", line');
      expect(result.stdout).toContain('tail = source.read(tail_start, tail_size)');
    });
  });

  describe('entry points and exit status', () => {
    it('calls module:function and exits with its return value', async () => {
      const pyz = await archive('app', { entryPoint: 'demo:main' });
      const result = run(pyz, ['one', 'two'], { DEMO_STATUS: '5' });
      expect(result.stdout).toBe(`main argv=${JSON.stringify([pyz, 'one', 'two'])}\n`);
      expect(result.status).toBe(5);
      expect(run(pyz).status).toBe(0);
    });

    it('a returned string goes to stderr with status 1, like sys.exit()', async () => {
      const result = run(await archive('text', { entryPoint: 'demo:text' }));
      expect(result.stderr).toBe('something went wrong\n');
      expect(result.status).toBe(1);
    });

    it('propagates the SystemExit code of the app', async () => {
      expect(run(await archive('exit', { entryPoint: 'demo:raise_exit' })).status).toBe(7);
    });

    it('SPEC §3: script mode — a module entry point that returns normally exits 0 (shiv exits 1)', async () => {
      const result = run(await archive('module', { entryPoint: 'demo.script' }), ['x']);
      expect(result.stdout).toMatch(/^script ran as __main__ argv0=.*script\.py\n$/);
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
    });

    it('SHIV_ENTRY_POINT and its alias SHIV_MODULE override the built-in entry point', async () => {
      const pyz = await archive('app', { entryPoint: 'demo:main' });
      expect(run(pyz, [], { SHIV_ENTRY_POINT: 'demo:raise_exit' }).status).toBe(7);
      expect(run(pyz, [], { SHIV_MODULE: 'demo:text' }).status).toBe(1);
      expect(run(pyz, [], { SHIV_ENTRY_POINT: 'demo:raise_exit', SHIV_MODULE: 'demo:text' }).status).toBe(7);
    });
  });

  describe('console scripts', () => {
    it('runs bin/NAME like shiv, with sys.argv[0] the path the user ran', async () => {
      const pyz = await archive('script-bin', { consoleScript: 'demo-bin' });
      const result = run(pyz, ['a'], { DEMO_STATUS: '3' });
      expect(result.stdout).toBe(`main argv=${JSON.stringify([pyz, 'a'])}\n`);
      expect(result.status).toBe(3);
    });

    it('SPEC §3: SHIV_CONSOLE_SCRIPT also resolves entry_points.txt; sys.argv[0] is the path the user ran', async () => {
      const pyz = await archive('app', { entryPoint: 'demo:main' });
      const result = run(pyz, ['b'], { SHIV_CONSOLE_SCRIPT: 'demo-ep', DEMO_STATUS: '4' });
      expect(result.stdout).toBe(`main argv=${JSON.stringify([pyz, 'b'])}\n`);
      expect(result.status).toBe(4);
    });

    it('an unknown console script is a clear error', async () => {
      const result = run(await archive('app', { entryPoint: 'demo:main' }), [], { SHIV_CONSOLE_SCRIPT: 'nope' });
      expect(result.stderr).toMatch(/^pyz: error: CONSOLE_SCRIPT_NOT_FOUND: console script 'nope' .*\n {2}fix: /);
      expect(result.status).toBe(70);
    });
  });

  describe('interpreter mode', () => {
    it('-c CODE with the dependencies importable and argv like python', async () => {
      const pyz = await archive('bare');
      const result = run(pyz, ['-c', 'import sys, demo.late; print(demo.late.VALUE, sys.argv)', 'x', 'y']);
      expect(result.stdout).toBe("payload-data ['-c', 'x', 'y']\n");
      expect(result.status).toBe(0);
    });

    it('-m MODULE runs it as __main__', async () => {
      const result = run(await archive('bare'), ['-m', 'demo.script', 'arg']);
      expect(result.stdout).toMatch(/^script ran as __main__ argv0=.*demo[/\\]script\.py\n$/);
    });

    it('- reads the program from stdin; no argument with piped stdin does the same', async () => {
      const pyz = await archive('bare');
      expect(run(pyz, ['-', 'q'], {}, 'import sys, pthmod\nprint(pthmod.VALUE, sys.argv)\n').stdout).toBe("from-pth ['-', 'q']\n");
      expect(run(pyz, [], {}, 'import demo.late\nprint(demo.late.VALUE)\nraise SystemExit(9)\n')).toMatchObject({ stdout: 'payload-data\n', status: 9 });
    });

    it('PATH runs a file with argv[0] = PATH', async () => {
      const file = join(workspace, 'user-script.py');
      writeFileSync(file, 'import sys, demo.late\nprint(demo.late.VALUE, sys.argv[0] == __file__, sys.argv[1:])\nsys.exit(3)\n');
      expect(run(await archive('bare'), [file, 'z'])).toMatchObject({ stdout: "payload-data True ['z']\n", status: 3 });
    });

    it('SHIV_INTERPRETER=1/On/yes forces interpreter mode over an entry point', async () => {
      const pyz = await archive('app', { entryPoint: 'demo:main' });
      for (const value of ['1', 'On', 'yes', 'TRUE']) {
        expect(run(pyz, ['-c', 'print("interp")'], { SHIV_INTERPRETER: value }).stdout).toBe('interp\n');
      }
    });

    it('SPEC §3: SHIV_INTERPRETER=0/false/no/off mean off (shiv turns interpreter mode on)', async () => {
      const pyz = await archive('app', { entryPoint: 'demo:main' });
      for (const value of ['0', 'false', 'No', 'OFF']) {
        const result = run(pyz, ['-c', 'print("interp")'], { SHIV_INTERPRETER: value });
        expect(result.stdout).toBe(`main argv=${JSON.stringify([pyz, '-c', 'print("interp")'])}\n`);
      }
    });

    it('a boolean variable with another word is an error naming it', async () => {
      const result = run(await archive('app', { entryPoint: 'demo:main' }), [], { SHIV_FORCE_EXTRACT: 'maybe' });
      expect(result.stderr).toBe(
        "pyz: error: INVALID_BOOLEAN: SHIV_FORCE_EXTRACT='maybe' is not a boolean\n  fix: set SHIV_FORCE_EXTRACT to one of 1/true/yes/on or 0/false/no/off\n",
      );
      expect(result.status).toBe(70);
      expect(run(await archive('app'), [], { SHIV_COMPILE_WORKERS: 'many' }).stderr).toMatch(/^pyz: error: INVALID_NUMBER: SHIV_COMPILE_WORKERS='many'/);
    });
  });

  describe('sys.path and PYTHONPATH', () => {
    it('site-packages goes before the system site-packages, via site.addsitedir (.pth files work)', async () => {
      const result = run(await archive('where', { entryPoint: 'demo:where' }));
      const report = JSON.parse(result.stdout) as { file: string; path: string[]; pth: string; pythonpath: string | null };
      const ours = report.path.findIndex((entry) => entry.endsWith('site-packages') && entry.startsWith(cacheRoot));
      const system = report.path.findIndex((entry, index) => index !== ours && /(site|dist)-packages$/.test(entry));
      expect(ours).toBeGreaterThan(0);
      if (system >= 0) expect(ours).toBeLessThan(system);
      expect(report.pth).toBe('from-pth');
      expect(report.file.startsWith(cacheRoot)).toBe(true);
      expect(report.pythonpath).toBeNull();
    });

    it('extend_pythonpath / SHIV_EXTEND_PYTHONPATH give subprocesses the dependencies (only our paths)', async () => {
      const code = 'import os, subprocess, sys; print(os.environ.get("PYTHONPATH")); sys.exit(subprocess.call([sys.executable, "-c", "import demo.late"]))';
      const off = run(await archive('bare'), ['-c', code]);
      expect(off.status).toBe(1);
      const built = run(await archive('extend', { extendPythonpath: true }), ['-c', code]);
      expect(built.status).toBe(0);
      const entries = built.stdout.trim().split(':');
      expect(entries.every((entry) => entry.startsWith(cacheRoot))).toBe(true);
      expect(entries.some((entry) => entry.endsWith('pthdir'))).toBe(true);
      expect(run(await archive('bare'), ['-c', code], { SHIV_EXTEND_PYTHONPATH: 'yes' }).status).toBe(0);
      expect(run(await archive('extend', { extendPythonpath: true }), ['-c', code], { SHIV_EXTEND_PYTHONPATH: 'off' }).status).toBe(1);
    });

    it('prepend_pythonpath / SHIV_PREPEND_PYTHONPATH put paths at the front of sys.path', async () => {
      const extra = join(workspace, 'prepended');
      writeTree(extra, { 'pthmod.py': 'VALUE = "prepended"\n' });
      const result = run(await archive('bare'), ['-c', 'import sys, pthmod; print(sys.path[0], pthmod.VALUE)'], { SHIV_PREPEND_PYTHONPATH: extra });
      expect(result.stdout).toBe(`${extra} prepended\n`);
      // The builder has no option for prepend_pythonpath (shiv 1.0.7 reads it from environment.json): stand-in archive.
      const standIn = join(workspace, 'prepend.pyz');
      buildStandIn({ output: standIn, sitePackages, environment: { prepend_pythonpath: extra } });
      const built = run(standIn, ['-c', 'import pthmod; print(pthmod.VALUE)']);
      expect(built.stdout).toBe('prepended\n');
    });
  });

  describe('runtime location and root', () => {
    it('SPEC §3: the runtime finds itself through its import location, not sys.argv[0]', async () => {
      const pyz = await archive('app', { entryPoint: 'demo:main' });
      // shiv opens zipfile.ZipFile(sys.argv[0]) and fails here; pyz asks its own loader.
      const code = `import sys; sys.argv = ["/nonexistent/elsewhere.pyz", "k"]; sys.path.insert(0, ${JSON.stringify(pyz)}); import _pyz_bootstrap; _pyz_bootstrap.run()`;
      const result = spawnSync(python, ['-c', code], { env: runEnvironment({ SHIV_ROOT: cacheRoot }), encoding: 'utf8' });
      expect(result.stdout).toBe('main argv=["/nonexistent/elsewhere.pyz","k"]\n');
      expect(result.status).toBe(0);
    });

    it("SPEC §3: --root '$VAR' with VAR unset is an error naming the variable (shiv extracts into the CWD)", async () => {
      const pyz = await archive('rooted', { entryPoint: 'demo:main', root: '$PYZ_TEST_ROOT/apps' });
      const cwd = makeTemporaryDirectory('cwd');
      try {
        const result = runPyz(python, pyz, [], { environment: { PYZ_TEST_ROOT: undefined }, cwd });
        expect(result.stderr).toBe(
          "pyz: error: ROOT_VARIABLE_UNSET: cache root '$PYZ_TEST_ROOT/apps' uses $PYZ_TEST_ROOT, which is not set\n" +
            '  fix: export PYZ_TEST_ROOT=<directory>, or set SHIV_ROOT to a directory\n',
        );
        expect(result.status).toBe(70);
        expect(readdirSync(cwd)).toEqual([]);
      } finally {
        removeDirectory(cwd);
      }
    });

    it('--root with ${VAR} and $VAR set expands at run time; SHIV_ROOT wins over it', async () => {
      const pyz = await archive('rooted-braces', { entryPoint: 'demo:where', root: '${PYZ_TEST_ROOT}/apps' });
      const root = join(workspace, 'expanded');
      const result = runPyz(python, pyz, [], { environment: { PYZ_TEST_ROOT: root } });
      expect((JSON.parse(result.stdout) as { file: string }).file.startsWith(join(root, 'apps', 'rooted-braces_'))).toBe(true);
      const overridden = runPyz(python, pyz, [], { environment: { PYZ_TEST_ROOT: root, SHIV_ROOT: cacheRoot } });
      expect((JSON.parse(overridden.stdout) as { file: string }).file.startsWith(join(cacheRoot, 'rooted-braces_'))).toBe(true);
    });
  });

  describe('preamble, no_modify, compile_pyc', () => {
    it('a .py preamble runs first with archive, env and site_packages in its globals', async () => {
      const pyz = await archive('preamble', { entryPoint: 'demo:main', preamble: join(preambles, 'preamble.py') });
      const result = run(pyz);
      const buildId = JSON.parse(spawnSync(python, ['-c', `import zipfile; print(zipfile.ZipFile(${JSON.stringify(pyz)}).read("environment.json").decode())`], { encoding: 'utf8' }).stdout).build_id as string;
      expect(result.stdout).toBe(`preamble archive=preamble.pyz stem=${buildId.slice(0, 8)} sp=site-packages\nmain argv=${JSON.stringify([pyz])}\n`);
      expect(result.status).toBe(0);
    });

    it('SPEC §3: a failing non-Python preamble stops start-up with its exit status (shiv ignores it)', async () => {
      const result = run(await archive('preamble-fail', { entryPoint: 'demo:main', preamble: join(preambles, 'preamble-fail.sh') }));
      expect(result.stdout).toBe('');
      expect(result.stderr).toContain('preamble failing\n');
      expect(result.stderr).toContain('PREAMBLE_FAILED');
      expect(result.status).toBe(4);
    });

    it('no_modify refuses to run once an extracted file changed', async () => {
      const pyz = await archive('nomodify', { entryPoint: 'demo:main', noModify: true });
      expect(run(pyz).status).toBe(0);
      const root = join(cacheRoot, readdirSync(cacheRoot).find((name) => name.startsWith('nomodify_') && !name.includes('.'))!);
      writeFileSync(join(root, 'site-packages', 'demo', 'late.py'), 'VALUE = "tampered"\n');
      const result = run(pyz);
      expect(result.stderr).toMatch(/^pyz: error: CACHE_MODIFIED: .*demo\/late\.py \(changed\)/);
      expect(result.status).toBe(70);
      expect(run(pyz, [], { SHIV_FORCE_EXTRACT: '1' }).status).toBe(0);
      expect(run(pyz).status).toBe(0);
    });

    it('compile_pyc / SHIV_COMPILE_PYC compile the extracted tree', async () => {
      const pyz = await archive('compiled', { entryPoint: 'demo:main', compilePyc: true });
      expect(run(pyz, [], { SHIV_COMPILE_WORKERS: '1' }).status).toBe(0);
      const root = join(cacheRoot, readdirSync(cacheRoot).find((name) => name.startsWith('compiled_') && !name.includes('.'))!);
      expect(readdirSync(join(root, 'site-packages', 'demo', '__pycache__')).some((name) => name.startsWith('late.'))).toBe(true);
      expect(run(pyz, [], { SHIV_COMPILE_PYC: 'off', SHIV_FORCE_EXTRACT: 'on' }).status).toBe(0);
      expect(existsSync(join(root, 'site-packages', 'demo', '__pycache__'))).toBe(false);
    });
  });

  describe('unsafe payload members (SPEC §5)', () => {
    const cases: [string, { name: string; mode?: number }][] = [
      ['.. component', { name: '../evil.py' }],
      ['absolute path', { name: '/tmp/evil.py' }],
      ['backslash', { name: 'demo\\evil.py' }],
      ['drive letter', { name: 'C:/evil.py' }],
      ['symbolic link', { name: 'demo/link', mode: 0o120777 }],
      ['duplicate', { name: 'demo/data.txt' }],
      ['. component', { name: 'demo/./x.py' }],
      ['empty component', { name: 'demo//x.py' }],
      ['.. component in the middle', { name: 'demo/../../x.py' }],
      ['file where a directory is', { name: 'demo' }],
    ];
    // The builder refuses to make such archives: hand-crafted with the stand-in.
    it.each(cases)('refuses a member with a %s, extracting nothing', (_label, member) => {
      const pyz = join(workspace, 'unsafe.pyz');
      buildStandIn({ output: pyz, sitePackages, members: [{ ...member, text: 'boom' }], environment: { entry_point: 'demo:main' } });
      const root = join(workspace, 'unsafe-cache');
      const result = runPyz(python, pyz, [], { environment: { SHIV_ROOT: root } });
      expect(result.stderr).toMatch(/^pyz: error: UNSAFE_MEMBER: refusing payload member /);
      expect(result.status).toBe(70);
      expect(existsSync(join(workspace, 'evil.py'))).toBe(false);
      expect(readdirSync(root).filter((name) => !name.endsWith('.lock') && name !== 'CACHEDIR.TAG')).toEqual([]);
      removeDirectory(root);
    });

    it('names the fast check cannot clear (":" inside a name) are checked one by one and extracted', () => {
      const pyz = join(workspace, 'colon.pyz');
      buildStandIn({ output: pyz, sitePackages, members: [{ name: 'demo/at:12.txt', text: 'fine' }], environment: { entry_point: 'demo:main' } });
      const root = join(workspace, 'colon-cache');
      expect(runPyz(python, pyz, [], { environment: { SHIV_ROOT: root } })).toMatchObject({ stderr: '', status: 0 });
      const extraction = readdirSync(root).find((name) => name.startsWith('colon_') && !name.includes('.'))!;
      expect(readFileSync(join(root, extraction, 'site-packages', 'demo', 'at:12.txt'), 'utf8')).toBe('fine');
      removeDirectory(root);
    });
  });
});
