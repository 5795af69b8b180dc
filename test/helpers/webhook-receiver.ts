import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import { webhookEventSchema } from '../../src/webhooks/webhook-events.ts';

export type ReceivedWebhook = { path: string; headers: http.IncomingHttpHeaders; body: string; at: number };

/**
 * Why a received body is not a WebhookEvent, or null when it is one exactly: valid JSON, accepted
 * by webhookEventSchema, and with no field the schema does not know (zod would strip it silently).
 */
export function webhookBodyProblem(body: string): string | null {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return `not JSON: ${body.slice(0, 200)}`;
  }
  const parsed = webhookEventSchema.safeParse(json);
  if (!parsed.success) return z.prettifyError(parsed.error);
  if (!isDeepStrictEqual(parsed.data, json)) return `fields the schema does not describe: ${body.slice(0, 500)}`;
  return null;
}
type Reply = number | { status: number; headers?: Record<string, string>; hang?: boolean };

/**
 * A real HTTP server on loopback that records every request and answers from a script of replies.
 * Every body is checked against the published schema (webhookBodyProblem): after one that does not
 * match, reading `received`, waiting for requests and closing all throw, so the test fails.
 */
export async function startWebhookReceiver(port = 0) {
  const received: ReceivedWebhook[] = [];
  const problems: string[] = [];
  const failOnProblems = () => {
    if (problems.length > 0) throw new Error(`The receiver got webhook bodies that do not match webhookEventSchema:\n${problems.join('\n')}`);
  };
  let script: Reply[] = [];
  let fallback: Reply = 204;
  const waiters: { count: number; resolve: () => void }[] = [];
  const server = http.createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      const problem = webhookBodyProblem(body);
      if (problem) problems.push(`${request.method} ${request.url}: ${problem}`);
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
    /** Every request so far; throws once a body has not matched the schema. */
    get received(): ReceivedWebhook[] {
      failOnProblems();
      return received;
    },
    /** The next requests get these answers, in order; after them, `then`. */
    reply(replies: Reply[], then: Reply = 204) {
      script = [...replies];
      fallback = then;
    },
    async waitForRequests(count: number, timeoutMs = 20_000): Promise<void> {
      failOnProblems();
      if (received.length >= count) return;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${received.length} of ${count} requests`)), timeoutMs);
        waiters.push({ count, resolve: () => {
          clearTimeout(timer);
          resolve();
        } });
      });
      failOnProblems();
    },
    async close(): Promise<void> {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      failOnProblems();
    },
  };
}

export type WebhookReceiver = Awaited<ReturnType<typeof startWebhookReceiver>>;
