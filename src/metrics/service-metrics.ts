import { Gauge, Registry } from 'prom-client';
import type { Pool } from '../db/pool.ts';
import type { Logger } from '../logger.ts';
import { collectProcessMetrics, processRegistry, SCRAPE_GAUGES } from './metrics.ts';
import { countQueueJobs } from './queue-jobs.ts';

/** A scrape must answer even when the database does not: the queue gauge is left out then. */
const QUEUE_READ_TIMEOUT_MS = 1000;

export type ServiceMetricsDeps = {
  logger: Logger;
  /** The pool the queue is read through (the API's: a scrape is an HTTP request). */
  pool: Pool;
  /** Every pool of the service, by the name the `pool` label gets. */
  pools: Record<string, Pick<Pool, 'totalCount' | 'idleCount' | 'waitingCount'>>;
  hub: { subscriberCount(): number };
  /** The graphile-worker task whose jobs lading_import_queue_jobs counts. */
  importTask: string;
};

export type ServiceMetrics = {
  /** The whole exposition: process-wide metrics and this service's gauges, read now. */
  scrape(): Promise<{ contentType: string; body: string }>;
};

/**
 * The metrics one service exposes. Its scrape-time gauges live in a registry of its own, merged
 * with the process-wide one, so several services in one process (tests) each report their own
 * pools, queue and subscribers, and a stopped service's gauges go away with it (nothing to
 * unregister from a shared registry).
 */
export function createServiceMetrics(deps: ServiceMetricsDeps): ServiceMetrics {
  const log = deps.logger.child({ component: 'metrics' });
  collectProcessMetrics();
  const own = new Registry();

  // Collected in registration order, each up to its first await: the pools are read before the
  // queue query takes a connection, so a scrape does not see itself waiting for one.
  new Gauge({
    ...SCRAPE_GAUGES.poolConnections,
    registers: [own],
    collect() {
      for (const [pool, p] of Object.entries(deps.pools)) {
        this.set({ pool, state: 'idle' }, p.idleCount);
        this.set({ pool, state: 'active' }, p.totalCount - p.idleCount);
        this.set({ pool, state: 'waiting' }, p.waitingCount);
      }
    },
  });

  new Gauge({
    ...SCRAPE_GAUGES.queueJobs,
    registers: [own],
    async collect() {
      this.reset();
      try {
        const counts = await withTimeout(countQueueJobs(deps.pool, deps.importTask), QUEUE_READ_TIMEOUT_MS);
        for (const state of ['queued', 'locked', 'failed'] as const) this.set({ state }, counts[state]);
      } catch (error) {
        log.warn({ err: error }, 'could not read the job queue for /metrics; lading_import_queue_jobs left out');
      }
    },
  });

  new Gauge({
    ...SCRAPE_GAUGES.wsSubscribers,
    registers: [own],
    collect() {
      this.set(deps.hub.subscriberCount());
    },
  });

  const registry = Registry.merge([processRegistry, own]);
  return {
    async scrape() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
