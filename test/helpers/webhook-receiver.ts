import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type ReceivedWebhook = { path: string; headers: http.IncomingHttpHeaders; body: string; at: number };
type Reply = number | { status: number; headers?: Record<string, string>; hang?: boolean };

/** A real HTTP server on loopback that records every request and answers from a script of replies. */
export async function startWebhookReceiver(port = 0) {
  const received: ReceivedWebhook[] = [];
  let script: Reply[] = [];
  let fallback: Reply = 204;
  const waiters: { count: number; resolve: () => void }[] = [];
  const server = http.createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      received.push({ path: request.url ?? '/', headers: request.headers, body, at: Date.now() });
      for (const waiter of [...waiters]) {
        if (received.length >= waiter.count) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve();
        }
      }
      const reply = script.shift() ?? fallback;
      const { status, headers, hang } = typeof reply === 'number' ? { status: reply, headers: {}, hang: false } : reply;
      if (hang) return; // never answers: the sender's timeout must act
      response.writeHead(status, headers).end(status >= 300 ? `status ${status}` : 'ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: boundPort } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${boundPort}`,
    port: boundPort,
    received,
    /** The next requests get these answers, in order; after them, `then`. */
    reply(replies: Reply[], then: Reply = 204) {
      script = [...replies];
      fallback = then;
    },
    waitForRequests(count: number, timeoutMs = 20_000): Promise<void> {
      if (received.length >= count) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${received.length} of ${count} requests`)), timeoutMs);
        waiters.push({ count, resolve: () => {
          clearTimeout(timer);
          resolve();
        } });
      });
    },
    close(): Promise<void> {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

export type WebhookReceiver = Awaited<ReturnType<typeof startWebhookReceiver>>;
