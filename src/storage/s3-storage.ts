import { PassThrough, Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Logger } from '../logger.ts';
import type { Storage, StorageConfig } from './storage.ts';

// Uploads go up in 8 MiB parts, two at a time: an upload holds ~16–24 MiB whatever the file's
// size (S3's smallest part is 5 MiB; 10,000 parts of 8 MiB allow 78 GiB).
const PART_SIZE = 8 * 1024 * 1024;
const PARTS_AT_ONCE = 2;
// A read cut short (a reset connection, a server restarting) is taken up where it stopped, with a
// ranged GET, this many times in a row before the read fails (and the job retries later).
const READ_ATTEMPTS = 5;

/**
 * Files in an S3-compatible bucket. Credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY when
 * set (config.ts), else the AWS SDK's own chain (AWS_PROFILE, an instance role …).
 */
export function createS3Storage(config: Extract<StorageConfig, { kind: 's3' }>, logger: Logger): Storage {
  const client = new S3Client({
    region: config.region,
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    forcePathStyle: config.forcePathStyle,
    ...(config.credentials ? { credentials: config.credentials } : {}),
    // The SDK's default adds CRC32 checksums to every upload and checks them on reads; many
    // S3-compatible servers (OpenStack Swift 2.30, which the tests run; older MinIO) refuse or
    // lack them. S3 itself still checks what it requires (Content-MD5 where asked).
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const log = logger.child({ component: 's3-storage' });

  return {
    kind: 's3',
    locate: (name) => `s3://${config.bucket}/${config.prefix}${name}`,
    async create(location) {
      const { bucket, key } = parseLocation(location);
      const body = new PassThrough({ highWaterMark: 64 * 1024 });
      const upload = new Upload({
        client,
        params: { Bucket: bucket, Key: key, Body: body },
        partSize: PART_SIZE,
        queueSize: PARTS_AT_ONCE,
        leavePartsOnError: false, // a failed multipart upload is aborted: no parts left billed
      });
      const done = upload.done();
      done.catch(() => {}); // reported by finish(), or moot after abort()
      return {
        stream: body,
        async finish() {
          await done;
        },
        async abort() {
          // Not upload.abort(): its done() settles at once while parts are still in flight, and
          // the multipart upload is aborted only after them (a CI run listed it still pending).
          // A body failing makes lib-storage wait for its parts, abort the upload, then reject.
          body.destroy(new Error('the upload was abandoned'));
          await done.catch(() => {});
          // A small file goes up in one PUT, which abort() cannot stop once sent.
          await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })).catch(() => {});
        },
      };
    },
    read(location, range = {}) {
      const { bucket, key } = parseLocation(location);
      const end = range.end;
      let position = range.start ?? 0;
      // A reader that stops early (it has the header it wanted) ends the request; that is no failure.
      const stopped = new AbortController();
      async function* bytes(): AsyncGenerator<Buffer> {
        for (let failures = 0; end === undefined || position < end; ) {
          let body: Readable | undefined;
          try {
            const response = await client.send(
              new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${position}-${end === undefined ? '' : end - 1}` }),
              { abortSignal: stopped.signal },
            );
            body = response.Body as Readable;
            for await (const chunk of body as AsyncIterable<Buffer>) {
              position += chunk.length;
              failures = 0;
              yield chunk;
            }
            return;
          } catch (error) {
            if (stopped.signal.aborted) return;
            // Asked from the very end of the object (a checkpoint at its last byte): nothing left.
            if (errorName(error) === 'InvalidRange') return;
            if (errorName(error) === 'NoSuchKey' || ++failures >= READ_ATTEMPTS) throw error;
            log.warn({ err: error, location, position, failures }, 'reading a stored file failed midway; continuing from where it stopped');
            await sleep(100 * 2 ** failures, undefined, { signal: stopped.signal }).catch(() => {});
          } finally {
            body?.destroy();
          }
        }
      }
      const iterator = bytes();
      return new Readable({
        highWaterMark: 64 * 1024,
        read() {
          iterator.next().then(
            ({ value, done }) => this.push(done ? null : value),
            (error: unknown) => this.destroy(error as Error),
          );
        },
        // At once, not once the generator has come to its next yield (as Readable.from would).
        destroy(error, callback) {
          stopped.abort();
          iterator.return(undefined).then(
            () => callback(error),
            () => callback(error),
          );
        },
      });
    },
    async exists(location) {
      const { bucket, key } = parseLocation(location);
      try {
        await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        return true;
      } catch (error) {
        if (errorName(error) === 'NotFound' || errorName(error) === 'NoSuchKey') return false;
        throw error;
      }
    },
    async remove(location) {
      const { bucket, key } = parseLocation(location);
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })); // deleting a missing key succeeds
    },
  };
}

function parseLocation(location: string): { bucket: string; key: string } {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(location);
  if (!match) throw new Error(`not an S3 location: ${location}`);
  return { bucket: match[1]!, key: match[2]! };
}

function errorName(error: unknown): string | undefined {
  return error instanceof S3ServiceException ? error.name : (error as { name?: string })?.name;
}
