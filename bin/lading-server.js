#!/usr/bin/env node
// The service (`npm start`): the Node check, then src/main.ts.
import { spawnSync } from 'node:child_process';
import module from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
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
// The first module that misses the cache loads the stripper, which then stays for the process's
// life: on an empty cache (an upgrade, a new container) idle RSS was 115 MB instead of 94, and the
// parser thread, holding it too, took 39 s instead of 25 for a 5M-row import. So a child process
// with the same flags compiles every module first (src/main.ts, LADING_COMPILE_ONLY; ~0.2 s on a
// warm cache), and this one finds them all in the cache (docs/performance.md).
const compileCache = module.getCompileCacheDir?.();
if (compileCache) {
  spawnSync(process.execPath, [...process.execArgv.filter((arg) => !arg.startsWith('--inspect')), fileURLToPath(new URL('../src/main.ts', import.meta.url))], {
    env: { ...process.env, LADING_COMPILE_ONLY: '1', NODE_COMPILE_CACHE: path.dirname(compileCache) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}
await import('../src/main.ts');
