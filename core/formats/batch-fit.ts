/**
 * Record batches emitted whole to a columnar output (a map-only job handing its input batches to
 * the Parquet writer): checked against the part's schema, column by column, and given that schema
 * exactly, so every batch of a part has the same Arrow schema whatever its source said about
 * nullability or metadata. A batch that does not fit fails naming the column, as a row does.
 */
import { makeData, RecordBatch, Schema as ArrowSchema, Struct } from "./arrow-lib.js";
import { SheafError } from "../errors.js";

/** An apache-arrow RecordBatch, by its shape as well (a job's bundle may hold its own apache-arrow). */
export function isRecordBatch(value: unknown): value is RecordBatch {
  if (value instanceof RecordBatch) return true;
  const v = value as { schema?: { fields?: unknown }; data?: { children?: unknown }; numRows?: unknown } | null;
  return typeof v === "object" && v !== null && Array.isArray(v.schema?.fields) && Array.isArray(v.data?.children) && typeof v.numRows === "number";
}

/** The batch's columns in the schema's order, under the schema; BAD_OUTPUT_ROW when one is missing, extra or of another type. */
export function fitBatch(schema: ArrowSchema, batch: RecordBatch): RecordBatch {
  const fields = batch.schema.fields;
  const names = schema.fields.map((f) => f.name);
  const where = (name: string) => fields.findIndex((f) => f.name === name);
  for (const f of fields) {
    if (!names.includes(f.name)) throw new SheafError("BAD_OUTPUT_ROW", `column ${f.name} of an emitted record batch is not in the output schema (${names.join(", ")})`);
  }
  const children = schema.fields.map((field) => {
    const j = where(field.name);
    if (j < 0) throw new SheafError("BAD_OUTPUT_ROW", `an emitted record batch has no column ${field.name} (its columns: ${fields.map((f) => f.name).join(", ")})`);
    const got = fields[j]!.type;
    if (String(got) !== String(field.type)) throw new SheafError("BAD_OUTPUT_ROW", `column ${field.name} of an emitted record batch is ${got}, not ${field.type} as the output schema says`);
    return batch.data.children[j]!;
  });
  return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: batch.numRows, nullCount: 0, children }));
}
