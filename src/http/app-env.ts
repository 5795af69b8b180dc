import type { Principal } from '../api-keys/api-keys.ts';
import type { TicketScope } from '../events/event-tickets.ts';
import type { Logger } from '../logger.ts';

/** What every handler can read from c.var. */
export type AppEnv = {
  Variables: {
    requestId: string;
    logger: Logger;
    principal: Principal;
    /** Set when the request authenticated with a single-use event ticket instead of a key. */
    ticketScope?: TicketScope;
  };
};
