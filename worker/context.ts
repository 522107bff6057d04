/** The `ctx` user code receives: counters, params, task identity and the current record's place. */
import type { Counter, RecordLocation, TaskContext } from "../core/api/types.js";
import type { ReadBatch } from "../core/formats/format.js";
import type { Task } from "../core/tasks.js";

export class Context implements TaskContext {
  readonly params: Readonly<Record<string, string>>;
  readonly taskId: string;
  readonly attempt: number;
  readonly jobName: string;
  readonly counters = new Map<string, { value: number }>();
  /** Set by the map loop; `input` is computed only when user code asks. */
  batch: ReadBatch | undefined;
  index = 0;

  constructor(task: Task) {
    this.params = Object.freeze({ ...task.job.params });
    this.taskId = task.taskId;
    this.attempt = task.attempt;
    this.jobName = task.job.name;
  }

  get input(): RecordLocation | undefined {
    return this.batch?.location(this.index);
  }

  counter(name: string): Counter {
    let c = this.counters.get(name);
    if (!c) {
      const cell = { value: 0 };
      c = cell;
      this.counters.set(name, cell);
    }
    const cell = c;
    return { inc: (by = 1) => void (cell.value += by) };
  }

  /** Counters as a checkpoint saved them. */
  restoreCounters(values: Record<string, number>): void {
    for (const [name, value] of Object.entries(values)) this.counters.set(name, { value });
  }

  counterValues(): Record<string, number> {
    return Object.fromEntries([...this.counters].map(([k, v]) => [k, v.value]));
  }
}
