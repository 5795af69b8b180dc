import { readFileSync } from 'node:fs';
import { context, diag, DiagLogLevel, propagation, trace } from '@opentelemetry/api';
import type { MiddlewareHandler } from 'hono';
import type { TracingConfig } from '../config.ts';
import type { Logger } from '../logger.ts';

export type Tracing = {
  /** The HTTP server span of each request (first middleware); undefined when tracing is off. */
  httpMiddleware: MiddlewareHandler | undefined;
  /** Exports the spans still buffered, then unregisters the global provider. */
  stop(): Promise<void>;
};

const OFF: Tracing = { httpMiddleware: undefined, stop: async () => {} };
/** Longest wait on stop for the last spans to be exported. */
const STOP_FLUSH_MS = 3000;

/**
 * Turns OpenTelemetry tracing on when an OTLP endpoint is configured. The SDK, the exporter and
 * the Hono middleware are imported here, dynamically, and only then: with tracing off none of them
 * is loaded (the service's memory stays as it was) and the API's spans are no-ops.
 */
export async function startTracing(config: TracingConfig, logger: Logger): Promise<Tracing> {
  if (!config.tracesUrl) return OFF;
  const [{ NodeTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }, semconv, { httpInstrumentationMiddleware }] =
    await Promise.all([
      import('@opentelemetry/sdk-trace-node'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/resources'),
      import('@opentelemetry/semantic-conventions'),
      import('@hono/otel'),
    ]);

  // The SDK reports its own trouble (an unreachable collector, a rejected export) through diag.
  const log = logger.child({ component: 'tracing' });
  diag.setLogger(
    {
      error: (message, ...args) => log.warn({ details: args.map(describe) }, message),
      warn: (message, ...args) => log.warn({ details: args.map(describe) }, message),
      info: () => {},
      debug: () => {},
      verbose: () => {},
    },
    DiagLogLevel.WARN,
  );

  const exporter = new OTLPTraceExporter({ url: config.tracesUrl, headers: config.headers, timeoutMillis: 10_000 });
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({
      [semconv.ATTR_SERVICE_NAME]: config.serviceName,
      [semconv.ATTR_SERVICE_VERSION]: packageVersion(),
    }),
    spanProcessors: [
      // Every setting given, so the processor reads none from the environment (config.ts does that).
      new BatchSpanProcessor(exporter, {
        scheduledDelayMillis: config.exportDelayMs,
        maxQueueSize: 2048,
        maxExportBatchSize: 512,
        exportTimeoutMillis: 30_000,
      }),
    ],
  });
  // The global tracer provider, the AsyncLocalStorage context manager (a span started in a request
  // stays active across its awaits) and the W3C trace-context propagator.
  provider.register();
  log.info({ url: config.tracesUrl, serviceName: config.serviceName }, 'tracing on: exporting spans over OTLP/HTTP');

  return {
    httpMiddleware: skipProbes(httpInstrumentationMiddleware({ tracerProvider: provider, captureActiveRequests: false })),
    async stop() {
      // An unreachable collector is retried until the export times out: not worth holding up a
      // shutdown (SHUTDOWN_TIMEOUT_MS) for. Spans not sent by then are lost, and the log says so.
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`not exported within ${STOP_FLUSH_MS} ms`)), STOP_FLUSH_MS);
      });
      await Promise.race([provider.shutdown(), late])
        .catch((error: unknown) => log.warn({ err: error }, 'could not export the last spans'))
        .finally(() => clearTimeout(timer));
      // The API keeps its registrations on globalThis: a later service in this process starts clean.
      trace.disable();
      context.disable();
      propagation.disable();
      diag.disable();
    },
  };
}

// Probes and scrapes come every few seconds from every load balancer and Prometheus: as spans they
// would be most of a trace backend's volume and tell nothing.
const UNTRACED_PATHS = new Set(['/health', '/ready', '/metrics']);

function skipProbes(middleware: MiddlewareHandler): MiddlewareHandler {
  return (c, next) => (UNTRACED_PATHS.has(c.req.path) ? next() : middleware(c, next));
}

function describe(value: unknown): unknown {
  return value instanceof Error ? value.message : value;
}

function packageVersion(): string {
  const file = new URL('../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}
