import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runNpm, runScript } from './helpers/child-process.ts';
import { readJson, startTestService, type TestService } from './helpers/test-service.ts';
import { startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.ts';

// `lading imports|webhooks|products|admin …` as a user runs them: child processes against a real service.

type Run = { code: number | null; stdout: string; stderr: string };

/** Runs `node bin/lading.js ARGS` to its end; `env` adds to (or, with undefined, removes from) the environment. */
async function lading(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  const child = runScript('bin/lading.js', args, { LADING_URL: undefined, LADING_API_KEY: undefined, DATA_DIR: undefined, ...env });
  const code = await child.exited;
  return { code, stdout: child.stdout(), stderr: child.stderr() };
}

/** An API error as the CLI prints it: `lading: <message> (<status> <code>, request <id>)`. */
function apiErrorLine(message: string, status: number, code: string): RegExp {
  const escaped = message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^lading: ${escaped} \\(${status} ${code}, request \\S+\\)\\n$`);
}

let service: TestService;
let key: string;
let valid: string; // a succeeded import without rejected rows
let withRejects: string; // a succeeded import with rejected rows
const flags = () => ['--url', service.url, '--api-key', key];

beforeAll(async () => {
  service = await startTestService({ WEBHOOK_ALLOW_PRIVATE: 'true' });
  ({ key } = await service.createTenant('cli'));
  const first = await readJson(await service.uploadCsv(key, await readFile('fixtures/products-valid.csv'), { 'x-filename': 'valid.csv' }));
  valid = first.id;
  await service.waitForImport(key, valid);
  const second = await readJson(await service.uploadCsv(key, await readFile('fixtures/products-invalid-rows.csv'), { 'x-filename': 'bad.csv' }));
  withRejects = second.id;
  const ended = await service.waitForImport(key, withRejects);
  expect(ended.status).toBe('succeeded');
  expect(ended.rows_rejected).toBeGreaterThan(0);
});
afterAll(() => service?.stop());

describe('lading imports', () => {
  it('list: an aligned table, newest first', async () => {
    const run = await lading(['imports', 'list', ...flags()]);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^ID +STATUS +CREATED +ROWS +INSERTED +UPDATED +REJECTED +SOURCE +FILE$/);
    expect(lines[1]).toMatch(new RegExp(`^${withRejects}  succeeded  \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z .* bad\\.csv$`));
    expect(lines[2]).toMatch(new RegExp(`^${valid}  succeeded  .* valid\\.csv$`));
    // columns line up: STATUS starts at the same offset on every line
    expect(new Set(lines.map((line) => line.indexOf(line.includes('STATUS') ? 'STATUS' : 'succeeded'))).size).toBe(1);
  });

  it('list --json: {items, next_cursor}; --limit pages, --all follows next_cursor; --status filters', async () => {
    const all = await lading(['imports', 'list', '--json', ...flags()]);
    expect(all.code).toBe(0);
    const body = JSON.parse(all.stdout);
    expect(body).toEqual(await readJson(await service.request('/v1/imports', { key })));
    expect(body.items.map((item: { id: string }) => item.id)).toEqual([withRejects, valid]);
    expect(body.next_cursor).toBeNull();

    const one = JSON.parse((await lading(['imports', 'list', '--limit', '1', '--json', ...flags()])).stdout);
    expect(one.items.map((item: { id: string }) => item.id)).toEqual([withRejects]);
    expect(one.next_cursor).toEqual(expect.any(String));
    const human = await lading(['imports', 'list', '--limit', '1', ...flags()]);
    expect(human.stdout.trimEnd().split('\n').at(-1)).toBe('More imports: raise --limit or pass --all.');

    // --all in pages of one: every import, through next_cursor
    const everything = JSON.parse((await lading(['imports', 'list', '--all', '--limit', '1', '--json', ...flags()])).stdout);
    expect(everything.items.map((item: { id: string }) => item.id)).toEqual([withRejects, valid]);
    expect(everything.next_cursor).toBeNull();

    const failed = await lading(['imports', 'list', '--status', 'failed', ...flags()]);
    expect(failed).toEqual({ code: 0, stdout: 'No imports.\n', stderr: '' });
    const bad = await lading(['imports', 'list', '--status', 'nope', ...flags()]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^lading: .*status.* \(400 \w+, request \S+\)\n$/);
  });

  it('show: fields for people, the API body with --json; an unknown id exits 1 with the API message', async () => {
    const human = await lading(['imports', 'show', withRejects, ...flags()]);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`id:              ${withRejects}\n`);
    expect(human.stdout).toContain('status:          succeeded\n');
    expect(human.stdout).toContain('file:            bad.csv\n');
    expect(human.stdout).toContain(`\nRejected rows: lading imports errors ${withRejects} -o errors.csv\n`);

    const json = await lading(['imports', 'show', valid, '--json', ...flags()]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(await readJson(await service.request(`/v1/imports/${valid}`, { key })));

    const missing = '00000000-0000-4000-8000-000000000000';
    const api = await readJson(await service.request(`/v1/imports/${missing}`, { key }));
    const unknown = await lading(['imports', 'show', missing, ...flags()]);
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toMatch(apiErrorLine(api.error.message, 404, 'not_found'));
  });

  it('cancel: a running import is cancelled (exit 0), saying how many rows stay', async () => {
    const other = await service.createTenant('cli-cancel');
    const rows = Array.from({ length: 300_000 }, (_, i) => `CANCEL-${i},Product ${i},1.00,EUR,1,active`);
    const upload = await readJson(await service.uploadCsv(other.key, `sku,name,price,currency,quantity,status\n${rows.join('\n')}\n`));
    const deadline = Date.now() + 20_000;
    while ((await readJson(await service.request(`/v1/imports/${upload.id}`, { key: other.key }))).rows_processed === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const run = await lading(['imports', 'cancel', upload.id, '--url', service.url, '--api-key', other.key]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const ended = await service.waitForImport(other.key, upload.id);
    expect(ended.status).toBe('cancelled');
    const committed = ended.rows_inserted + ended.rows_updated + ended.rows_unchanged;
    expect(run.stdout).toBe(`Cancelled import ${upload.id}: ${committed} rows committed before it stopped.\n`);
  });

  it('cancel: a finished import exits 1 with the API conflict message', async () => {
    const response = await service.request(`/v1/imports/${valid}/cancel`, { method: 'POST', key });
    expect(response.status).toBe(409);
    const api = await readJson(response);
    const run = await lading(['imports', 'cancel', valid, ...flags()]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(apiErrorLine(api.error.message, 409, 'conflict'));
  });

  it('errors -o FILE writes the API errors.csv; without -o it goes to stdout', async () => {
    const expected = await (await service.request(`/v1/imports/${withRejects}/errors.csv`, { key })).text();
    expect(expected.split('\n').length).toBeGreaterThan(3);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'lading-cli-'));
    try {
      const file = path.join(dir, 'errors.csv');
      const run = await lading(['imports', 'errors', withRejects, '-o', file, ...flags()]);
      expect(run.code).toBe(0);
      expect(run.stdout).toBe('');
      expect(run.stderr).toBe(`Wrote the rejected rows of import ${withRejects} to ${file} (${Buffer.byteLength(expected)} bytes).\n`);
      expect(await readFile(file, 'utf8')).toBe(expected);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const toStdout = await lading(['imports', 'errors', withRejects, ...flags()]);
    expect(toStdout).toEqual({ code: 0, stdout: expected, stderr: '' });
  });
});

describe('lading webhooks', () => {
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    receiver = await startWebhookReceiver();
  });
  afterAll(() => receiver?.close());

  it('add prints the secret once with a warning; list; test; deliveries with attempts', async () => {
    const add = await lading(['webhooks', 'add', `${receiver.url}/hook`, '--events', 'import.failed,source.schema_drift', '--description', 'ops', ...flags()]);
    expect(add.code).toBe(0);
    expect(add.stderr).toBe('Store the signing secret now: it cannot be shown again.\n');
    const [registered, secret, ...rest] = add.stdout.split('\n');
    expect(rest).toEqual(['']);
    const [, id] = registered!.match(/^Registered webhook (\S+) → (\S+) \((.*)\)\.$/)!;
    expect(registered).toBe(`Registered webhook ${id} → ${receiver.url}/hook (import.failed, source.schema_drift).`);
    expect(secret).toMatch(/^whsec_\S+$/);
    const stored = await readJson(await service.request(`/v1/webhooks/${id}`, { key }));
    expect(stored).toMatchObject({ url: `${receiver.url}/hook`, events: ['import.failed', 'source.schema_drift'], description: 'ops' });

    const addJson = await lading(['webhooks', 'add', `${receiver.url}/other`, '--json', ...flags()]);
    expect(addJson.code).toBe(0);
    const second = JSON.parse(addJson.stdout);
    expect(second).toMatchObject({ url: `${receiver.url}/other`, events: ['import.succeeded', 'import.failed', 'import.cancelled'] });
    expect(second.secret).toMatch(/^whsec_/);

    const list = await lading(['webhooks', 'list', ...flags()]);
    expect(list.code).toBe(0);
    const lines = list.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID +STATE +EVENTS +CREATED +URL +DESCRIPTION$/);
    const apiList = await readJson(await service.request('/v1/webhooks', { key }));
    const expectedLines: Record<string, RegExp> = {
      [id!]: new RegExp(`^${id}  enabled  import\\.failed,source\\.schema_drift +\\S+Z  ${receiver.url}/hook +ops$`),
      [second.id]: new RegExp(`^${second.id}  enabled  import\\.succeeded,import\\.failed,import\\.cancelled  \\S+Z  ${receiver.url}/other  -$`),
    };
    expect(lines.slice(1)).toEqual(apiList.items.map((item: { id: string }) => expect.stringMatching(expectedLines[item.id]!)));
    const listJson = await lading(['webhooks', 'list', '--json', ...flags()]);
    expect(JSON.parse(listJson.stdout)).toEqual(apiList);

    const test = await lading(['webhooks', 'test', id!, ...flags()]);
    expect(test.code).toBe(0);
    const [, deliveryId] = test.stdout.match(/^Queued webhook\.test delivery (\S+) \(event \S+\)\.\n$/)!;
    await receiver.waitForRequests(1);

    // The delivery log, polled until the attempt is recorded.
    const deadline = Date.now() + 20_000;
    let deliveries: { items: { id: string; status: string; attempts: { status_code: number }[] }[]; next_cursor: null };
    for (;;) {
      const run = await lading(['webhooks', 'deliveries', id!, '--json', ...flags()]);
      expect(run.code).toBe(0);
      deliveries = JSON.parse(run.stdout);
      if (deliveries.items[0]?.status === 'succeeded' || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(deliveries.items).toHaveLength(1);
    expect(deliveries.items[0]).toMatchObject({ id: deliveryId, status: 'succeeded', attempts: [{ status_code: 204 }] });
    expect(deliveries).toEqual(await readJson(await service.request(`/v1/webhooks/${id}/deliveries`, { key })));

    const human = await lading(['webhooks', 'deliveries', id!, ...flags()]);
    expect(human.code).toBe(0);
    const rows = human.stdout.trimEnd().split('\n');
    expect(rows[0]).toMatch(/^DELIVERY +EVENT +STATUS +ATTEMPTS +CREATED +LAST ERROR$/);
    expect(rows[1]).toMatch(new RegExp(`^${deliveryId}  webhook\\.test  succeeded  1 +\\S+Z  -$`));
    expect(rows[2]).toMatch(/^ {2}attempt +HTTP 204 +\d+ ms +\S+Z {2}-$/);
    expect(rows).toHaveLength(3);

    const none = await lading(['webhooks', 'deliveries', id!, '--status', 'failed', ...flags()]);
    expect(none).toEqual({ code: 0, stdout: 'No deliveries.\n', stderr: '' });
  });

  it('add refuses what the API refuses, exit 1 with its message', async () => {
    const run = await lading(['webhooks', 'add', 'ftp://example.com/x', ...flags()]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^lading: .* \(400 validation_failed, request \S+\)\n$/);
  });
});

describe('lading products get', () => {
  it('prints the product; --json is the API body; an unknown sku exits 1 with the API message', async () => {
    const human = await lading(['products', 'get', 'TSHIRT-RED-M', ...flags()]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^sku: +TSHIRT-RED-M\nname: +T-shirt, red, M\n/);
    expect(human.stdout).toMatch(/\nprice: +19\.99\n/);

    const json = await lading(['products', 'get', 'TSHIRT-RED-M', '--json', ...flags()]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(await readJson(await service.request('/v1/products/TSHIRT-RED-M', { key })));

    const api = await readJson(await service.request('/v1/products/NO-SUCH', { key }));
    const missing = await lading(['products', 'get', 'NO-SUCH', ...flags()]);
    expect(missing).toEqual({ code: 1, stdout: '', stderr: expect.stringMatching(apiErrorLine(api.error.message, 404, 'not_found')) });
  });
});

describe('usage', () => {
  it('a missing argument, an unknown option or a bad --limit exits 2', async () => {
    const missing = await lading(['imports', 'show', ...flags()]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^error: missing required argument 'id'\n/);
    const unknown = await lading(['webhooks', 'list', '--bogus', ...flags()]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^error: unknown option '--bogus'\n/);
    const limit = await lading(['imports', 'list', '--limit', '0', ...flags()]);
    expect(limit.code).toBe(2);
    expect(limit.stderr).toMatch(/^error: option '--limit <n>' argument '0' is invalid\. must be a whole number of at least 1\.\n/);
    const wrongKey = await lading(['imports', 'list', '--url', service.url, '--api-key', 'ldg_wrong']);
    expect(wrongKey.code).toBe(2);
    expect(wrongKey.stderr).toMatch(/^lading: .* \(401 unauthorized, request \S+\)\n$/);
  });

  it('--help on every command exits 0 and lists its options', async () => {
    const commands: [string[], string[]][] = [
      [['imports'], ['list', 'show', 'cancel', 'errors']],
      [['imports', 'list'], ['--status <status>', '--source <source>', '--limit <n>', '--all', '--json']],
      [['imports', 'show'], ['<id>', '--json']],
      [['imports', 'cancel'], ['<id>', '--json']],
      [['imports', 'errors'], ['<id>', '-o, --output <file>']],
      [['webhooks'], ['list', 'add', 'test', 'deliveries']],
      [['webhooks', 'list'], ['--json']],
      [['webhooks', 'add'], ['<url>', '--events <list>', '--description <text>', '--json']],
      [['webhooks', 'test'], ['<id>', '--json']],
      [['webhooks', 'deliveries'], ['<id>', '--status <status>', '--limit <n>', '--all', '--json']],
      [['products'], ['get']],
      [['products', 'get'], ['<sku>', '--json']],
      [['admin'], ['apikey', 'migrate']],
      [['admin', 'apikey'], ['create', 'list', 'revoke']],
      [['admin', 'apikey', 'create'], ['--tenant <name>', '--name <label>']],
      [['admin', 'apikey', 'list'], ['--tenant <name>', '--json']],
      [['admin', 'apikey', 'revoke'], ['<id-or-prefix>']],
      [['admin', 'migrate'], ['Apply pending migrations']],
    ];
    const runs = await Promise.all(commands.map(([command]) => lading([...command, '--help'])));
    commands.forEach(([command, expected], i) => {
      const run = runs[i]!;
      expect(run.code, command.join(' ')).toBe(0);
      expect(run.stdout).toMatch(new RegExp(`^Usage: lading ${command.join(' ')} `));
      for (const text of expected) expect(run.stdout, `${command.join(' ')} --help`).toContain(text);
    });
  });
});

describe('configuration', () => {
  it('LADING_URL and LADING_API_KEY instead of flags', async () => {
    const run = await lading(['imports', 'show', valid, '--json'], { LADING_URL: service.url, LADING_API_KEY: key });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).id).toBe(valid);
  });

  it('the dev server of DATA_DIR (dev-server.json with a live pid, dev-api-key); a stale pid exits 2', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'lading-cli-dev-'));
    try {
      await writeFile(path.join(dataDir, 'dev-server.json'), JSON.stringify({ url: service.url, pid: process.pid }));
      await writeFile(path.join(dataDir, 'dev-api-key'), `${key}\n`);
      const run = await lading(['products', 'get', 'TSHIRT-RED-M', '--json'], { DATA_DIR: dataDir });
      expect(run.code).toBe(0);
      expect(JSON.parse(run.stdout).sku).toBe('TSHIRT-RED-M');

      // A process that has ended: its pid is free.
      const ended = runScript('bin/require-node.js', [], {});
      await ended.exited;
      await writeFile(path.join(dataDir, 'dev-server.json'), JSON.stringify({ url: service.url, pid: ended.process.pid }));
      const stale = await lading(['products', 'get', 'TSHIRT-RED-M'], { DATA_DIR: dataDir });
      expect(stale).toEqual({
        code: 2,
        stdout: '',
        stderr:
          'lading: No Lading service to talk to: pass --url and --api-key, set LADING_URL and LADING_API_KEY, or run `npm start` in this clone first\n',
      });
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('lading admin', () => {
  let dataDir: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'lading-cli-admin-'));
    env = { DATABASE_URL: service.connectionString, DATA_DIR: dataDir };
  });
  afterAll(() => rm(dataDir, { recursive: true, force: true }));

  it('apikey create prints a key that works; list shows it; revoke ends it', async () => {
    const create = await lading(['admin', 'apikey', 'create', '--tenant', 'admin-co', '--name', 'ci'], env);
    expect(create.code).toBe(0);
    const lines = create.stdout.trimEnd().split('\n');
    const created = lines.at(-1)!;
    expect(created).toMatch(/^ldg_[A-Za-z0-9_-]{43}$/);
    expect(lines[0]).toMatch(new RegExp(`^Created API key \\S+ \\(${created.slice(0, 12)}…\\) for tenant "admin-co"\\.$`));
    const works = await lading(['imports', 'list', '--json', '--url', service.url, '--api-key', created]);
    expect(works.code).toBe(0);
    expect(JSON.parse(works.stdout)).toEqual({ items: [], next_cursor: null });

    const list = await lading(['admin', 'apikey', 'list', '--tenant', 'admin-co'], env);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`^\\S+\\t${created.slice(0, 12)}…\\ttenant=admin-co\\tactive\\tcreated \\S+Z\\tci\\n$`));
    const listJson = await lading(['admin', 'apikey', 'list', '--tenant', 'admin-co', '--json'], env);
    expect(JSON.parse(listJson.stdout)).toEqual([
      { id: expect.any(String), prefix: created.slice(0, 12), tenant: 'admin-co', name: 'ci', created_at: expect.any(String), revoked_at: null },
    ]);

    const revoke = await lading(['admin', 'apikey', 'revoke', created.slice(0, 12)], env);
    expect(revoke).toMatchObject({ code: 0, stdout: 'Revoked 1 API key.\n' });
    const refused = await lading(['imports', 'list', '--url', service.url, '--api-key', created]);
    expect(refused.code).toBe(2);
    const again = await lading(['admin', 'apikey', 'revoke', created.slice(0, 12)], env);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(`No active API key with id or prefix "${created.slice(0, 12)}"`);
  });

  it('apikey create without --tenant exits 2 before touching the database', async () => {
    const run = await lading(['admin', 'apikey', 'create'], { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
    expect(run).toEqual({ code: 2, stdout: '', stderr: 'lading: create needs --tenant NAME (see lading admin apikey create --help)\n' });
  });

  it('migrate says the database is up to date', async () => {
    const run = await lading(['admin', 'migrate'], env);
    expect(run).toMatchObject({ code: 0, stdout: 'The database was already up to date.\n' });
  });

  it('npm run apikey -- create is an alias', async () => {
    const child = runNpm(['run', '--silent', 'apikey', '--', 'create', '--tenant', 'npm-co'], { env });
    expect(await child.exited).toBe(0);
    const created = child.stdout().trimEnd().split('\n').at(-1)!;
    expect(created).toMatch(/^ldg_[A-Za-z0-9_-]{43}$/);
    expect((await service.request('/v1/imports', { key: created })).status).toBe(200);
  });
});
