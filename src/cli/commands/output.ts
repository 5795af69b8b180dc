import { type Command, InvalidArgumentError } from 'commander';
import { CliClient } from '../cli-client.ts';
import { resolveClientConfig } from '../cli-config.ts';

// Shared by imports, webhooks and products: the API client of a command, and how results are printed
// (aligned tables and "field: value" lines for people, one JSON document for scripts).

/** The API client for a command: its --url / --api-key (given before or after the command), else the environment. */
export function clientOf(command: Command): CliClient {
  return new CliClient(resolveClientConfig(command.optsWithGlobals(), process.env));
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Rows under a header, each column as wide as its widest cell, two spaces apart. */
export function printTable(headers: string[], rows: string[][]): void {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  process.stdout.write(`${[line(headers), ...rows.map(line)].join('\n')}\n`);
}

/** "name: value" lines, the names aligned; null/undefined values print as "-". */
export function printFields(fields: [string, unknown][]): void {
  const width = Math.max(...fields.map(([name]) => name.length)) + 1;
  for (const [name, value] of fields) process.stdout.write(`${`${name}:`.padEnd(width)}  ${cell(value)}\n`);
}

/** A value as one table cell. */
export function cell(value: unknown): string {
  if (value === null || value === undefined || value === '') return '-';
  if (Array.isArray(value)) return value.length ? value.map(cell).join(', ') : '-';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** A positive whole number option (--limit). */
export function positiveInteger(value: string): number {
  if (!/^[1-9]\d*$/.test(value)) throw new InvalidArgumentError('must be a whole number of at least 1.');
  return Number(value);
}

/**
 * Follows a keyset-paginated listing ({items, next_cursor}): `limit` items at most (default 20), in
 * pages of up to `pageMax`; with `all`, every item, in pages of `limit` (default `pageMax`). Returns
 * the items and the cursor of what is left (null at the end).
 */
export async function collectPages<T>(
  client: CliClient,
  pathname: string,
  query: Record<string, string | undefined>,
  options: { limit?: number; all: boolean; pageMax: number },
): Promise<{ items: T[]; next_cursor: string | null }> {
  const items: T[] = [];
  const limit = options.limit ?? 20;
  let cursor: string | undefined;
  for (;;) {
    const wanted = options.all ? Math.min(options.pageMax, options.limit ?? options.pageMax) : Math.min(options.pageMax, limit - items.length);
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) if (value !== undefined) params.set(name, value);
    params.set('limit', String(wanted));
    if (cursor) params.set('cursor', cursor);
    const page = (await client.json(`${pathname}?${params}`)) as { items: T[]; next_cursor: string | null };
    items.push(...page.items);
    if (!page.next_cursor || (!options.all && items.length >= limit)) return { items, next_cursor: page.next_cursor };
    cursor = page.next_cursor;
  }
}
