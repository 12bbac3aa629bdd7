// The runtime's error: a blob that cannot be loaded or run, with a one-line reason.
export class BlobError extends Error {
  override name = "BlobError";
}

/** A blob whose declared memory has no maximum or a maximum above the host's limit. */
export class BlobMemoryError extends BlobError {
  /** The bytes the blob may grow to (its declared maximum), or Infinity without one. */
  constructor(message: string, readonly bytes: number) {
    super(message);
  }
}
