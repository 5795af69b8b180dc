import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_SERVER_FILE } from '../src/cli/cli-config.ts';
import { runNpm, runScript, waitForOutput } from './helpers/child-process.ts';
import { createTestDatabase, readJson, startTestService, type TestService } from './helpers/test-service.ts';

describe('configuration', () => {
  it('refuses invalid settings with one readable message, exit code 2 and no stack trace', async () => {
    const child = runScript('bin/lading-server.js', [], { PORT: 'abc', MAX_UPLOAD_BYTES: '-5', DATABASE_URL: 'mysql://x', BATCH_SIZE: '5000' });
    expect(await child.exited).toBe(2);
    expect(child.stderr()).toBe(
      'Invalid configuration:\n' +
        '  PORT: must be a whole number from 0 to 65535 (got "abc")\n' +
        '  DATABASE_URL: must be a postgres:// or postgresql:// connection URL (got "mysql://x")\n' +
        '  MAX_UPLOAD_BYTES: must be at least 1 (got "-5")\n' +
        '  BATCH_SIZE: must be at most 1000 (got "5000")\n',
    );
    expect(child.stdout()).toBe('');
  });
});

describe('npm run apikey', () => {
  let service: TestService;
  beforeAll(async () => {
    service = await startTestService();
  });
  afterAll(() => service?.stop());

  it('creates a key (printed as the last line), lists it and revokes it', async () => {
    const env = { DATABASE_URL: service.connectionString };
    const create = runScript('src/cli/apikey.ts', ['create', '--tenant', 'cli-co', '--name', 'ci'], env);
    expect(await create.exited).toBe(0);
    const key = create.stdout().trim().split('\n').at(-1)!;
    expect(key).toMatch(/^ldg_[A-Za-z0-9_-]{43}$/);
    expect((await service.request('/v1/imports', { key })).status).toBe(200);

    const list = runScript('src/cli/apikey.ts', ['list', '--tenant', 'cli-co'], env);
    expect(await list.exited).toBe(0);
    expect(list.stdout()).toContain(`${key.slice(0, 12)}…\ttenant=cli-co\tactive`);
    expect(list.stdout()).not.toContain(key);

    const revoke = runScript('src/cli/apikey.ts', ['revoke', key.slice(0, 12)], env);
    expect(await revoke.exited).toBe(0);
    expect(revoke.stdout()).toBe('Revoked 1 API key.\n');
    expect((await service.request('/v1/imports', { key })).status).toBe(401);
  });

  it('explains a wrong call with exit code 2', async () => {
    const child = runScript('src/cli/apikey.ts', ['create'], { DATABASE_URL: service.connectionString });
    expect(await child.exited).toBe(2);
    expect(child.stderr()).toContain('create needs --tenant NAME');
  });
});

describe('npm run migrate', () => {
  it('applies migrations to an empty database, then reports it up to date', async () => {
    const database = await createTestDatabase({ empty: true });
    try {
      const first = runScript('src/cli/migrate.ts', [], { DATABASE_URL: database.connectionString });
      expect(await first.exited).toBe(0);
      const files = (await readdir('migrations')).filter((file) => file.endsWith('.sql')).sort();
      expect(files[0]).toBe('001_initial_schema.sql');
      expect(first.stdout()).toBe(`Applied ${files.join(', ')}.\n`);
      const second = runScript('src/cli/migrate.ts', [], { DATABASE_URL: database.connectionString });
      expect(await second.exited).toBe(0);
      expect(second.stdout()).toBe('The database was already up to date.\n');
    } finally {
      await database.drop();
    }
  });
});

describe('npm start on a fresh clone (embedded PostgreSQL)', () => {
  it('starts its own database, prints the URL and a dev key, imports, shares the database with the CLI, stops cleanly', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'lading-start-'));
    // The real `npm start` from the user's shell: npm runs on the machine's own Node (20 on CI's machines).
    const service = runNpm(['start'], { env: { DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'info' } });
    try {
      const [, url] = await waitForOutput(service, /Lading is listening on (http:\/\/\S+)/);
      const [, key] = await waitForOutput(service, /Dev API key: (ldg_\S+)/);
      expect((await readFile(path.join(dataDir, 'dev-api-key'), 'utf8')).trim()).toBe(key);
      // On Linux the service re-executed itself with fewer malloc arenas, keeping its pid and Node flags.
      const { pid } = JSON.parse(await readFile(path.join(dataDir, DEV_SERVER_FILE), 'utf8')) as { pid: number };
      if (process.platform === 'linux') {
        expect((await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0')).toContain('MALLOC_ARENA_MAX=2');
        expect((await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0')).toContain('--memory-saver-mode');
      }

      const upload = await fetch(`${url}/v1/imports`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'text/csv' },
        body: await readFile('fixtures/products-valid.csv'),
      });
      expect(upload.status).toBe(202);
      const { id } = await readJson(upload);
      const deadline = Date.now() + 30_000;
      let status = 'queued';
      while (['queued', 'processing'].includes(status) && Date.now() < deadline) {
        status = (await readJson(await fetch(`${url}/v1/imports/${id}`, { headers: { authorization: `Bearer ${key}` } }))).status;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(status).toBe('succeeded');

      // README's next step: `npx lading import FILE` in the clone finds this server and its dev key by itself.
      const lading = runNpm(['exec', '--', 'lading', 'import', 'fixtures/products-invalid-rows.csv', '--allow-rejects'], { env: { DATA_DIR: dataDir } });
      expect(await lading.exited).toBe(0);
      expect(lading.stdout()).toMatch(/^Import \S+ succeeded in [\d.]+ s/m);
      expect(lading.stdout()).toMatch(/^ {2}rejected rows: lading imports errors \S+ -o errors.csv$/m);

      // The CLI finds the running embedded server through DATA_DIR: its key works on the service.
      const cli = runScript('src/cli/apikey.ts', ['create', '--tenant', 'second'], { DATA_DIR: dataDir });
      expect(await cli.exited).toBe(0);
      const cliKey = cli.stdout().trim().split('\n').at(-1)!;
      expect((await fetch(`${url}/v1/products`, { headers: { authorization: `Bearer ${cliKey}` } })).status).toBe(200);

      // As a service manager stops it: SIGTERM to the group. npm ends by the signal; the service drains and stops its database.
      process.kill(-service.process.pid!, 'SIGTERM');
      await service.exited;
      await waitForOutput(service, /"msg":"stopped"/, 20_000);
      expect(service.stdout()).not.toMatch(/"level":[56]0/); // no error or fatal on the way out
      await waitUntil(() => !existsSync(path.join(dataDir, 'postgres', 'postmaster.pid')), 20_000);
    } finally {
      if (service.process.exitCode === null) process.kill(-service.process.pid!, 'SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
