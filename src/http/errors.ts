import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { ConflictError, InvalidInputError, NotFoundError, ShuttingDownError, UploadRejectedError } from '../errors.ts';
import { InvalidCursorError } from './pagination.ts';

// Every error the API can answer with: a stable machine-readable code and its HTTP status. The
// codes are the `code` enum of the Error schema in /openapi.json.
export const ERROR_STATUS = {
  bad_request: 400,
  validation_failed: 400,
  empty_file: 400,
  unauthorized: 401,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  upgrade_required: 426,
  rate_limited: 429,
  service_unavailable: 503,
  internal_error: 500,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof ERROR_STATUS;
export const ERROR_CODES = Object.keys(ERROR_STATUS) as [ErrorCode, ...ErrorCode[]];

/** An error of the HTTP layer itself (authentication, limits, routing), or a domain error mapped. */
export class ApiError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.code = code;
  }
  get status(): ContentfulStatusCode {
    return ERROR_STATUS[this.code];
  }
}

export type ErrorBody = { error: { code: ErrorCode; message: string; requestId: string } };

const UPLOAD_CODES = {
  malformed: 'bad_request',
  empty: 'empty_file',
  too_large: 'payload_too_large',
  not_csv: 'unsupported_media_type',
} as const satisfies Record<UploadRejectedError['reason'], ErrorCode>;

/**
 * The one mapping from what was thrown to what the client is told; undefined for anything
 * unexpected (then a 500 that says only "something went wrong", and the log has the rest).
 */
export function toApiError(error: unknown): ApiError | undefined {
  if (error instanceof ApiError) return error;
  if (error instanceof NotFoundError) return new ApiError('not_found', error.message);
  if (error instanceof ConflictError) return new ApiError('conflict', error.message);
  if (error instanceof InvalidInputError) return new ApiError('validation_failed', error.message);
  if (error instanceof ShuttingDownError) return new ApiError('service_unavailable', error.message);
  if (error instanceof UploadRejectedError) return new ApiError(UPLOAD_CODES[error.reason], error.message);
  if (error instanceof InvalidCursorError) return new ApiError('bad_request', error.message);
  if (error instanceof SyntaxError) return new ApiError('bad_request', `The body is not valid JSON: ${error.message}`);
  if (error instanceof HTTPException) {
    if (error.status === 400) return new ApiError('bad_request', error.message || 'Malformed request');
    if (error.status === 401) return new ApiError('unauthorized', error.message);
    if (error.status === 404) return new ApiError('not_found', error.message);
    if (error.status === 413) return new ApiError('payload_too_large', error.message);
  }
  return undefined;
}
