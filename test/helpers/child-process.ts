import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

export type Child = { process: ChildProcess; stdout(): string; stderr(): string; exited: Promise<number | null> };

/** Runs a project script with this Node (24) as a real child process; output is collected. */
export function runScript(script: string, args: string[], env: Record<string, string | undefined>): Child {
  const baseEnv = { ...process.env };
  delete baseEnv.DATABASE_URL;
  const child = spawn(process.execPath, [script, ...args], {
    env: { ...baseEnv, LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
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
