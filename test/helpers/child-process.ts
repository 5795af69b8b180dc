import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';

export type Child = { process: ChildProcess; stdout(): string; stderr(): string; exited: Promise<number | null> };

/** Runs a project script with this Node (24) as a real child process; output is collected. */
export function runScript(script: string, args: string[], env: Record<string, string | undefined>): Child {
  const baseEnv = { ...process.env };
  delete baseEnv.DATABASE_URL;
  return collect(
    spawn(process.execPath, [script, ...args], {
      env: { ...baseEnv, LOG_FORMAT: 'json', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
}

/** Collects a child process's output. */
export function collect(child: ChildProcess): Child {
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return { process: child, stdout: () => out, stderr: () => err, exited };
}

/** Waits until the child's stdout matches, failing with its output at the deadline or if it exits. */
export async function waitForOutput(child: Child, pattern: RegExp, timeoutMs = 60_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = child.stdout().match(pattern);
    if (match) return match;
    if (child.process.exitCode !== null || Date.now() > deadline) {
      throw new Error(`no ${pattern} in output (exit ${child.process.exitCode}):\n${child.stdout()}\n${child.stderr()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * PATH as the user's shell has it: without the node_modules/.bin entries that `npm test` put in
 * front for this run (so `node` is the machine's own Node, 20 on CI's machines).
 */
export function machinePath(): string {
  return (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter((dir) => !dir.includes(`node_modules${path.sep}.bin`) && !dir.includes('node-gyp-bin'))
    .join(path.delimiter);
}

/** The machine's own `node` version (e.g. "20.20.2"), or undefined when there is none. */
export function machineNodeVersion(): string | undefined {
  try {
    return execFileSync('node', ['-p', 'process.versions.node'], { env: { ...process.env, PATH: machinePath() }, encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}

/**
 * Runs `npm ARGS` as a user would from a shell: the machine's PATH, no npm_* variables of this run,
 * in a process group of its own (npm, its shell and the program), as a terminal gives it: signal the
 * group, as Ctrl-C or a service manager does, with `process.kill(-child.process.pid, signal)`.
 */
export function runNpm(args: string[], options: { cwd?: string; env?: Record<string, string | undefined> } = {}): Child {
  const env: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(name) && name !== 'DATABASE_URL') env[name] = value;
  }
  return collect(
    spawn('npm', args, {
      cwd: options.cwd,
      env: { ...env, PATH: machinePath(), LOG_FORMAT: 'json', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    }),
  );
}

/**
 * The service as `npm start` runs it (bin/lading-server.js), as a child process on a test database:
 * for crash and restart tests. Resolves once it listens.
 */
export async function startServiceProcess(env: Record<string, string>): Promise<{ child: Child; url: string }> {
  const child = runScript('bin/lading-server.js', [], { PORT: '0', LOG_LEVEL: 'warn', WORKER_POLL_INTERVAL_MS: '100', ...env });
  const [, url] = await waitForOutput(child, /listening on (http:\/\/\S+)/);
  return { child, url: url! };
}
