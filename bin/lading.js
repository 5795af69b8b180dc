#!/usr/bin/env node
// The command-line client (`npx lading …`): the Node check, then src/cli/lading.ts.
import { requireNode } from './require-node.js';

requireNode();
await import('../src/cli/lading.ts');
