import http from 'node:http';
import https from 'node:https';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { RequestFilteringHttpAgent, RequestFilteringHttpsAgent } from 'request-filtering-agent';
import { Webhook } from 'standardwebhooks';
import { inSpan } from '../tracing/spans.ts';

export type SendOptions = { timeoutMs: number; allowPrivate: boolean };

export type SendResult = {
  attemptedAt: Date;
  statusCode: number | null;
  durationMs: number;
  /** The first KiB of the response body. */
  responseBody: string | null;
  error: string | null;
  /** From a Retry-After header, in ms. */
  retryAfterMs: number | null;
};

const RESPONSE_BODY_LIMIT = 1024;

// The agents check the address every connection really goes to, after DNS (so a name that
// resolves, or rebinds, to 127.0.0.1 or 169.254.169.254 is refused before any packet is sent).
const agents = new Map<string, http.Agent>();
function agentFor(url: URL, allowPrivate: boolean): http.Agent {
  const key = `${url.protocol}${allowPrivate}`;
  let agent = agents.get(key);
  if (!agent) {
    const options = { allowPrivateIPAddress: allowPrivate, keepAlive: false };
    agent = url.protocol === 'https:' ? new RequestFilteringHttpsAgent(options) : new RequestFilteringHttpAgent(options);
    agents.set(key, agent);
  }
  return agent;
}

/** Every live secret signs (two during a rotation), space-separated as Standard Webhooks says. */
export function signWebhook(secrets: string[], eventId: string, timestamp: Date, body: string): string {
  return secrets.map((secret) => new Webhook(secret).sign(eventId, timestamp, body)).join(' ');
}

/**
 * One delivery attempt: POST the signed body, follow no redirect, give up after timeoutMs. Never
 * throws: every outcome is described for the attempt log. Traced as an HTTP client span (child of
 * the active context: the delivery job's) with the host, the status code, the duration and the
 * error; not the URL's path or query, which may hold a receiver's token.
 */
export function sendWebhook(target: { url: string; eventId: string; body: string; secrets: string[] }, options: SendOptions): Promise<SendResult> {
  const url = new URL(target.url);
  const attributes = {
    'http.request.method': 'POST',
    'server.address': url.hostname,
    'server.port': Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
    'url.scheme': url.protocol.slice(0, -1),
    'lading.webhook.event_id': target.eventId,
  };
  return inSpan('webhook attempt', { kind: SpanKind.CLIENT, attributes }, async (span) => {
    const result = await send(target, options);
    if (result.statusCode !== null) span.setAttribute('http.response.status_code', result.statusCode);
    span.setAttribute('lading.webhook.duration_ms', result.durationMs);
    const error = result.error ?? (result.statusCode !== null && (result.statusCode < 200 || result.statusCode > 299) ? `HTTP ${result.statusCode}` : null);
    if (error !== null) {
      span.setAttribute('error.type', result.statusCode !== null && !result.error ? String(result.statusCode) : 'request_failed');
      span.setStatus({ code: SpanStatusCode.ERROR, message: error });
    }
    return result;
  });
}

async function send(
  target: { url: string; eventId: string; body: string; secrets: string[] },
  options: SendOptions,
): Promise<SendResult> {
  const attemptedAt = new Date();
  const started = performance.now();
  const url = new URL(target.url);
  const headers = {
    'content-type': 'application/json',
    'user-agent': 'Lading-Webhooks/1',
    'webhook-id': target.eventId,
    'webhook-timestamp': String(Math.floor(attemptedAt.getTime() / 1000)),
    'webhook-signature': signWebhook(target.secrets, target.eventId, attemptedAt, target.body),
  };
  const finish = (fields: Partial<SendResult>): SendResult => ({
    attemptedAt,
    statusCode: null,
    responseBody: null,
    error: null,
    retryAfterMs: null,
    ...fields,
    durationMs: Math.round(performance.now() - started),
  });

  return new Promise((settle) => {
    let settled = false;
    const resolve = (result: SendResult) => {
      if (!settled) settle(result);
      settled = true;
    };
    const request = (url.protocol === 'https:' ? https : http).request(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': Buffer.byteLength(target.body) },
        agent: agentFor(url, options.allowPrivate),
        signal: AbortSignal.timeout(options.timeoutMs),
      },
      (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const done = () =>
          resolve(
            finish({
              statusCode: response.statusCode ?? null,
              responseBody: Buffer.concat(chunks).subarray(0, RESPONSE_BODY_LIMIT).toString('utf8'),
              retryAfterMs: parseRetryAfter(response.headers['retry-after']),
            }),
          );
        response.on('data', (chunk: Buffer) => {
          if (size < RESPONSE_BODY_LIMIT) chunks.push(chunk);
          size += chunk.length;
          if (size >= RESPONSE_BODY_LIMIT) {
            response.destroy(); // the rest is not needed
            done();
          }
        });
        response.on('end', done);
        response.on('error', done);
      },
    );
    request.on('error', (error: Error) => resolve(finish({ error: describeError(error, url, options.timeoutMs) })));
    request.end(target.body);
  });
}

function describeError(error: Error, url: URL, timeoutMs: number): string {
  if (error.name === 'AbortError' || error.name === 'TimeoutError') return `timed out after ${timeoutMs} ms`;
  if (/is not allowed/.test(error.message)) {
    return `refused: ${url.hostname} is a private, loopback, link-local or reserved address (${error.message}); set WEBHOOK_ALLOW_PRIVATE=true to allow it`;
  }
  return error.message;
}

/** Retry-After as seconds or an HTTP date; capped at one day. */
export function parseRetryAfter(value: string | string[] | undefined): number | null {
  const text = Array.isArray(value) ? value[0] : value;
  if (!text) return null;
  const ms = /^\d+$/.test(text.trim()) ? Number(text.trim()) * 1000 : Date.parse(text) - Date.now();
  if (!Number.isFinite(ms)) return null;
  return Math.min(Math.max(ms, 0), 24 * 60 * 60 * 1000);
}
