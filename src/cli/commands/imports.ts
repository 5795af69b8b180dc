import type { Command } from 'commander';

export function registerImportsCommands(_program: Command): void {}
