import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServiceProcess } from './helpers/child-process.ts';
import { createTestDatabase } from './helpers/test-service.ts';

// bin/lading-server.js compiles every module in a child process before the service starts, so the
// service itself never loads Node's TypeScript stripper (which then stays for the process's life),
// even on an empty compile cache: after an upgrade, in a new container.

let dir: string;
let database: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'lading-compile-ahead-'));
  database = await createTestDatabase();
  // Preloaded into every process of the service: at exit, whether Node loaded its stripper.
  await writeFile(
    path.join(dir, 'report-stripper.mjs'),
    `import { appendFileSync } from 'node:fs';
process.on('exit', () => appendFileSync(process.env.STRIPPER_REPORT, JSON.stringify({
  compileOnly: process.env.LADING_COMPILE_ONLY === '1',
  stripper: process.moduleLoadList.includes('NativeModule internal/deps/amaro/dist/index'),
}) + '\\n'));
`,
  );
});
afterAll(async () => {
  await database?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('npm start on an empty compile cache', () => {
  it('compiles in a child process first: the service never loads the TypeScript stripper', async () => {
    const report = path.join(dir, 'report.jsonl');
    const { child } = await startServiceProcess({
      DATABASE_URL: database.connectionString,
      DATA_DIR: path.join(dir, 'data'),
      NODE_COMPILE_CACHE: path.join(dir, 'empty-cache'),
      NODE_OPTIONS: `--import=${path.join(dir, 'report-stripper.mjs')}`,
      STRIPPER_REPORT: report,
    });
    child.process.kill('SIGTERM');
    expect(await child.exited).toBe(0);
    const processes = (await readFile(report, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as unknown);
    // The child found the cache empty and loaded the stripper (so the report does show it); the
    // service, finding every module compiled, did not.
    expect(processes).toEqual([
      { compileOnly: true, stripper: true },
      { compileOnly: false, stripper: false },
    ]);
  }, 60_000);
});
