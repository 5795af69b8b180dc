import pg from 'pg';
import type { Logger } from '../logger.ts';
import { IMPORT_EVENTS_CHANNEL, type ImportNotification, parseNotification } from './live-events.ts';

export type ImportEventsListener = { stop(): Promise<void> };

const MAX_BACKOFF_MS = 10_000;

/**
 * One dedicated connection per process LISTENs for import events, however many sockets are
 * served. A pooled client would be handed back and lose its LISTEN. When the connection drops it
 * reconnects with capped exponential backoff, LISTENs again, and calls onReconnect(lostAt) so
 * the state missed meanwhile is re-read from the tables.
 */
export async function startImportEventsListener(options: {
  connectionString: string;
  logger: Logger;
  onNotification: (notification: ImportNotification) => void;
  onReconnect: (lostAt: Date) => void;
}): Promise<ImportEventsListener> {
  const log = options.logger.child({ component: 'import-events-listener' });
  let client: pg.Client | undefined;
  let stopped = false;
  let attempt = 0;
  let retryTimer: NodeJS.Timeout | undefined;

  const connect = async (lostAt?: Date): Promise<void> => {
    const next = new pg.Client({ connectionString: options.connectionString, application_name: 'lading-listener' });
    next.on('notification', (message) => {
      if (message.channel !== IMPORT_EVENTS_CHANNEL || !message.payload) return;
      const notification = parseNotification(message.payload);
      if (notification) options.onNotification(notification);
      else log.warn({ payload: message.payload }, 'ignored a malformed import notification');
    });
    const lost = () => {
      if (client !== next || stopped) return;
      client = undefined;
      const at = new Date();
      log.warn('LISTEN connection lost; reconnecting');
      scheduleReconnect(at);
    };
    next.on('error', lost);
    next.on('end', lost);
    try {
      await next.connect();
      await next.query(`listen ${IMPORT_EVENTS_CHANNEL}`);
    } catch (error) {
      await next.end().catch(() => {});
      throw error;
    }
    // Only an established connection counts as lost when it drops; a failed attempt is retried below.
    client = next;
    attempt = 0;
    if (lostAt) {
      log.info('LISTEN connection restored; re-reading watched imports');
      options.onReconnect(lostAt);
    }
  };

  const scheduleReconnect = (lostAt: Date) => {
    const delay = Math.min(MAX_BACKOFF_MS, 100 * 2 ** attempt++) * (0.5 + Math.random() / 2);
    retryTimer = setTimeout(() => {
      connect(lostAt).catch((error: unknown) => {
        log.warn({ err: error, attempt }, 'LISTEN reconnect failed');
        if (!stopped) scheduleReconnect(lostAt);
      });
    }, delay);
  };

  await connect();
  return {
    async stop() {
      stopped = true;
      clearTimeout(retryTimer);
      await client?.end().catch(() => {});
    },
  };
}
