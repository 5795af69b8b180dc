import { FileLevelError } from './csv-header.ts';
import type { ImportOptions } from './import-options.ts';

/** The error rate is judged only once this many records are read: a few early rejects are no trend. */
export const ERROR_RATE_MIN_RECORDS = 1000;

/** An import stopped by its error policy (max_errors, max_error_rate): it ends failed, saying which limit. */
export class ErrorPolicyExceededError extends FileLevelError {}

/**
 * Checked after each committed batch with the import's running totals. The batch that passes a
 * limit is already committed (a non-atomic import keeps what it wrote); nothing after it is read.
 */
export function checkErrorPolicy(
  options: Pick<ImportOptions, 'max_errors' | 'max_error_rate'>,
  totals: { processed: number; rejected: number },
): void {
  const { processed, rejected } = totals;
  if (options.max_errors !== null && rejected > options.max_errors) {
    throw new ErrorPolicyExceededError(
      `Stopped: ${rejected} records rejected, more than max_errors=${options.max_errors} (after ${processed} records read)`,
    );
  }
  if (options.max_error_rate !== null && processed >= ERROR_RATE_MIN_RECORDS && rejected / processed > options.max_error_rate) {
    const percent = ((rejected / processed) * 100).toFixed(1);
    throw new ErrorPolicyExceededError(
      `Stopped: ${percent}% of records rejected (${rejected} of ${processed} read), more than max_error_rate=${options.max_error_rate}`,
    );
  }
}
