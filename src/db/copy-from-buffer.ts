import type { Connection, Submittable } from 'pg';

// COPY … FROM STDIN of bytes already whole in memory (a batch's COPY lines), for pg's
// client.query(). pg-copy-streams, made for data arriving in pieces, writes a CopyData header, the
// data and CopyDone as three socket writes; here they go out corked, as one. Each write over
// loopback wakes the PostgreSQL backend, which takes the core from the thread that wrote:
// profiled, the main thread spent ~0.2 s of a 500K-row import stalled in those writes
// (docs/performance.md, session 10). The protocol part is the same as pg-copy-streams' copy-from.

const COPY_DATA = 0x64; // 'd'
const COPY_DONE = Buffer.from([0x63, 0, 0, 0, 4]); // 'c', length 4

export class CopyFromBuffer implements Submittable {
  /** Resolves with the rows copied once the server is ready for the next query; rejects with its error. */
  readonly done: Promise<number>;
  private readonly outcome = Promise.withResolvers<number>();
  private readonly text: string;
  private readonly data: Uint8Array;
  private rows = 0;
  /** Set by pg when the connection has a query_timeout (DATABASE_URL may set one): called when done, it clears that timer. */
  callback: ((error: Error | null, rows?: number) => void) | undefined;

  /** `text`: the COPY statement, after statements that return no rows if any (e.g. `begin; copy …`). */
  constructor(text: string, data: Uint8Array) {
    this.text = text;
    this.data = data;
    this.done = this.outcome.promise;
    this.done.catch(() => {}); // the caller awaits it; a rejection nobody awaited yet is not unhandled
  }

  submit(connection: Connection): void {
    connection.query(this.text);
  }

  handleCopyInResponse(connection: Connection): void {
    const header = Buffer.allocUnsafe(5);
    header[0] = COPY_DATA;
    header.writeUInt32BE(this.data.byteLength + 4, 1);
    const socket = connection.stream as Connection['stream'] & { cork(): void; uncork(): void };
    socket.cork();
    socket.write(header);
    socket.write(this.data);
    socket.write(COPY_DONE);
    socket.uncork();
  }

  handleCommandComplete(message: { text: string }): void {
    const copied = /^COPY (\d+)/.exec(message.text);
    if (copied) this.rows = Number(copied[1]);
  }

  handleReadyForQuery(): void {
    this.callback?.(null, this.rows);
    this.outcome.resolve(this.rows);
  }

  /** An ErrorResponse (pg then forgets this query: no ReadyForQuery reaches it), or a broken connection. */
  handleError(error: Error): void {
    this.callback?.(error);
    this.outcome.reject(error);
  }
}
