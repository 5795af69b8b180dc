// The `lading` command's exit codes: one definition, listed by `lading --help` and README.
export const EXIT = {
  /** Done; for `import`: succeeded with no rejected rows (or --allow-rejects). */
  ok: 0,
  /** The import failed or was cancelled, or the API refused the request. */
  failed: 1,
  /** Wrong usage, or the service could not be reached. */
  usage: 2,
  /** `import` succeeded but rejected some rows. */
  rejected: 3,
} as const;

export const EXIT_CODES_HELP = `Exit codes:
  0  done (import: succeeded with no rejected rows, or --allow-rejects)
  1  the import failed or was cancelled, or the API refused the request
  2  wrong usage, or the service could not be reached
  3  import: succeeded with rejected rows`;

/** A failure the user should read as is (no stack), ending the command with `code`. */
export class CliError extends Error {
  readonly code: number;
  constructor(message: string, code: number) {
    super(message);
    this.code = code;
  }
}
