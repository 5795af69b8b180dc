import { Logger as GraphileLogger, type LogLevel } from 'graphile-worker';
import type { Logger } from '../logger.ts';

const levels: Record<LogLevel, 'error' | 'warn' | 'info' | 'debug'> = {
  error: 'error',
  warning: 'warn',
  info: 'info',
  debug: 'debug',
};

/** Routes graphile-worker's own log lines through pino, so every line has one shape. */
export function toGraphileLogger(logger: Logger): GraphileLogger {
  return new GraphileLogger((scope) => {
    const child = logger.child({ library: 'graphile-worker', ...pickScope(scope) });
    return (level, message, meta) => child[levels[level]](meta ?? {}, message);
  });
}

function pickScope(scope: Record<string, unknown>): Record<string, unknown> {
  const { workerId, taskIdentifier, jobId } = scope;
  return Object.fromEntries(Object.entries({ workerId, taskIdentifier, jobId }).filter(([, v]) => v !== undefined));
}
