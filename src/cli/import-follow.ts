import WebSocket from 'ws';
import type { ClientConfig } from './cli-config.ts';
import { CliError, EXIT } from './exit-codes.ts';

// `lading import` step 2: follow GET /v1/imports/ID/events ({type: snapshot|progress|finished,
// seq, import}) until `finished`. A dropped connection is opened again with backoff; the new
// connection's snapshot carries the current counts, so following simply continues from it.

// biome-ignore lint/suspicious/noExplicitAny: the API's import view, read loosely
export type ImportView = any;

export type FollowOptions = {
  onUpdate: (view: ImportView) => void;
  /** Said when the stream dropped and is being opened again (attempt n of maxAttempts). */
  onReconnect?: (attempt: number, maxAttempts: number) => void;
  /** Consecutive failed connections before giving up (exit 2). */
  maxAttempts?: number;
  backoffMs?: number;
};

export type Follower = {
  /** The `finished` view. */
  done: Promise<ImportView>;
  /** Stops following (no reconnect); `done` then never settles. */
  stop(): void;
};

export function followImport(config: ClientConfig, id: string, options: FollowOptions): Follower {
  const maxAttempts = options.maxAttempts ?? 6;
  const backoffMs = options.backoffMs ?? 250;
  const url = `${config.url.replace(/^http/, 'ws')}/v1/imports/${encodeURIComponent(id)}/events`;
  let socket: WebSocket | undefined;
  let stopped = false;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;

  const done = new Promise<ImportView>((resolve, reject) => {
    const connect = () => {
      if (stopped) return;
      let finished = false;
      let refused: CliError | undefined;
      const ws = new WebSocket(url, { headers: { authorization: `Bearer ${config.apiKey}` } });
      socket = ws;
      ws.on('unexpected-response', (_request, response) => {
        // 401/404: following cannot work; no point retrying.
        refused = new CliError(`The event stream of import ${id} was refused: ${response.statusCode} ${response.statusMessage ?? ''}`.trim(), response.statusCode === 401 ? EXIT.usage : EXIT.failed);
        ws.terminate();
      });
      ws.on('message', (data) => {
        let message: { type?: string; import?: ImportView };
        try {
          message = JSON.parse(String(data));
        } catch {
          return;
        }
        if (!message.import || !['snapshot', 'progress', 'finished'].includes(message.type ?? '')) return; // types to ignore
        failures = 0;
        options.onUpdate(message.import);
        if (message.type === 'finished') {
          finished = true;
          stopped = true;
          ws.close();
          resolve(message.import);
        }
      });
      ws.on('error', () => {}); // the close that follows decides
      ws.on('close', () => {
        if (finished || stopped) return;
        if (refused) {
          stopped = true;
          reject(refused);
          return;
        }
        failures++;
        if (failures > maxAttempts) {
          stopped = true;
          reject(
            new CliError(
              `Lost the event stream of import ${id} (${config.url} unreachable after ${maxAttempts} attempts); the import goes on: see \`lading imports show ${id}\``,
              EXIT.usage,
            ),
          );
          return;
        }
        options.onReconnect?.(failures, maxAttempts);
        timer = setTimeout(connect, Math.min(backoffMs * 2 ** (failures - 1), 5000));
      });
    };
    connect();
  });
  return {
    done,
    stop() {
      stopped = true;
      clearTimeout(timer);
      socket?.terminate();
    },
  };
}
