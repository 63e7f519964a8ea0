import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/**
 * After the README's set-up (`npm ci`, then `npm run build` or `npm test`), `npx model-archiver` and
 * `npx model-server` must run this repository's CLIs. npm links a workspace's `bin` only if its target
 * exists at install time, so the bins are tracked launchers; this test installs a fresh copy of the
 * repository's files (what a clean clone holds) and checks every way npm resolves a command.
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const exec = promisify(execFile);

const CLIS = [
  { name: 'model-archiver', pkg: 'packages/archiver', usage: /^Usage: model-archiver \[options\] \[command\]/m },
  { name: 'model-server', pkg: 'packages/server', usage: /^Usage: model-server \[options\]/m },
] as const;

/** npm with no way to reach a registry: a command that is not ours fails at once instead of downloading. */
const npmEnv = { ...process.env, npm_config_offline: 'true', npm_config_update_notifier: 'false', npm_config_audit: 'false', npm_config_fund: 'false' };

async function npm(cwd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec('npm', args, { cwd, env: npmEnv, encoding: 'utf8', timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('npx model-archiver and npx model-server on a fresh checkout', () => {
  let clone: string;

  beforeAll(async () => {
    clone = mkdtempSync(join(tmpdir(), 'nodeserve-clone-'));
    // The files a clean clone of this commit holds: tracked ones and new ones git does not ignore.
    const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' })
      .split('\0').filter((f) => f !== '');
    for (const file of files) {
      mkdirSync(dirname(join(clone, file)), { recursive: true });
      try {
        cpSync(join(ROOT, file), join(clone, file));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error; // deleted, not yet committed
      }
    }
    // Runtime dependencies from the npm cache that `npm ci` filled: enough for both CLIs' --help.
    const install = await npm(clone, ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund']);
    expect({ code: install.code, stderr: install.stderr }).toEqual({ code: 0, stderr: expect.not.stringMatching(/EBADENGINE/) });
  }, 180_000);

  afterAll(() => rmSync(clone, { recursive: true, force: true }));

  it('links each bin to the package in this checkout at install time, before anything is built', async () => {
    for (const { name, pkg } of CLIS) {
      expect(realpathSync(join(clone, 'node_modules/.bin', name))).toBe(realpathSync(join(clone, pkg, 'bin', `${name}.js`)));
      const unbuilt = await npm(clone, ['exec', '--no', '--', name, '--help']);
      expect(unbuilt.code).not.toBe(0);
      expect(unbuilt.stderr).toContain(`${name}: not built yet`);
      expect(unbuilt.stderr).toContain('npm run build');
    }
  });

  describe('once built', () => {
    beforeAll(() => {
      // `npm run build` output, taken from this checkout's build (npm test builds first) to save the time.
      for (const pkg of readdirSync(join(ROOT, 'packages'))) {
        cpSync(join(ROOT, 'packages', pkg, 'dist'), join(clone, 'packages', pkg, 'dist'), { recursive: true });
      }
    });

    it.each(CLIS.map((c) => [c.name, c] as const))('`npx %s --help` prints its usage', async (_name, { name, usage }) => {
      const result = await npm(clone, ['exec', '--', name, '--help']);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(usage);
    });

    it('runs them from `npx` exactly as the README writes it, from `npm exec --no`, and from npm scripts', async () => {
      const version = (JSON.parse(readFileSync(join(ROOT, 'packages/server/package.json'), 'utf8')) as { version: string }).version;
      const npx = await exec('npx', ['model-server', '--version'], { cwd: clone, env: npmEnv, encoding: 'utf8' });
      expect(npx.stdout.trim()).toBe(version);
      const noInstall = await npm(clone, ['exec', '--no', '--', 'model-archiver', '-V']);
      expect([noInstall.code, noInstall.stdout.trim()]).toEqual([0, version]);

      const manifest = JSON.parse(readFileSync(join(clone, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
      manifest.scripts['clis'] = 'model-archiver --help && model-server --help';
      writeFileSync(join(clone, 'package.json'), JSON.stringify(manifest));
      const script = await npm(clone, ['run', '--silent', 'clis']);
      expect(script.code).toBe(0);
      for (const { usage } of CLIS) expect(script.stdout).toMatch(usage);
    });
  });
});
