import { findAlertById, listAlertsChangedSince } from '../alerts/alert-queries.ts';
import { toAlertView } from '../alerts/alert-view.ts';
import type { Queryable } from '../db/pool.ts';
import { findImport, findImportById, listWatchableImports, type ImportRow } from '../imports/import-queries.ts';
import { toImportView, type ImportView } from '../imports/import-view.ts';
import type { Logger } from '../logger.ts';
import { encodeLiveEvent, type ImportNotification, liveEvent, type LiveEventMessage } from './live-events.ts';

/**
 * Where a subscriber's messages go (a WebSocket in production). `send` gets the message already
 * serialised to UTF-8 JSON: encoded once per message, however many subscribers receive it.
 */
export type EventSink = { send(json: Buffer): void; close(code: number, reason: string): void };

export type Subscription = {
  tenantId: string;
  /** null: every import of the tenant (GET /v1/events). */
  importId: string | null;
  sink: EventSink;
  /** Highest seq sent per import: nothing at or below it is sent again, so seq only increases. */
  lastSeq: Map<string, number>;
  /** Messages that arrived before the snapshot was sent; null once started. */
  pending: LiveEventMessage[] | null;
};

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);

/**
 * Fans import notifications out to subscribers. seq is the import's batches_committed (finished
 * is batches_committed + 1), so a subscriber gets each committed batch once, in order, after its
 * snapshot. Notifications of one import are handled one after another (a promise chain per
 * import), so an async read never lets a later batch overtake an earlier one.
 */
export function createImportEventHub(deps: { pool: Queryable; logger: Logger }) {
  const log = deps.logger.child({ component: 'import-event-hub' });
  const byImport = new Map<string, Set<Subscription>>();
  const byTenant = new Map<string, Set<Subscription>>();
  /** The import's fields that do not change per batch, read once it is processing. */
  const baseViews = new Map<string, ImportView>();
  const chains = new Map<string, Promise<void>>();

  function interested(tenantId: string, importId: string): Subscription[] {
    return [...(byImport.get(importId) ?? []), ...(byTenant.get(tenantId) ?? [])];
  }

  /** Runs work for one import after the work already queued for it. */
  function enqueue(importId: string, work: () => Promise<void>): Promise<void> {
    const next = (chains.get(importId) ?? Promise.resolve())
      .then(work)
      .catch((error: unknown) => log.error({ err: error, importId }, 'could not deliver import event'));
    chains.set(importId, next);
    void next.then(() => {
      if (chains.get(importId) === next) chains.delete(importId);
    });
    return next;
  }

  function deliver(subscriptions: Subscription[], message: LiveEventMessage): void {
    let json: Buffer | undefined; // serialised once, however many subscribers
    for (const sub of subscriptions) {
      if (sub.pending) {
        sub.pending.push(message);
        continue;
      }
      // An alert's seq counts per alert, kept apart from the imports' (alert ids are not import ids).
      const importId = message.type === 'alert' ? `alert:${message.alert.id}` : message.import.id;
      if (message.seq <= (sub.lastSeq.get(importId) ?? -1)) continue;
      sub.lastSeq.set(importId, message.seq);
      json ??= encodeLiveEvent(message);
      sub.sink.send(json);
      if (message.type === 'finished' && sub.importId !== null) {
        unsubscribe(sub);
        sub.sink.close(1000, 'import finished');
      }
    }
  }

  /** The import's state as it is now: progress, or finished once it has ended. */
  function messageFor(row: ImportRow): LiveEventMessage {
    const view = toImportView(row);
    return TERMINAL.has(view.status) ? liveEvent.finished(view) : liveEvent.progress(view);
  }

  async function progressView(n: Extract<ImportNotification, { type: 'progress' }>): Promise<ImportView> {
    let base = baseViews.get(n.importId);
    if (!base || base.status === 'queued') {
      const row = await findImportById(deps.pool, n.importId);
      if (!row) throw new Error(`import ${n.importId} not found`);
      base = toImportView(row);
      baseViews.set(n.importId, base);
    }
    return {
      ...base,
      status: 'processing',
      finished_at: null,
      rows_processed: n.rowsProcessed,
      rows_inserted: n.rowsInserted,
      rows_updated: n.rowsUpdated,
      rows_unchanged: n.rowsUnchanged,
      rows_rejected: n.rowsRejected,
      batches_committed: n.batchesCommitted,
    };
  }

  /**
   * An alert raised, repeated or acknowledged: its current state to the tenant's streams only (one
   * import's stream is about that import). Read in its own chain, so an alert's messages stay in order.
   */
  function handleAlert(notification: Extract<ImportNotification, { type: 'alert' }>): void {
    const { alertId, tenantId } = notification;
    if (!byTenant.has(tenantId)) return;
    void enqueue(`alert:${alertId}`, async () => {
      const row = await findAlertById(deps.pool, alertId);
      if (row) deliver([...(byTenant.get(tenantId) ?? [])], liveEvent.alert(toAlertView(row)));
    });
  }

  function unsubscribe(sub: Subscription): void {
    const index = sub.importId === null ? byTenant : byImport;
    const key = sub.importId ?? sub.tenantId;
    const set = index.get(key);
    set?.delete(sub);
    if (set?.size === 0) index.delete(key);
    if (sub.importId !== null && !byImport.has(sub.importId) && !byTenant.has(sub.tenantId)) {
      baseViews.delete(sub.importId);
    }
  }

  return {
    /** Registers first, so nothing committed after the snapshot read can be missed. */
    subscribe(input: { tenantId: string; importId: string | null; sink: EventSink }): Subscription {
      const sub: Subscription = { ...input, lastSeq: new Map(), pending: [] };
      const index = sub.importId === null ? byTenant : byImport;
      const key = sub.importId ?? sub.tenantId;
      if (!index.has(key)) index.set(key, new Set());
      index.get(key)!.add(sub);
      return sub;
    },

    /** Sends the snapshot(s), then whatever arrived meanwhile; a finished import ends at once. */
    async start(sub: Subscription): Promise<void> {
      const rows = sub.importId
        ? [await findImport(deps.pool, sub.tenantId, sub.importId)].filter((row) => row !== undefined)
        : await listWatchableImports(deps.pool, sub.tenantId);
      const queued = sub.pending ?? [];
      sub.pending = null;
      for (const row of rows) {
        const view = toImportView(row);
        sub.lastSeq.set(view.id, view.batches_committed);
        sub.sink.send(encodeLiveEvent(liveEvent.snapshot(view)));
        if (TERMINAL.has(view.status)) deliver([sub], liveEvent.finished(view));
      }
      for (const message of queued) deliver([sub], message);
    },

    unsubscribe,

    /** Subscribers now (lading_ws_subscribers, read at scrape time). */
    subscriberCount(): number {
      let count = 0;
      for (const set of byImport.values()) count += set.size;
      for (const set of byTenant.values()) count += set.size;
      return count;
    },

    handle(notification: ImportNotification): void {
      if (notification.type === 'alert') {
        handleAlert(notification);
        return;
      }
      const { importId, tenantId } = notification;
      if (!byImport.has(importId) && !byTenant.has(tenantId)) return; // nobody here watches it
      void enqueue(importId, async () => {
        if (notification.type === 'progress') {
          const view = await progressView(notification);
          deliver(interested(tenantId, importId), liveEvent.progress(view));
        } else {
          baseViews.delete(importId);
          const row = await findImportById(deps.pool, importId);
          if (row) deliver(interested(tenantId, importId), messageFor(row));
        }
      });
    },

    /**
     * After the LISTEN connection was lost: whatever was committed meanwhile is re-read from the
     * tables. Batches missed in between arrive as one progress message with the current counts.
     */
    async resync(lostAt: Date): Promise<void> {
      const work: Promise<void>[] = [];
      for (const [importId, subs] of byImport) {
        const tenantId = [...subs][0]!.tenantId;
        work.push(
          enqueue(importId, async () => {
            const row = await findImport(deps.pool, tenantId, importId);
            if (row) deliver(interested(tenantId, importId), messageFor(row));
          }),
        );
      }
      for (const tenantId of byTenant.keys()) {
        for (const row of await listWatchableImports(deps.pool, tenantId, lostAt)) {
          work.push(enqueue(row.id, async () => deliver(interested(tenantId, row.id), messageFor(row))));
        }
        for (const row of await listAlertsChangedSince(deps.pool, tenantId, lostAt)) {
          work.push(enqueue(`alert:${row.id}`, async () => deliver([...(byTenant.get(tenantId) ?? [])], liveEvent.alert(toAlertView(row)))));
        }
      }
      await Promise.all(work);
    },

    closeAll(code: number, reason: string): void {
      for (const sub of [...[...byImport.values()].flatMap((s) => [...s]), ...[...byTenant.values()].flatMap((s) => [...s])]) {
        unsubscribe(sub);
        sub.sink.close(code, reason);
      }
    },
  };
}

export type ImportEventHub = ReturnType<typeof createImportEventHub>;
