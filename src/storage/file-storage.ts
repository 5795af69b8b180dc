import { createReadStream, createWriteStream } from 'node:fs';
import { access, mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Storage } from './storage.ts';

/**
 * Files in a local folder (DATA_DIR/uploads by default). A file is written under a temporary name
 * and renamed once whole, so its location never holds half a file.
 */
export function createFileStorage(directory: string): Storage {
  const local = (location: string) => {
    // An import uploaded to a bucket, run by a process that has no S3 configured: not "missing".
    if (location.startsWith('s3://')) throw new Error(`${location} is in S3 storage: set STORAGE_URL=s3://… (and its S3_* variables) on this process`);
    return location;
  };
  return {
    kind: 'file',
    locate: (name) => path.join(directory, name),
    async create(location) {
      const partial = `${location}.partial`;
      await mkdir(path.dirname(location), { recursive: true });
      const file = createWriteStream(partial);
      // (events.once would reject on the 'error' a failed pipeline emits before 'close'.)
      const closed = new Promise<void>((resolve) => file.once('close', resolve));
      return {
        stream: file,
        async finish() {
          await closed;
          await rename(partial, location);
        },
        async abort() {
          // Removing the file before the stream has closed could let its open create it again
          // afterwards (seen under load: a refused upload left its file behind).
          file.destroy();
          await closed;
          await rm(partial, { force: true });
        },
      };
    },
    read(location, range = {}) {
      return createReadStream(local(location), {
        start: range.start ?? 0,
        ...(range.end !== undefined ? { end: range.end - 1 } : {}),
        highWaterMark: 64 * 1024,
      });
    },
    async exists(location) {
      return access(local(location)).then(
        () => true,
        () => false,
      );
    },
    async remove(location) {
      await rm(local(location), { force: true });
    },
  };
}
