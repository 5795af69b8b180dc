import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

// One log-line shape everywhere: pino JSON in production, pino-pretty on a terminal.
// Request and job loggers are children of this one, carrying requestId / importId / jobId.
// CLI commands log to stderr (fd 2) so their stdout carries only their result.
export function createLogger(options: { level: string; format: 'json' | 'pretty'; fd?: 1 | 2 }): Logger {
  const base = { level: options.level, base: { service: 'lading' } };
  const fd = options.fd ?? 1;
  if (options.format === 'pretty') {
    // Synchronous pretty stream (no transport thread): logs stay in order with console output.
    return pino(base, pretty({ colorize: true, singleLine: true, sync: true, destination: fd, ignore: 'pid,hostname,service' }));
  }
  return pino(base, pino.destination({ fd, sync: true }));
}
