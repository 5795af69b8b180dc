// `node src/cli/apikey.ts …` is `lading admin apikey …` (src/cli/commands/admin.ts); `npm run apikey` calls that.
process.argv.splice(2, 0, 'admin', 'apikey');
await import('./lading.ts');
