#!/usr/bin/env node
// The service (`npm start`): the Node check, then src/main.ts.
import module from 'node:module';
import { requireNode } from './require-node.js';

requireNode();
// glibc's malloc gives threads arenas of their own and keeps what they free; with two arenas an
// import's peak RSS was ~10 MB lower (docs/performance.md). glibc reads the variable only when a
// process starts, so this one replaces itself (execve: same pid, stdio and flags) with one that has
// it. Set MALLOC_ARENA_MAX yourself to choose another value; elsewhere than Linux nothing happens.
if (process.platform === 'linux' && process.env.MALLOC_ARENA_MAX === undefined && typeof process.execve === 'function') {
  process.execve(process.execPath, [process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    ...process.env,
    MALLOC_ARENA_MAX: '2',
  });
}
// Node's on-disk compile cache keeps the type-stripped, compiled modules between starts. On a hit
// Node never loads its TypeScript stripper (a WebAssembly module), in this thread or the parser
// thread: idle RSS was 148 MB on a cold cache and 109 MB on a warm one (docs/performance.md).
module.enableCompileCache?.();
await import('../src/main.ts');
