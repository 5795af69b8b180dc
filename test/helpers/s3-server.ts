import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { S3Client } from '@aws-sdk/client-s3';
import { findFreePort } from '../../src/db/embedded-postgres.ts';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/**
 * A real S3-compatible server for tests: OpenStack Swift with its s3api middleware, from Debian's
 * packages (swift-proxy, swift-account, swift-container, swift-object; `.ci/run` installs them).
 * Chosen because it is a production object store that installs from a registry this machine
 * reaches (MinIO and the other common S3 servers ship only as downloads or images): SigV4,
 * multipart uploads and ranged GETs as clients meet them. One proxy and one account, container
 * and object server, each a process on a free loopback port, all data in a temporary folder.
 * Credentials: access key `test:tester`, secret `testing`, region us-east-1, path-style.
 */
export type S3TestServer = {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** The variables a Lading process needs to use this server (STORAGE_URL names the bucket). */
  env(bucket: string, prefix?: string): Record<string, string>;
  /** An S3 client of the test's own, straight to the server. */
  client(): S3Client;
  stop(): Promise<void>;
};

const SWIFT_BIN = '/usr/bin/swift-proxy-server';

export function s3ServerAvailable(): boolean {
  return existsSync(SWIFT_BIN);
}

export async function startS3Server(): Promise<S3TestServer> {
  if (!s3ServerAvailable()) {
    throw new Error('OpenStack Swift is not installed: apt-get install -y --no-install-recommends swift-proxy swift-object swift-container swift-account');
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lading-s3-'));
  const devices = path.join(dir, 'srv');
  await mkdir(path.join(devices, 'd1'), { recursive: true });
  const [account, container, object, proxy] = await Promise.all([findFreePort(), findFreePort(), findFreePort(), findFreePort()]);
  await writeFile(
    path.join(dir, 'swift.conf'),
    '[swift-hash]\nswift_hash_path_suffix = test\nswift_hash_path_prefix = test\n\n[storage-policy:0]\nname = gold\ndefault = yes\n',
  );
  // One replica of each ring on the one device.
  const rings = spawnSync(
    '/usr/bin/python3',
    [
      '-c',
      `import sys
from swift.common.ring import RingBuilder
for kind, port in (('account', ${account}), ('container', ${container}), ('object', ${object})):
    builder = RingBuilder(6, 1, 1)
    builder.add_dev({'id': 0, 'region': 1, 'zone': 1, 'ip': '127.0.0.1', 'port': port, 'device': 'd1', 'weight': 100})
    builder.rebalance()
    builder.get_ring().save(sys.argv[1] + '/' + kind + '.ring.gz')`,
      dir,
    ],
    { encoding: 'utf8' },
  );
  if (rings.status !== 0) throw new Error(`could not build Swift's rings: ${rings.stderr}`);
  const common = `[DEFAULT]\nswift_dir = ${dir}\nbind_ip = 127.0.0.1\nworkers = 0\ndevices = ${devices}\nmount_check = false\ndisable_fallocate = true\nlog_level = WARNING\n`;
  for (const [kind, port] of [['account', account], ['container', container], ['object', object]] as const) {
    await writeFile(
      path.join(dir, `${kind}-server.conf`),
      `${common}bind_port = ${port}\n\n[pipeline:main]\npipeline = ${kind}-server\n\n[app:${kind}-server]\nuse = egg:swift#${kind}\n`,
    );
  }
  await writeFile(
    path.join(dir, 'proxy-server.conf'),
    `${common}bind_port = ${proxy}

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats s3api tempauth copy slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:1
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:s3api]
use = egg:swift#s3api
location = us-east-1
[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
`,
  );
  const children: ChildProcess[] = [];
  let output = '';
  for (const kind of ['account', 'container', 'object', 'proxy']) {
    const child = spawn(`/usr/bin/swift-${kind}-server`, [path.join(dir, `${kind}-server.conf`)], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk));
    children.push(child);
  }
  const stop = async () => {
    for (const child of children) child.kill('SIGKILL');
    await Promise.all(children.map((child) => (child.exitCode === null && child.signalCode === null ? new Promise((r) => child.once('exit', r)) : undefined)));
    await rm(dir, { recursive: true, force: true });
  };
  const endpoint = `http://127.0.0.1:${proxy}`;
  try {
    await waitFor(async () => {
      for (const child of children) if (child.exitCode !== null) throw new Error(`a Swift server exited:\n${output}`);
      // The storage servers have no health check of their own: they are up once they accept.
      const ready = await Promise.all([account, container, object].map(accepts));
      return ready.every(Boolean) && (await fetch(`${endpoint}/healthcheck`).then((r) => r.ok, () => false));
    }, 30_000);
  } catch (error) {
    await stop();
    throw error;
  }
  const server: S3TestServer = {
    endpoint,
    region: 'us-east-1',
    accessKeyId: 'test:tester',
    secretAccessKey: 'testing',
    env: (bucket, prefix = '') => ({
      STORAGE_URL: `s3://${bucket}/${prefix}`,
      S3_ENDPOINT: endpoint,
      S3_REGION: 'us-east-1',
      S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: 'test:tester',
      AWS_SECRET_ACCESS_KEY: 'testing',
    }),
    client: () =>
      new S3Client({
        endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId: 'test:tester', secretAccessKey: 'testing' },
      }),
    stop,
  };
  return server;
}

async function waitFor(ready: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error(`Swift did not answer within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
