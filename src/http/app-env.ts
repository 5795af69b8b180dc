import type { Principal } from '../api-keys/api-keys.ts';
import type { Logger } from '../logger.ts';

/** What every handler can read from c.var. */
export type AppEnv = {
  Variables: {
    requestId: string;
    logger: Logger;
    principal: Principal;
  };
};
