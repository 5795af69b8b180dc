import { onTestFinished } from 'vitest';
import WebSocket from 'ws';
import { z } from 'zod';
import type { LiveEventMessage } from '../../src/events/live-events.ts';

/** A message about an import: what the streams sent before alerts, and all one import's stream sends. */
export type EventMessage = Exclude<LiveEventMessage, { type: 'alert' }>;
/** An alert message: only the tenant stream (GET /v1/events) sends these. */
export type AlertMessage = Extract<LiveEventMessage, { type: 'alert' }>;

const validators = new Map<string, Promise<z.ZodType>>();

/**
 * The message schema as the service publishes it: components.schemas.LiveEventMessage of its
 * /openapi.json (fetched once per service), not the zod schema it comes from, so what is sent is
 * checked against what is documented. Stricter than the document on one point: a property it
 * does not list is an error here (clients may meet more later, but the tests see none today).
 */
export function publishedMessageSchema(baseUrl: string): Promise<z.ZodType> {
  let validator = validators.get(baseUrl);
  if (!validator) {
    validator = fetch(`${baseUrl}/openapi.json`)
      .then((response) => response.text())
      .then((text) => {
        // fromJSONSchema resolves only #/$defs/ references.
        const doc = JSON.parse(text.replaceAll('"#/components/schemas/', '"#/$defs/'));
        const defs = closeObjects(doc.components.schemas);
        if (!defs.LiveEventMessage) throw new Error('/openapi.json has no components.schemas.LiveEventMessage');
        return z.fromJSONSchema({ $ref: '#/$defs/LiveEventMessage', $defs: defs });
      });
    validator.catch(() => {}); // reported by each message it fails to check
    validators.set(baseUrl, validator);
  }
  return validator;
}

// biome-ignore lint/suspicious/noExplicitAny: walks arbitrary JSON Schema
function closeObjects(schema: any): any {
  if (Array.isArray(schema)) return schema.map(closeObjects);
  if (schema === null || typeof schema !== 'object') return schema;
  const copy = Object.fromEntries(Object.entries(schema).map(([key, value]) => [key, closeObjects(value)]));
  if (copy.type === 'object' && copy.additionalProperties === undefined) copy.additionalProperties = false;
  return copy;
}

export type EventClient = {
  socket: WebSocket;
  /** The import messages, in order (alert messages are in `alerts`). */
  messages: EventMessage[];
  alerts: AlertMessage[];
  /** Resolves once the server has accepted the upgrade. */
  opened: Promise<void>;
  closed: Promise<{ code: number; reason: string }>;
  /** Resolves when a message matches, or rejects at the deadline. */
  waitFor(predicate: (message: EventMessage) => boolean, timeoutMs?: number): Promise<EventMessage>;
  /** The same for alert messages. */
  waitForAlert(predicate: (message: AlertMessage) => boolean, timeoutMs?: number): Promise<AlertMessage>;
};

/**
 * A real `ws` client on an event stream; `path` may carry ?ticket=. Every message is checked
 * against the published schema before it is kept: one that does not fit fails the test that
 * opened the stream, and waitFor rejects at once.
 */
export function connectEvents(baseUrl: string, path: string, options: { key?: string; autoPong?: boolean } = {}): EventClient {
  const socket = new WebSocket(baseUrl.replace(/^http/, 'ws') + path, {
    headers: options.key ? { authorization: `Bearer ${options.key}` } : {},
    autoPong: options.autoPong ?? true,
  });
  const schema = publishedMessageSchema(baseUrl);
  const messages: EventMessage[] = [];
  const alerts: AlertMessage[] = [];
  const invalid: string[] = [];
  const waiters: { predicate: (m: EventMessage) => boolean; resolve: (m: EventMessage) => void; reject: (e: Error) => void }[] = [];
  const alertWaiters: { predicate: (m: AlertMessage) => boolean; resolve: (m: AlertMessage) => void; reject: (e: Error) => void }[] = [];
  const invalidError = () => new Error(`${path} sent messages that do not fit the published LiveEventMessage schema:\n${invalid.join('\n')}`);
  onTestFinished(() => {
    if (invalid.length > 0) throw invalidError();
  });
  // Messages are checked in arrival order; `closed` waits until all are.
  let checked: Promise<void> = Promise.resolve();
  socket.on('message', (data) => {
    const text = String(data);
    checked = checked.then(async () => {
      const problem = await schema.then(
        (published) => describeMismatch(published, text),
        (error: unknown) => `could not read the published schema: ${error}`,
      );
      if (problem) {
        invalid.push(problem);
        for (const waiter of [...waiters.splice(0), ...alertWaiters.splice(0)]) waiter.reject(invalidError());
        return;
      }
      const parsed = JSON.parse(text) as LiveEventMessage;
      if (parsed.type === 'alert') {
        alerts.push(parsed);
        for (const waiter of [...alertWaiters]) {
          if (waiter.predicate(parsed)) {
            alertWaiters.splice(alertWaiters.indexOf(waiter), 1);
            waiter.resolve(parsed);
          }
        }
        return;
      }
      const message = parsed;
      messages.push(message);
      for (const waiter of [...waiters]) {
        if (waiter.predicate(message)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(message);
        }
      }
    });
  });
  const opened = new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('unexpected-response', (_request, response) => reject(new UpgradeRefused(response.statusCode ?? 0)));
    socket.once('error', reject);
  });
  opened.catch(() => {});
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.once('close', (code, reason) => void checked.then(() => resolve({ code, reason: String(reason) })));
  });
  return {
    socket,
    messages,
    alerts,
    opened,
    closed,
    waitFor(predicate, timeoutMs = 30_000) {
      return waitIn(messages, waiters, predicate, timeoutMs);
    },
    waitForAlert(predicate, timeoutMs = 30_000) {
      return waitIn(alerts, alertWaiters, predicate, timeoutMs);
    },
  };

  function waitIn<M extends LiveEventMessage>(
    list: M[],
    pending: { predicate: (m: M) => boolean; resolve: (m: M) => void; reject: (e: Error) => void }[],
    predicate: (m: M) => boolean,
    timeoutMs: number,
  ): Promise<M> {
    const found = list.find(predicate);
    if (found) return Promise.resolve(found);
    if (invalid.length > 0) return Promise.reject(invalidError());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching message within ${timeoutMs} ms; got ${list.map((m) => `${m.type}:${m.seq}`).join(' ')}`)), timeoutMs);
      pending.push({
        predicate,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }
}

export class UpgradeRefused extends Error {
  readonly status: number;
  constructor(status: number) {
    super(`upgrade refused with ${status}`);
    this.status = status;
  }
}

/** Why a frame does not fit the schema, or undefined when it does. */
function describeMismatch(schema: z.ZodType, text: string): string | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return `not JSON: ${text.slice(0, 200)}`;
  }
  const parsed = schema.safeParse(json);
  return parsed.success ? undefined : `${z.prettifyError(parsed.error)}\n  in ${text.slice(0, 500)}`;
}

/** Asserts the shape every stream must have: snapshot, strictly increasing seq, finished last. */
export function seqs(messages: EventMessage[]): number[] {
  return messages.map((m) => m.seq);
}
