import { SheafError } from "./errors.js";

/**
 * The abort reason of a coordinator that stops or loses its leadership: the job is not cancelled,
 * its files stay, and another coordinator resumes it from the job store.
 */
export class Interrupted extends SheafError {
  constructor(why: string) {
    super("INTERRUPTED", why);
  }
}
