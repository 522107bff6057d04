/** The `sheaf` command line. */
import { Command, InvalidArgumentError, Option } from "commander";
import { SheafError } from "../core/errors.js";
import { parseSize } from "../core/splits.js";
import { RUN_DEFAULTS, runJob } from "./run.js";

function positiveInt(name: string) {
  return (text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
    return n;
  };
}

function size(text: string): number {
  try {
    return parseSize(text);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

function param(text: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = text.indexOf("=");
  if (eq <= 0) throw new InvalidArgumentError(`expected k=v, got ${JSON.stringify(text)}`);
  return { ...previous, [text.slice(0, eq)]: text.slice(eq + 1) };
}

function collect(text: string, previous: string[] = []): string[] {
  return [...previous, text];
}

export function buildProgram(): Command {
  const program = new Command("sheaf")
    .description("Sheaf: MapReduce jobs in TypeScript, on this machine's threads or on a Redis cluster")
    .option("--verbose", "print full stack traces of errors")
    .showHelpAfterError()
    .exitOverride(); // inherited by the subcommands: errors come back to main() instead of exiting


  program
    .command("run")
    .description("run a job in this process, on a thread pool (no Redis needed)")
    .argument("<job>", "the job module (.ts or .js) whose default export is defineJob(...)")
    .requiredOption("-i, --input <path...>", "input files, folders or globs (repeatable)", collect as never)
    .requiredOption("-o, --output <dir>", "output folder")
    .option("-p, --partitions <n>", "number of reduce tasks (default: the job's, else the thread count)", positiveInt("--partitions"))
    .option("-t, --threads <n>", "worker threads", positiveInt("--threads"), RUN_DEFAULTS.threads)
    .option("--split-size <size>", "target split size, bytes or with k/m/g", size, RUN_DEFAULTS.splitSize)
    .option("--sort-buffer <size>", "map-side sort buffer per task before spilling to disk", size, RUN_DEFAULTS.sortBufferBytes)
    .option("--max-attempts <n>", "attempts per task before the job fails", positiveInt("--max-attempts"), RUN_DEFAULTS.maxAttempts)
    .option("--param <k=v>", "a job parameter, in ctx.params (repeatable)", param, {})
    .option("--workdir <dir>", "folder for job artifacts and intermediate files", process.env.SHEAF_WORKDIR ?? ".sheaf")
    .option("--overwrite", "replace the output of an earlier finished job", false)
    .option("-q, --quiet", "no progress or summary", false)
    .action(async (jobFile: string, o) => {
      const controller = new AbortController();
      const onSignal = () => controller.abort();
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      try {
        await runJob(jobFile, {
          inputs: (o.input as string[]).flat(),
          output: o.output,
          workdir: o.workdir,
          threads: o.threads,
          splitSize: o.splitSize,
          partitions: o.partitions,
          params: o.param,
          sortBufferBytes: o.sortBuffer,
          overwrite: o.overwrite,
          maxAttempts: o.maxAttempts,
          quiet: o.quiet,
        }, controller.signal);
      } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
    });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    const verbose = program.opts().verbose || argv.includes("--verbose");
    const e = err as Error & { code?: string; exitCode?: number; failure?: { stack?: string } };
    if (e.code?.startsWith("commander.")) return e.exitCode ?? 2; // commander already printed the message
    process.stderr.write(`sheaf: ${err instanceof SheafError ? e.message : `unexpected error: ${e?.message ?? String(err)}`}\n`);
    if (verbose) process.stderr.write(`${e.failure?.stack ?? e.stack ?? ""}\n`);
    else if (!(err instanceof SheafError)) process.stderr.write("(run with --verbose for the stack trace)\n");
    return 1;
  }
}
