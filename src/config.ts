import path from 'node:path';
import { z } from 'zod';
import type { StorageConfig } from './storage/storage.ts';

// Every setting Lading reads from the environment, parsed once at start-up and passed down.
// Nothing below src/ reads process.env itself.
const integer = (min: number, max: number) =>
  z.coerce.number({ error: `must be a whole number from ${min} to ${max}` }).int({ error: `must be a whole number from ${min} to ${max}` }).min(min, { error: `must be at least ${min}` }).max(max, { error: `must be at most ${max}` });

const configSchema = z.object({
  LADING_ROLE: z.enum(['all', 'api', 'worker'], { error: 'must be all, api or worker' }).default('all'),
  PORT: integer(0, 65535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, { error: 'must be a postgres:// or postgresql:// connection URL' })
    .optional(),
  DATA_DIR: z.string().min(1).default('./.data'),
  STORAGE_URL: z
    .string()
    .regex(/^(file:\/\/\/.*|s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?)$/, {
      error: 'must be file:///an/absolute/folder or s3://bucket/optional/prefix',
    })
    .optional(),
  S3_ENDPOINT: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  S3_REGION: z.string().min(1).default('us-east-1'),
  S3_FORCE_PATH_STYLE: z.enum(['true', 'false', '1', '0'], { error: 'must be true or false' }).optional(),
  // The AWS SDK's usual variables; without them the SDK's own chain applies (AWS_PROFILE, an instance role …).
  AWS_ACCESS_KEY_ID: z.string().min(1).optional(),
  AWS_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  AWS_SESSION_TOKEN: z.string().min(1).optional(),
  MAX_UPLOAD_BYTES: integer(1, Number.MAX_SAFE_INTEGER).default(1024 ** 3),
  // A product is at most ~6 KB of JSON and a webhook endpoint less than 1 KB: 1 MiB never refuses a real one.
  MAX_JSON_BODY_BYTES: integer(1024, 1024 ** 3).default(1024 ** 2),
  RATE_LIMIT_REQUESTS: integer(0, 1_000_000).default(600),
  RATE_LIMIT_WINDOW_SECONDS: integer(1, 86_400).default(60),
  // Progress is published once per committed batch, and promised at least every 1000 rows; smaller
  // batches cost round trips, larger ones gained little (docs/performance.md, "Batch size").
  BATCH_SIZE: integer(1, 1000).default(1000),
  MAX_RECORD_SIZE: integer(1024, 256 * 1024 ** 2).optional(),
  // The name before MAX_RECORD_SIZE (the limit was always per record, as csv-parse applies it); still read.
  MAX_FIELD_SIZE: integer(1024, 256 * 1024 ** 2).optional(),
  MAX_COLUMNS: integer(2, 100_000).default(500),
  MAX_RECORDS: integer(1, Number.MAX_SAFE_INTEGER).default(50_000_000),
  // 0: no chunks. Chunks cost work (each batch is staged, then read back) and pay only when
  // workers on other machines have cores to spare: 2M rows on 2 cores took 10.3 s whole and 17.0 s
  // in 16 MiB chunks (docs/scaling.md).
  IMPORT_CHUNK_BYTES: integer(0, Number.MAX_SAFE_INTEGER).default(0),
  IMPORT_JOB_TIME_BUDGET_MS: integer(1000, 24 * 3600_000).default(300_000),
  SHUTDOWN_TIMEOUT_MS: integer(1000, 3600_000).default(25_000),
  WORKER_STALE_AFTER_MS: integer(1000, 3600_000).default(30_000),
  WORKER_CONCURRENCY: integer(1, 64).default(2),
  DATABASE_POOL_SIZE: integer(2, 200).default(10),
  WORKER_POLL_INTERVAL_MS: integer(50, 60_000).default(2000),
  WS_HEARTBEAT_MS: integer(100, 600_000).default(30_000),
  WS_MAX_BUFFERED_BYTES: integer(1024, 1024 ** 3).default(1024 ** 2),
  WEBHOOK_TIMEOUT_MS: integer(100, 120_000).default(10_000),
  WEBHOOK_RETRY_SCHEDULE: z
    .string()
    .default('5,300,1800,7200,18000,36000,36000')
    .transform((value, ctx) => {
      const delays = value.split(',').map((part) => Number(part.trim()));
      if (delays.some((d) => !Number.isFinite(d) || d < 0) || value.trim() === '') {
        ctx.issues.push({ code: 'custom', input: value, message: 'must be comma-separated seconds, e.g. 5,300,1800' });
        return z.NEVER;
      }
      return delays;
    }),
  WEBHOOK_ALLOW_PRIVATE: z
    .enum(['true', 'false', '1', '0'], { error: 'must be true or false' })
    .default('false')
    .transform((value) => value === 'true' || value === '1'),
  WEBHOOK_DISABLE_AFTER_FAILURES: integer(1, 1000).default(5),
  WEBHOOK_CONCURRENCY: integer(0, 64).default(4),
  PUBLIC_BASE_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      error: 'must be one of fatal, error, warn, info, debug, trace, silent',
    })
    .default('info'),
  LOG_FORMAT: z.enum(['json', 'pretty'], { error: 'must be json or pretty' }).optional(),
  // OpenTelemetry tracing: off unless an endpoint is set (the SDK is then not even loaded).
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  OTEL_EXPORTER_OTLP_HEADERS: z
    .string()
    .regex(/^[^=,]+=[^,]*(,[^=,]+=[^,]*)*$/, { error: 'must be comma-separated key=value pairs' })
    .optional(),
  OTEL_SERVICE_NAME: z.string().min(1).default('lading'),
  // Longest wait before finished spans are exported together (the OpenTelemetry default: 5 s).
  OTEL_BSP_SCHEDULE_DELAY: integer(1, 600_000).default(5000),
  METRICS_ENABLED: z
    .enum(['true', 'false', '1', '0'], { error: 'must be true or false' })
    .default('true')
    .transform((value) => value === 'true' || value === '1'),
  METRICS_PORT: integer(0, 65535).optional(),
  CONSOLE_ENABLED: z
    .enum(['true', 'false', '1', '0'], { error: 'must be true or false' })
    .default('true')
    .transform((value) => value === 'true' || value === '1'),
});

/**
 * What this process runs. all: everything (one process); api: HTTP, WebSockets and LISTEN, no
 * jobs; worker: import and webhook jobs, and on PORT only /health, /ready and /metrics. Any mix of
 * processes shares one database (and so one job queue).
 */
export type Role = 'all' | 'api' | 'worker';

export type Config = {
  role: Role;
  /** The public API's port; in a worker process, the port of /health, /ready and /metrics. */
  port: number;
  host: string;
  /** Absent: Lading runs its own embedded PostgreSQL under dataDir. */
  databaseUrl: string | undefined;
  dataDir: string;
  /** Where uploads are kept until their import ends (STORAGE_URL; src/storage/). */
  storage: StorageConfig;
  maxUploadBytes: number;
  /** Largest JSON request body (every /v1 route but the CSV upload); larger ones get 413. */
  maxJsonBodyBytes: number;
  /** Requests per API key per window, in this process; requests 0 = no limit. */
  rateLimit: { requests: number; windowSeconds: number };
  batchSize: number;
  /**
   * An upload longer than this is cut into chunks of at least this many bytes, which any worker
   * parses while the import's job writes them in order (src/imports/chunk-boundaries.ts); 0: never.
   */
  importChunkBytes: number;
  limits: {
    /** Longest record (and so field), in characters. */
    maxRecordSize: number;
    maxColumns: number;
    maxRecords: number;
  };
  /** An import job pauses at a batch boundary after this long and re-enqueues its continuation. */
  importJobTimeBudgetMs: number;
  /** SIGTERM: the longest wait for the running batches before the process exits anyway. */
  shutdownTimeoutMs: number;
  /** A worker process silent for this long is dead: its jobs are released to the others. */
  workerStaleAfterMs: number;
  workerConcurrency: number;
  databasePoolSize: number;
  /** How often workers look for jobs that became due (new jobs are announced at once). */
  workerPollIntervalMs: number;
  /** WebSocket ping interval; a socket that misses one pong is dropped. */
  wsHeartbeatMs: number;
  /** A subscriber whose unsent data passes this is closed with 1013. */
  wsMaxBufferedBytes: number;
  webhooks: {
    timeoutMs: number;
    /** Seconds to wait before each retry; attempts = 1 + its length. */
    retrySchedule: number[];
    /** Deliver to loopback/private/link-local addresses (development, tests). */
    allowPrivate: boolean;
    /** Consecutive failed deliveries after which an endpoint is disabled. */
    disableAfter: number;
    /** Deliveries in flight at once in this process; 0 = this process delivers none. */
    concurrency: number;
  };
  /** Base of links sent to integrators (errors_url); defaults to where this process listens. */
  publicBaseUrl: string | undefined;
  logLevel: z.infer<typeof configSchema>['LOG_LEVEL'];
  logFormat: 'json' | 'pretty';
  tracing: TracingConfig;
  /**
   * GET /metrics (Prometheus text format), unauthenticated. port: served by a second HTTP server
   * on that port (same host) and not on the main one, so it can stay off the public interface.
   */
  metrics: { enabled: boolean; port: number | undefined };
  /** The web console at `/` (src/console/). */
  consoleEnabled: boolean;
};

export type TracingConfig = {
  /** Where spans are POSTed (OTLP/HTTP, JSON); undefined: tracing is off. */
  tracesUrl: string | undefined;
  /** Sent with every export (OTEL_EXPORTER_OTLP_HEADERS), e.g. a backend's API key. */
  headers: Record<string, string>;
  serviceName: string;
  /** Longest wait before finished spans are exported. */
  exportDelayMs: number;
};

export class ConfigError extends Error {}

export function loadConfig(env: NodeJS.ProcessEnv, options: { isTerminal?: boolean } = {}): Config {
  // An empty variable (FOO= in a .env or compose file) means "not set", not "set to nothing".
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const parsed = configSchema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? 'environment');
      const value = present[name];
      return `${name}: ${issue.message}${value === undefined ? '' : ` (got ${JSON.stringify(value)})`}`;
    });
    throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  const c = parsed.data;
  if (c.METRICS_PORT !== undefined && c.METRICS_PORT !== 0 && c.METRICS_PORT === c.PORT) {
    throw new ConfigError(`Invalid configuration:\n  METRICS_PORT: must differ from PORT (got "${c.METRICS_PORT}")`);
  }
  // Processes of split roles meet only in the database: an embedded one would be each process's own.
  if (c.LADING_ROLE !== 'all' && c.DATABASE_URL === undefined) {
    throw new ConfigError(
      `Invalid configuration:\n  DATABASE_URL: must be set with LADING_ROLE=${c.LADING_ROLE} (the processes of split roles share one PostgreSQL; the embedded one serves a single process)`,
    );
  }
  // A worker's links in webhooks (errors_url) must point at the API, which it cannot know.
  if (c.LADING_ROLE === 'worker' && c.PUBLIC_BASE_URL === undefined) {
    throw new ConfigError(
      'Invalid configuration:\n  PUBLIC_BASE_URL: must be set with LADING_ROLE=worker (the API\'s address, where links in webhooks such as errors_url point)',
    );
  }
  return {
    role: c.LADING_ROLE,
    port: c.PORT,
    host: c.HOST,
    databaseUrl: c.DATABASE_URL,
    dataDir: path.resolve(c.DATA_DIR),
    storage: storageConfig(c, path.join(path.resolve(c.DATA_DIR), 'uploads')),
    maxUploadBytes: c.MAX_UPLOAD_BYTES,
    maxJsonBodyBytes: c.MAX_JSON_BODY_BYTES,
    rateLimit: { requests: c.RATE_LIMIT_REQUESTS, windowSeconds: c.RATE_LIMIT_WINDOW_SECONDS },
    batchSize: c.BATCH_SIZE,
    importChunkBytes: c.IMPORT_CHUNK_BYTES,
    limits: { maxRecordSize: c.MAX_RECORD_SIZE ?? c.MAX_FIELD_SIZE ?? 1024 ** 2, maxColumns: c.MAX_COLUMNS, maxRecords: c.MAX_RECORDS },
    importJobTimeBudgetMs: c.IMPORT_JOB_TIME_BUDGET_MS,
    shutdownTimeoutMs: c.SHUTDOWN_TIMEOUT_MS,
    workerStaleAfterMs: c.WORKER_STALE_AFTER_MS,
    workerConcurrency: c.WORKER_CONCURRENCY,
    databasePoolSize: c.DATABASE_POOL_SIZE,
    workerPollIntervalMs: c.WORKER_POLL_INTERVAL_MS,
    wsHeartbeatMs: c.WS_HEARTBEAT_MS,
    wsMaxBufferedBytes: c.WS_MAX_BUFFERED_BYTES,
    webhooks: {
      timeoutMs: c.WEBHOOK_TIMEOUT_MS,
      retrySchedule: c.WEBHOOK_RETRY_SCHEDULE,
      allowPrivate: c.WEBHOOK_ALLOW_PRIVATE,
      disableAfter: c.WEBHOOK_DISABLE_AFTER_FAILURES,
      concurrency: c.WEBHOOK_CONCURRENCY,
    },
    publicBaseUrl: c.PUBLIC_BASE_URL?.replace(/\/$/, ''),
    logLevel: c.LOG_LEVEL,
    logFormat: c.LOG_FORMAT ?? (options.isTerminal ? 'pretty' : 'json'),
    tracing: {
      // As the OTLP spec says: the traces endpoint as given, else the base endpoint + /v1/traces.
      tracesUrl:
        c.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
        (c.OTEL_EXPORTER_OTLP_ENDPOINT && `${c.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/$/, '')}/v1/traces`),
      headers: parseOtlpHeaders(c.OTEL_EXPORTER_OTLP_HEADERS),
      serviceName: c.OTEL_SERVICE_NAME,
      exportDelayMs: c.OTEL_BSP_SCHEDULE_DELAY,
    },
    metrics: { enabled: c.METRICS_ENABLED, port: c.METRICS_PORT },
    consoleEnabled: c.CONSOLE_ENABLED,
  };
}

/** STORAGE_URL: a folder (DATA_DIR/uploads when unset) or an S3 bucket and key prefix. */
function storageConfig(
  c: {
    STORAGE_URL?: string;
    S3_ENDPOINT?: string;
    S3_REGION: string;
    S3_FORCE_PATH_STYLE?: string;
    AWS_ACCESS_KEY_ID?: string;
    AWS_SECRET_ACCESS_KEY?: string;
    AWS_SESSION_TOKEN?: string;
  },
  uploadsDir: string,
): StorageConfig {
  const url = c.STORAGE_URL;
  if (url === undefined) return { kind: 'file', directory: uploadsDir };
  if (url.startsWith('file://')) return { kind: 'file', directory: path.resolve(decodeURIComponent(new URL(url).pathname)) };
  const [, bucket, rest = ''] = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url)!;
  return {
    kind: 's3',
    bucket: bucket!,
    prefix: rest === '' || rest.endsWith('/') ? rest : `${rest}/`,
    endpoint: c.S3_ENDPOINT,
    region: c.S3_REGION,
    // Servers of one's own (MinIO-like) answer at their address, not at bucket.host: path-style.
    forcePathStyle: c.S3_FORCE_PATH_STYLE === undefined ? c.S3_ENDPOINT !== undefined : c.S3_FORCE_PATH_STYLE === 'true' || c.S3_FORCE_PATH_STYLE === '1',
    localDirectory: uploadsDir,
    credentials:
      c.AWS_ACCESS_KEY_ID && c.AWS_SECRET_ACCESS_KEY
        ? { accessKeyId: c.AWS_ACCESS_KEY_ID, secretAccessKey: c.AWS_SECRET_ACCESS_KEY, sessionToken: c.AWS_SESSION_TOKEN }
        : undefined,
  };
}

/** OTEL_EXPORTER_OTLP_HEADERS as the OpenTelemetry spec gives it: `key=value,key2=value2`, values URL-encoded. */
function parseOtlpHeaders(value: string | undefined): Record<string, string> {
  if (!value) return {};
  return Object.fromEntries(
    value.split(',').map((pair) => {
      const at = pair.indexOf('=');
      const raw = pair.slice(at + 1).trim();
      let decoded = raw;
      try {
        decoded = decodeURIComponent(raw);
      } catch {} // a lone % is taken as it is
      return [pair.slice(0, at).trim(), decoded];
    }),
  );
}
