import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CopyFromBuffer } from '../src/db/copy-from-buffer.ts';
import { createTestDatabase } from './helpers/test-service.ts';

// CopyFromBuffer speaks the COPY FROM STDIN protocol itself (one socket write instead of
// pg-copy-streams' three); checked here against a real PostgreSQL: rows in, the count, a refusal
// that leaves nothing behind and the connection usable, and COPY after BEGIN in one query.

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let client: pg.Client;

beforeAll(async () => {
  database = await createTestDatabase({ empty: true });
  client = new pg.Client({ connectionString: database.connectionString });
  await client.connect();
  await client.query('create table copied (n integer primary key, label text not null)');
});
afterAll(async () => {
  await client?.end();
  await database?.drop();
});
beforeEach(async () => {
  await client.query('truncate copied');
});

const bytes = (text: string) => new TextEncoder().encode(text);
const stored = async () => (await client.query('select n, label from copied order by n')).rows;

describe('CopyFromBuffer', () => {
  it('copies the rows, escapes and all, and says how many', async () => {
    const copy = client.query(new CopyFromBuffer('copy copied (n, label) from stdin', bytes('1\tone\n2\ttab\\there\n3\tł 日本\n')));
    expect(await copy.done).toBe(3);
    expect(await stored()).toEqual([
      { n: 1, label: 'one' },
      { n: 2, label: 'tab\there' },
      { n: 3, label: 'ł 日本' },
    ]);
  });

  it('rejects with the server’s error, writes nothing, and leaves the connection ready for the next query', async () => {
    await client.query("insert into copied values (2, 'kept')");
    const copy = client.query(new CopyFromBuffer('copy copied (n, label) from stdin', bytes('1\tone\n2\tagain\n')));
    await expect(copy.done).rejects.toMatchObject({ code: '23505', message: expect.stringContaining('copied_pkey') });
    expect(await stored()).toEqual([{ n: 2, label: 'kept' }]);
    const refused = client.query(new CopyFromBuffer('copy copied (n, label) from stdin', bytes('x\tnot a number\n')));
    await expect(refused.done).rejects.toMatchObject({ code: '22P02', message: expect.stringContaining('"x"') });
    expect(await stored()).toEqual([{ n: 2, label: 'kept' }]);
  });

  it('clears the timer pg starts for a query_timeout (a DATABASE_URL may set one) once the copy is done', async () => {
    const timed = new pg.Client({ connectionString: database.connectionString, query_timeout: 60_000 });
    await timed.connect();
    try {
      const timers = () => process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;
      const before = timers();
      expect(await timed.query(new CopyFromBuffer('copy copied (n, label) from stdin', bytes('5\tfive\n'))).done).toBe(1);
      expect(timers()).toBe(before);
    } finally {
      await timed.end();
    }
  });

  it('opens a transaction and copies in it when BEGIN comes first in the same query', async () => {
    await client.query(new CopyFromBuffer('begin; copy copied (n, label) from stdin', bytes('7\tseven\n'))).done;
    // Its row gave the transaction an id, which a statement on its own (autocommit) would not keep.
    const { rows } = await client.query<{ inside: boolean }>('select pg_current_xact_id_if_assigned() is not null as inside');
    expect(rows[0]!.inside).toBe(true);
    await client.query('rollback');
    expect(await stored()).toEqual([]);
  });
});
