/**
 * Where envelopes are stored: each module that seals something with the KEK says which column holds it and which
 * record name its data was sealed for (the AAD), so a KEK rotation can re-wrap every envelope without knowing what
 * the modules are.
 */
export interface SealedColumn {
  /** What a rotation report calls it (`secrets`, `signing keys` …). */
  name: string;
  table: string;
  /** The columns that identify a row. */
  key: readonly string[];
  /** The column holding the envelope (JSON text); rows where it is null hold nothing sealed. */
  column: string;
  /** The record name the envelope's data was sealed for, from the row. */
  aad(row: Readonly<Record<string, unknown>>): string;
  /** A column that repeats the envelope's KEK id for queries, kept in step with it. */
  kekIdColumn?: string;
}
