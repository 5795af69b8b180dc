import type { Readable, Writable } from 'node:stream';
import type { Logger } from '../logger.ts';
import { createFileStorage } from './file-storage.ts';

/**
 * Where uploaded files live between the upload and the end of their import: a folder (DATA_DIR's
 * uploads by default, or STORAGE_URL=file://…) or an S3-compatible bucket (STORAGE_URL=s3://…),
 * which any worker on any machine can read. A file is named by its location, as kept in
 * imports.file_path: an absolute path, or s3://bucket/key.
 */
export type Storage = {
  /** What STORAGE_URL says, for logs and /ready: `file` or `s3`. */
  kind: 'file' | 's3';
  /** The location of a new file named `name` (e.g. `<import id>.csv`). */
  locate(name: string): string;
  /** Starts writing a new file; nothing is visible at the location until finish() resolves. */
  create(location: string): Promise<StoredFileWriter>;
  /**
   * The bytes from `start` to `end` (exclusive; the end of the file when absent). An S3 read that
   * fails midway continues where it stopped (a ranged GET), a few times, before it errors.
   */
  read(location: string, range?: { start?: number; end?: number }): Readable;
  exists(location: string): Promise<boolean>;
  /** Removes the file; a file already gone is not an error. */
  remove(location: string): Promise<void>;
};

export type StoredFileWriter = {
  /** Write the file's bytes here (pipeline(…, writer.stream)). */
  stream: Writable;
  /** Resolves once the file is stored whole (after the stream has finished). */
  finish(): Promise<void>;
  /** Gives up: nothing is left at the location (a partial multipart upload is aborted). */
  abort(): Promise<void>;
};

export type StorageConfig =
  | { kind: 'file'; directory: string }
  | {
      kind: 's3';
      bucket: string;
      /** Key prefix, '' or ending in '/'. */
      prefix: string;
      /** S3_ENDPOINT: a MinIO-like server; absent: AWS's own endpoint for the region. */
      endpoint: string | undefined;
      region: string;
      forcePathStyle: boolean;
      /** DATA_DIR/uploads: where files uploaded before the switch to S3 are. */
      localDirectory: string;
      /** AWS_ACCESS_KEY_ID … when set; else the AWS SDK's own chain (AWS_PROFILE, an instance role …). */
      credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string | undefined } | undefined;
    };

/**
 * The storage STORAGE_URL names. The S3 client (the AWS SDK, ~35 MB of memory once loaded) is
 * loaded only when an s3:// storage is configured.
 */
export async function openStorage(config: StorageConfig, logger: Logger): Promise<Storage> {
  if (config.kind === 'file') return createFileStorage(config.directory);
  const { createS3Storage } = await import('./s3-storage.ts');
  return withLocalPaths(createS3Storage(config, logger), config.localDirectory);
}

/**
 * An S3 storage that still reads and removes local paths: the files of imports uploaded before
 * STORAGE_URL changed to s3:// (on a machine that has them).
 */
function withLocalPaths(s3: Storage, localDirectory: string): Storage {
  const local = createFileStorage(localDirectory);
  const pick = (location: string) => (isS3Location(location) ? s3 : local);
  return {
    ...s3,
    read: (location, range) => pick(location).read(location, range),
    exists: (location) => pick(location).exists(location),
    remove: (location) => pick(location).remove(location),
  };
}

/** Whether a location is in an S3 bucket (s3://…) rather than a local path. */
export const isS3Location = (location: string) => location.startsWith('s3://');
