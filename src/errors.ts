// What the domain throws when a caller's request cannot be done: each error says why, in words a
// person can act on, and knows nothing of HTTP. src/http/errors.ts is the one place that maps them
// to a status and a public error code; a CLI or a worker task can catch them just as well.

/** No such resource for this tenant (another tenant's id looks exactly like a missing one). */
export class NotFoundError extends Error {}

/** The resource exists, but its state forbids the request (already finished, already used …). */
export class ConflictError extends Error {}

/** A value the caller sent breaks a rule; the message names the value and the rule. */
export class InvalidInputError extends Error {}

/** The process is shutting down: the same request succeeds on a retry. */
export class ShuttingDownError extends Error {
  constructor(message = 'The server is shutting down: retry shortly') {
    super(message);
  }
}

export const UPLOAD_REJECTIONS = ['malformed', 'empty', 'too_large', 'not_csv'] as const;

/** An upload refused before an import exists: nothing of it is kept. */
export class UploadRejectedError extends Error {
  readonly reason: (typeof UPLOAD_REJECTIONS)[number];
  constructor(reason: (typeof UPLOAD_REJECTIONS)[number], message: string) {
    super(message);
    this.reason = reason;
  }
}
