import { parseArgs } from 'node:util';
import { listApiKeys } from '../api-keys/api-key-queries.ts';
import { createApiKey, revokeApiKeys } from '../api-keys/api-keys.ts';
import { runWithDatabase, UsageError } from './cli-database.ts';

const USAGE = `Usage:
  npm run apikey -- create --tenant NAME [--name LABEL]   prints the new key as the last line
  npm run apikey -- list [--tenant NAME]
  npm run apikey -- revoke ID_OR_PREFIX`;

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { tenant: { type: 'string' }, name: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
});
const [command, target] = positionals;
if (values.help || !command) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(values.help ? 0 : 2);
}

await runWithDatabase(async ({ pool }) => {
  switch (command) {
    case 'create': {
      if (!values.tenant) throw new UsageError(`create needs --tenant NAME\n${USAGE}`);
      if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/.test(values.tenant)) {
        throw new UsageError('The tenant name must be 1–100 letters, digits, "-", "_" or ".", starting with a letter or digit');
      }
      const created = await createApiKey(pool, { tenant: values.tenant, name: values.name });
      process.stdout.write(`Created API key ${created.id} (${created.prefix}…) for tenant "${created.tenant}".\n`);
      process.stdout.write('Store it now: it cannot be shown again.\n');
      process.stdout.write(`${created.key}\n`);
      return;
    }
    case 'list': {
      const keys = await listApiKeys(pool, values.tenant);
      if (keys.length === 0) process.stdout.write('No API keys.\n');
      for (const key of keys) {
        const state = key.revoked_at ? `revoked ${key.revoked_at.toISOString()}` : 'active';
        process.stdout.write(
          `${key.id}\t${key.prefix}…\ttenant=${key.tenant_name}\t${state}\tcreated ${key.created_at.toISOString()}\t${key.name}\n`,
        );
      }
      return;
    }
    case 'revoke': {
      if (!target) throw new UsageError(`revoke needs the key's id or prefix\n${USAGE}`);
      const revoked = await revokeApiKeys(pool, target.replace(/…$/, ''));
      if (revoked === 0) throw new UsageError(`No active API key with id or prefix "${target}"`);
      process.stdout.write(`Revoked ${revoked} API key${revoked > 1 ? 's' : ''}.\n`);
      return;
    }
    default:
      throw new UsageError(`Unknown command "${command}"\n${USAGE}`);
  }
});
