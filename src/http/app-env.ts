import type { IncomingMessage } from 'node:http';
import type { Principal } from '../api-keys/api-keys.ts';
import type { TicketScope } from '../events/event-tickets.ts';
import type { Logger } from '../logger.ts';

/** What every handler can read from c.var, and from c.env when served by @hono/node-server. */
export type AppEnv = {
  /** Absent under app.request() (no Node server). */
  Bindings: { incoming?: IncomingMessage };
  Variables: {
    requestId: string;
    logger: Logger;
    principal: Principal;
    /** Set when the request authenticated with a single-use event ticket instead of a key. */
    ticketScope?: TicketScope;
  };
};
