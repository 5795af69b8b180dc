import type { Command } from 'commander';
import { clientOf, printFields, printJson } from './output.ts';

export function registerProductsCommands(program: Command): void {
  const products = program.command('products').description('Read products').addHelpText('after', '\nExample:\n  lading products get SKU-1001 --json');

  products
    .command('get')
    .description('One product by sku; exit 1 if there is none')
    .argument('<sku>', 'the product sku')
    .option('--json', 'print the product as the API returns it')
    .action(async (sku: string, options: { json?: boolean }, command: Command) => {
      const product = (await clientOf(command).json(`/v1/products/${encodeURIComponent(sku)}`)) as Record<string, unknown>;
      if (options.json) return printJson(product);
      printFields(Object.entries(product));
    });
}
