/**
 * Text from Redis, or quoting it, made safe to print (`sheaf status` and every error the CLI prints).
 * What status prints comes from Redis, where a worker (or anyone who can write there) may store
 * terminal escapes (clear the screen, rewrite lines, set the title, a hyperlink) or a CR or newline
 * that forges a line of the report. Every C0 and C1 control, DEL, and bidirectional or line
 * separator character is shown escaped (`\x1b`, `\n`): what was stored stays visible, and none of
 * it reaches the terminal.
 */
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const CONTROLS_BUT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

function escaped(c: string): string {
  const code = c.charCodeAt(0);
  return NAMED[c] ?? (code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`);
}

/** One line of text from Redis, safe to print: every control character escaped, newlines included. */
export function printable(text: unknown): string {
  return String(text ?? "").replace(CONTROLS, escaped);
}

/** A whole report, as a last guard for any field not escaped on its own: the newlines it keeps are the report's. */
export function printableReport(text: string): string {
  return text.replace(CONTROLS_BUT_NEWLINE, escaped);
}
