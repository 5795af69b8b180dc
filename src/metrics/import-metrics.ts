import { importBatchDuration, importRows, importStageSeconds, importsFinished, importsInProgress } from './metrics.ts';

/** An import's counters as its row (or a batch's result) holds them: cumulative, bigint as text. */
type RowCounts = { rows_inserted: string | number; rows_updated: string | number; rows_unchanged: string | number; rows_rejected: string | number };

const OUTCOMES = ['inserted', 'updated', 'unchanged', 'rejected'] as const;

/**
 * Counts one run of an import job into lading_import_rows_total, as the import's own counters
 * move: each committed batch adds what it added to them, and the end of the run what settling
 * added (an atomic or dry-run import holds its new rows until then, so they count at its end, and
 * a dry run counts what it would have written, as its counters say). Starting from the counters
 * the run found, a continuation or a retry never counts a batch of an earlier run again. Per
 * batch only: nothing is done per row.
 */
export function countImportRows(start: RowCounts) {
  const last = OUTCOMES.map((outcome) => Number(start[`rows_${outcome}`]));
  const add = (now: RowCounts) => {
    OUTCOMES.forEach((outcome, i) => {
      const value = Number(now[`rows_${outcome}`]);
      if (value > last[i]!) importRows.inc({ outcome }, value - last[i]!);
      last[i] = value;
    });
  };
  return {
    /** The batch writer, timing each committed batch and counting its rows. */
    timeBatches<B, R extends RowCounts>(write: (batch: B) => Promise<R>): (batch: B) => Promise<R> {
      return async (batch) => {
        const end = importBatchDuration.startTimer();
        const result = await write(batch);
        end();
        add(result);
        return result;
      };
    },
    /** The import as it ended (after settling held rows), if this run ended it. */
    ended(row: RowCounts | undefined): void {
      if (row) add(row);
    },
  };
}

/** An import reached its final status; called once that status is committed. */
export function countImportFinished(row: { status: string } | undefined): void {
  if (row) importsFinished.inc({ status: row.status });
}

/** Runs an import job counted in lading_imports_in_progress. */
export async function countInProgress<T>(run: () => Promise<T>): Promise<T> {
  importsInProgress.inc();
  try {
    return await run();
  } finally {
    importsInProgress.dec();
  }
}

/** A batch's parse and validate time in the parser thread (milliseconds), into lading_import_stage_seconds_total. */
export function countImportStages(stages: { parseMs: number; validateMs: number }): void {
  importStageSeconds.inc({ stage: 'parse' }, stages.parseMs / 1000);
  importStageSeconds.inc({ stage: 'validate' }, stages.validateMs / 1000);
}
