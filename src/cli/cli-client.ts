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
  const body = (await response.json().catch(() => undefined)) as { error?: { code: string; message: string; requestId?: string } } | undefined;
  if (body?.error) {
    const code = response.status === 401 ? EXIT.usage : EXIT.failed;
    return new CliError(`${body.error.message} (${response.status} ${body.error.code}${body.error.requestId ? `, request ${body.error.requestId}` : ''})`, code);
  }
  return new CliError(`The service answered ${response.status} ${response.statusText}`, EXIT.failed);
}
