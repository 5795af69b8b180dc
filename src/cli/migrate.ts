import { runWithDatabase } from './cli-database.ts';

// `npm run migrate`: runWithDatabase applies pending migrations (ours, then graphile-worker's).
await runWithDatabase(async ({ applied }) => {
  process.stdout.write(applied.length ? `Applied ${applied.join(', ')}.\n` : 'The database was already up to date.\n');
});
