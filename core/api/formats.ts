/**
 * Input and output formats are plain descriptors: the job artifact carries them as data,
 * and the engine that runs the job supplies the readers and writers (core/formats/).
 */

export interface LinesOptions {
  /**
   * Give each record its 1-based line number in `ctx.input.line`. Costs one extra scan of each
   * file while planning (to count the lines before each split).
   * @defaultValue false
   */
  lineNumbers?: boolean;
}

export interface LinesInput {
  readonly format: "lines";
  readonly lineNumbers: boolean;
}
export interface JsonlInput {
  readonly format: "jsonl";
}
export type InputFormat = LinesInput | JsonlInput;

export interface TsvOutput {
  readonly format: "tsv";
}
export interface JsonlOutput {
  readonly format: "jsonl";
}
export type OutputFormat = TsvOutput | JsonlOutput;

/** One record per text line (without its terminator), splittable by byte range. */
export function lines(options: LinesOptions = {}): LinesInput {
  return { format: "lines", lineNumbers: options.lineNumbers === true };
}

/** One JSON value per line: as an input, each parsed line is a record; as an output, `{"key":…,"value":…}` per line. */
export function jsonl(): JsonlInput & JsonlOutput {
  return { format: "jsonl" };
}

/** key<TAB>value per line; a composite key takes one column per element. */
export function tsv(): TsvOutput {
  return { format: "tsv" };
}
