// `node src/cli/migrate.ts` is `lading admin migrate` (src/cli/commands/admin.ts); `npm run migrate` calls that.
process.argv.splice(2, 0, 'admin', 'migrate');
await import('./lading.ts');
