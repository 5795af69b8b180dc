import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, machineNodeVersion, machinePath, runNpm, runScript } from './helpers/child-process.ts';

// What a newcomer meets on a machine of the kind CI uses: its own Node is 20, and CI runs as root.

const machineNode = machineNodeVersion();
const machineNodeIsOld = machineNode !== undefined && Number(machineNode.split('.')[0]) < 24;

describe.skipIf(!machineNodeIsOld)(`started by hand with the machine's Node (${machineNode})`, () => {
  it('prints one line naming the Node it needs and how to get it, exits 1, no stack trace', async () => {
    const child = collect(spawn('node', ['bin/lading-server.js'], { env: { ...process.env, PATH: machinePath() } }));
    expect(await child.exited).toBe(1);
    expect(child.stdout()).toBe('');
    expect(child.stderr()).toBe(
      `Lading needs Node.js 24 or newer, not v${machineNode}: start it with npm (npm start, npm test; ` +
        'npm install puts Node 24 in node_modules/.bin), or install Node 24 LTS.\n',
    );
  });
});

describe.skipIf(process.getuid?.() !== 0)('as root, where the postgres user cannot go', () => {
  // A home only root can enter (like /root, mode 0700) holding a copy of this clone.
  let home: string;
  let clone: string;
  beforeAll(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), 'lading-root-home-'));
    await chmod(home, 0o700);
    clone = path.join(home, 'lading');
    await mkdir(clone);
    const entries = (await readdir('.')).filter((name) => !['.git', '.data', 'coverage'].includes(name));
    try {
      execFileSync('cp', ['-al', ...entries, clone]); // hard links: instant on one file system
    } catch {
      execFileSync('cp', ['-a', ...entries, clone]);
    }
  });
  afterAll(() => rm(home, { recursive: true, force: true }));

  const advice = (blocked: string) =>
    `The embedded PostgreSQL cannot run here: as root it runs as the "postgres" user, which cannot enter ${blocked} (mode 0700)`;

  it('npm start stops at once, says why and what to do, and sets up no database', async () => {
    const started = Date.now();
    const child = runNpm(['start'], { cwd: clone, env: { PORT: '0' } });
    expect(await child.exited).toBe(1);
    const seconds = (Date.now() - started) / 1000;
    expect(child.stderr()).toContain(advice(home));
    expect(child.stderr()).toContain('move the clone to a directory every user can enter (e.g. /srv/lading)');
    expect(child.stderr()).not.toMatch(/^\s+at /m);
    expect(child.stdout()).not.toContain('Lading is listening');
    expect(existsSync(path.join(clone, '.data', 'postgres'))).toBe(false);
    console.info(`npm start as root in a 0700 home: refused after ${seconds.toFixed(2)} s`);
  });

  it('npm test stops at once with the same message', async () => {
    const child = runNpm(['test', '--', 'test/utf8-scan.test.ts'], { cwd: clone });
    expect(await child.exited).not.toBe(0);
    expect(child.stdout() + child.stderr()).toContain(advice(home));
  });

  it('the CLI (npm run migrate) says the same, exit 1', async () => {
    const child = runNpm(['run', 'migrate'], { cwd: clone });
    expect(await child.exited).toBe(1);
    expect(child.stderr()).toContain(advice(home));
    expect(child.stderr()).not.toMatch(/^\s+at /m);
  });

  it('a DATA_DIR the postgres user cannot reach is named, with what to do', async () => {
    const dataDir = path.join(home, 'data');
    const child = runScript('bin/lading-server.js', [], { DATA_DIR: dataDir, PORT: '0' });
    expect(await child.exited).toBe(1);
    expect(child.stderr()).toBe(
      `${advice(home)} and so cannot reach ${dataDir}. Set DATA_DIR to a directory it can reach (e.g. /var/lib/lading), ` +
        'run Lading as a user other than root, or set DATABASE_URL to a PostgreSQL server of your own.\n',
    );
    expect(existsSync(dataDir)).toBe(false);
  });
});
