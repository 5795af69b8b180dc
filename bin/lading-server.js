#!/usr/bin/env node
// The service (`npm start`): the Node check, then src/main.ts.
import { requireNode } from './require-node.js';

requireNode();
await import('../src/main.ts');
