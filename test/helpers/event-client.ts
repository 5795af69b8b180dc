import WebSocket from 'ws';

export type EventMessage = {
  type: 'snapshot' | 'progress' | 'finished';
  seq: number;
  import: {
    id: string;
    status: string;
    rows_processed: number;
    rows_inserted: number;
    rows_updated: number;
    rows_rejected: number;
    batches_committed: number;
    warnings: string[];
    [key: string]: unknown;
  };
};

export type EventClient = {
  socket: WebSocket;
  messages: EventMessage[];
  /** Resolves once the server has accepted the upgrade. */
  opened: Promise<void>;
  closed: Promise<{ code: number; reason: string }>;
  /** Resolves when a message matches, or rejects at the deadline. */
  waitFor(predicate: (message: EventMessage) => boolean, timeoutMs?: number): Promise<EventMessage>;
};

/** A real `ws` client on an event stream; `path` may carry ?ticket=. */
export function connectEvents(baseUrl: string, path: string, options: { key?: string; autoPong?: boolean } = {}): EventClient {
  const socket = new WebSocket(baseUrl.replace(/^http/, 'ws') + path, {
    headers: options.key ? { authorization: `Bearer ${options.key}` } : {},
    autoPong: options.autoPong ?? true,
  });
  const messages: EventMessage[] = [];
  const waiters: { predicate: (m: EventMessage) => boolean; resolve: (m: EventMessage) => void }[] = [];
  socket.on('message', (data) => {
    const message = JSON.parse(String(data)) as EventMessage;
    messages.push(message);
    for (const waiter of [...waiters]) {
      if (waiter.predicate(message)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(message);
      }
    }
  });
  const opened = new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('unexpected-response', (_request, response) => reject(new UpgradeRefused(response.statusCode ?? 0)));
    socket.once('error', reject);
  });
  opened.catch(() => {});
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.once('close', (code, reason) => resolve({ code, reason: String(reason) }));
  });
  return {
    socket,
    messages,
    opened,
    closed,
    waitFor(predicate, timeoutMs = 30_000) {
      const found = messages.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching message within ${timeoutMs} ms; got ${messages.map((m) => `${m.type}:${m.seq}`).join(' ')}`)), timeoutMs);
        waiters.push({ predicate, resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        } });
      });
    },
  };
}

export class UpgradeRefused extends Error {
  readonly status: number;
  constructor(status: number) {
    super(`upgrade refused with ${status}`);
    this.status = status;
  }
}

/** Asserts the shape every stream must have: snapshot, strictly increasing seq, finished last. */
export function seqs(messages: EventMessage[]): number[] {
  return messages.map((m) => m.seq);
}
