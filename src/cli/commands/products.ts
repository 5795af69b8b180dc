import type { Command } from 'commander';

export function registerProductsCommands(_program: Command): void {}
