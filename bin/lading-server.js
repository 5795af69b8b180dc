#!/usr/bin/env node
// The service (`npm start`): the Node check, then src/main.ts.
import module from 'node:module';
import { requireNode } from './require-node.js';

requireNode();
// Node's on-disk compile cache keeps the type-stripped, compiled modules between starts. On a hit
// Node never loads its TypeScript stripper (a WebAssembly module), in this thread or the parser
// thread: idle RSS was 148 MB on a cold cache and 109 MB on a warm one (docs/performance.md).
module.enableCompileCache?.();
await import('../src/main.ts');
