import { Command, CommanderError } from 'commander';
import { registerAdminCommands } from './commands/admin.ts';
import { registerImportCommand } from './commands/import.ts';
import { registerImportsCommands } from './commands/imports.ts';
import { registerProductsCommands } from './commands/products.ts';
import { registerWebhooksCommands } from './commands/webhooks.ts';
import { CliError, EXIT, EXIT_CODES_HELP } from './exit-codes.ts';

// `lading`: the command-line client. Each command lives in src/cli/commands/ and talks to the
// HTTP API (admin commands use the database directly, like npm start).
const program = new Command('lading')
  .description('Import product files into Lading and inspect imports, webhooks and products')
  .option('--url <url>', 'the service (default: LADING_URL, else the `npm start` of this clone)')
  .option('--api-key <key>', 'an API key (default: LADING_API_KEY, else the dev key of this clone)')
  .addHelpText('after', `\n${EXIT_CODES_HELP}`)
  .showHelpAfterError()
  .exitOverride();

registerImportCommand(program);
registerImportsCommands(program);
registerWebhooksCommands(program);
registerProductsCommands(program);
registerAdminCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // --help and --version end here with code 0; a usage mistake was already printed.
    process.exit(error.exitCode === 0 ? EXIT.ok : EXIT.usage);
  }
  if (error instanceof CliError) {
    process.stderr.write(`lading: ${error.message}\n`);
    process.exit(error.code);
  }
  throw error;
}
