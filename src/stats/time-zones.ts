import type { Queryable } from '../db/pool.ts';
import { InvalidInputError } from '../errors.ts';
import { selectTimeZoneNames } from './stats-queries.ts';

export type TimeZones = {
  /** The server's spelling of a zone name given in any case; InvalidInputError when it knows no such zone. */
  resolve(name: string): Promise<string>;
};

/**
 * Zone names checked against the database's own list (pg_timezone_names), the one that will read
 * them: a name both it and the caller accept, never a POSIX string such as "UTC+3", whose sign
 * PostgreSQL reads the other way round. The list is read once per process (reading it scans the
 * server's zone files, tens of milliseconds) and only when a request names a zone other than UTC.
 */
export function timeZoneLookup(db: Queryable): TimeZones {
  let names: Promise<Map<string, string>> | undefined;
  const load = async () => new Map((await selectTimeZoneNames(db)).map((name) => [name.toLowerCase(), name]));
  return {
    async resolve(name) {
      if (name === 'UTC') return name;
      names ??= load().catch((error: unknown) => {
        names = undefined; // a failed read is tried again by the next request
        throw error;
      });
      const known = (await names).get(name.toLowerCase());
      if (known === undefined) {
        throw new InvalidInputError(`tz "${name}" is not a time zone the server knows: use an IANA name such as Europe/Paris or America/New_York`);
      }
      return known;
    },
  };
}
