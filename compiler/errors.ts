// Errors a user can act on: they carry the file and node they are about and never need a stack trace.
export class KilnError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = "KilnError";
  }
}

/** Wrong command-line usage: exit code 2. */
export class UsageError extends KilnError {
  constructor(message: string) {
    super(message, 2);
    this.name = "UsageError";
  }
}
