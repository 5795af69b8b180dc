import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

// Every metric Lading exposes, defined here once: its name, help text and labels. The counters
// and histograms are process-wide (one per process, however many services it runs, as in the
// tests) and start at zero when the process does; Prometheus sums processes and handles resets.
// The gauges read at scrape time belong to one service each (service-metrics.ts) and are built
// from the definitions at the end of this file.

/** Counters, histograms, the in-progress gauge and prom-client's process metrics. */
export const processRegistry = new Registry();
const registers = [processRegistry];

export const httpRequestDuration = new Histogram({
  name: 'lading_http_request_duration_seconds',
  help: 'HTTP requests by method, route template and status, until the response is ready (a WebSocket: its upgrade)',
  labelNames: ['method', 'route', 'status'] as const,
  // Up to 5 minutes: a 1 GiB upload is one request.
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  registers,
});

export const importsFinished = new Counter({
  name: 'lading_imports_total',
  help: 'Imports that reached a final status (succeeded, failed, cancelled), counted once that status is committed',
  labelNames: ['status'] as const,
  registers,
});

export const importsInProgress = new Gauge({
  name: 'lading_imports_in_progress',
  help: 'Import jobs running in this process now',
  registers,
});

export const importRows = new Counter({
  name: 'lading_import_rows_total',
  help: 'Records of imports by outcome (inserted, updated, unchanged, rejected), as the imports count them, once committed',
  labelNames: ['outcome'] as const,
  registers,
});

export const importBatchDuration = new Histogram({
  name: 'lading_import_batch_duration_seconds',
  help: 'Time to write one committed batch of an import (its transaction, first statement to commit; two batches of an import overlap)',
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers,
});

export const importStageSeconds = new Counter({
  name: 'lading_import_stage_seconds_total',
  help: 'Time import work spent per stage: parse (reading and splitting records), validate (checking and encoding rows), in the parser thread',
  labelNames: ['stage'] as const,
  registers,
});

export const webhookDeliveries = new Counter({
  name: 'lading_webhook_deliveries_total',
  help: 'Webhook delivery attempts by outcome: succeeded (2xx), retry (failed, another attempt scheduled), failed (given up: out of attempts, 410 Gone, or endpoint disabled)',
  labelNames: ['outcome'] as const,
  registers,
});

export const webhookDeliveryDuration = new Histogram({
  name: 'lading_webhook_delivery_duration_seconds',
  help: 'Duration of one webhook delivery attempt, request sent to response read (or timeout)',
  buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
  registers,
});

// Every known label value starts at 0, so its series exists (and rate() works) before the first event.
for (const status of ['succeeded', 'failed', 'cancelled']) importsFinished.inc({ status }, 0);
for (const outcome of ['inserted', 'updated', 'unchanged', 'rejected']) importRows.inc({ outcome }, 0);
for (const outcome of ['succeeded', 'retry', 'failed']) webhookDeliveries.inc({ outcome }, 0);

/** The gauges read when scraped, one set per service. */
export const SCRAPE_GAUGES = {
  queueJobs: {
    name: 'lading_import_queue_jobs',
    help: 'Import jobs in the database queue by state: queued (waiting or due for a retry), locked (running), failed (out of attempts)',
    labelNames: ['state'] as const,
  },
  poolConnections: {
    name: 'lading_db_pool_connections',
    help: 'Database connections of this process by pool (api, imports, webhooks) and state (idle, active, waiting = requests waiting for one)',
    labelNames: ['pool', 'state'] as const,
  },
  wsSubscribers: {
    name: 'lading_ws_subscribers',
    help: 'WebSocket subscribers to import events connected to this process',
    labelNames: [] as const,
  },
} as const;

let defaultMetricsOn = false;

/**
 * prom-client's process and Node.js metrics (CPU, memory, event loop lag, GC, handles), read at
 * scrape time; only started when metrics are on, once per process.
 */
export function collectProcessMetrics(): void {
  if (defaultMetricsOn) return;
  defaultMetricsOn = true;
  collectDefaultMetrics({ register: processRegistry });
}
