/**
 * Thrown by user code to fail the task without further retries (the input is bad, not the machine),
 * as BullMQ's UnrecoverableError does.
 */
export class FatalError extends Error {
  override readonly name = "FatalError";
  /** Read across threads, where structured clone drops the class. */
  readonly sheafFatal = true;
}
