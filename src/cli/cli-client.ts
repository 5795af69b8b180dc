import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import type { ClientConfig } from './cli-config.ts';
import { CliError, EXIT } from './exit-codes.ts';

/**
 * The API as the CLI calls it: the key in the Authorization header, the API's error shape turned
 * into a CliError saying code and message (exit 1), an unreachable service into exit 2.
 */
export class CliClient {
  readonly config: ClientConfig;
  constructor(config: ClientConfig) {
    this.config = config;
  }

  async fetch(pathname: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${this.config.apiKey}`);
    let response: Response;
    try {
      response = await fetch(`${this.config.url}${pathname}`, { ...init, headers });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(`Cannot reach ${this.config.url}: ${cause?.code ?? cause?.message ?? (error as Error).message}`, EXIT.usage);
    }
    if (!response.ok) throw await apiFailure(response);
    return response;
  }

  /**
   * POST a byte stream and read the JSON answer. node:http with `pipe`, not fetch: fetch needs a
   * web stream, and converting the file stream cost the client 0.2–0.3 s of CPU on a 72 MB upload
   * (scripts/bench-cli.ts), CPU the service's own import wanted on a 2-core machine.
   */
  // biome-ignore lint/suspicious/noExplicitAny: API bodies are read loosely; each command says what it uses
  upload(pathname: string, headers: Record<string, string>, body: Readable, signal?: AbortSignal): Promise<any> {
    // Callers pass content-length when they know it (a file); otherwise node sends it chunked.
    const url = new URL(`${this.config.url}${pathname}`);
    const transport = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const request = transport.request(url, {
        method: 'POST',
        headers: { ...headers, authorization: `Bearer ${this.config.apiKey}` },
      });
      request.on('error', (error: NodeJS.ErrnoException) => {
        body.destroy();
        reject(new CliError(`Cannot reach ${this.config.url}: ${error.code ?? error.message}`, EXIT.usage));
      });
      body.on('error', (error: NodeJS.ErrnoException) => {
        request.destroy();
        reject(new CliError(`Cannot read the file: ${error.code ?? error.message}`, EXIT.usage));
      });
      request.on('response', (response) => {
        // The service may answer before the whole body is sent (401, 413, 415): stop sending.
        body.unpipe(request);
        body.destroy();
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = undefined;
          }
          const status = response.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve(parsed);
          else reject(failureOf(status, response.statusMessage ?? '', parsed));
        });
      });
      // Aborting while the body is still being sent stops it: the service drops a body that ends
      // early, so nothing is imported. Once the whole body is out, the import may already exist,
      // so the answer is awaited (the caller deals with the interruption after it).
      signal?.addEventListener('abort', () => {
        if (request.writableEnded) return;
        body.unpipe(request);
        body.destroy();
        request.destroy();
        reject(new CliError('Upload stopped: the service got part of the file and imported nothing', EXIT.failed));
      });
      body.pipe(request);
    });
  }

  // biome-ignore lint/suspicious/noExplicitAny: API bodies are read loosely; each command says what it uses
  async json(pathname: string, options: { method?: string; body?: unknown } = {}): Promise<any> {
    const init: RequestInit = { method: options.method ?? 'GET' };
    if (options.body !== undefined) {
      init.body = JSON.stringify(options.body);
      init.headers = { 'content-type': 'application/json' };
    }
    const response = await this.fetch(pathname, init);
    return response.status === 204 ? undefined : response.json();
  }
}

async function apiFailure(response: Response): Promise<CliError> {
  return failureOf(response.status, response.statusText, await response.json().catch(() => undefined));
}

function failureOf(status: number, statusText: string, parsed: unknown): CliError {
  const body = parsed as { error?: { code: string; message: string; requestId?: string } } | undefined;
  if (body?.error) {
    const code = status === 401 ? EXIT.usage : EXIT.failed;
    return new CliError(`${body.error.message} (${status} ${body.error.code}${body.error.requestId ? `, request ${body.error.requestId}` : ''})`, code);
  }
  return new CliError(`The service answered ${status} ${statusText}`, EXIT.failed);
}
