import type { Command } from 'commander';

export function registerWebhooksCommands(_program: Command): void {}
