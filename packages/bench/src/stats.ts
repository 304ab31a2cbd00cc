// Small, pure helpers for the figures: percentiles, medians, formatting and the Markdown table.

/** The p-th percentile (0–100) by nearest rank of an unsorted sample; NaN for an empty one. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

/** A ratio as the docs write it: `0.78×`. */
export function ratio(value: number, reference: number): string {
  if (!Number.isFinite(value) || !Number.isFinite(reference) || reference === 0) return '—';
  return `${(value / reference).toFixed(2)}×`;
}

/** A number with a fixed count of decimals, `—` when it is not a number. */
export function fixed(value: number | undefined, decimals = 0): string {
  if (value === undefined || !Number.isFinite(value)) return '—';
  return value.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

/** A difference in microseconds with its sign: `+52 µs`, `-8 µs`. */
export function signedMicros(value: number): string {
  return `${value >= 0 ? '+' : ''}${fixed(value)} µs`;
}

export function megabytes(bytes: number | undefined): string {
  return bytes === undefined || !Number.isFinite(bytes) ? '—' : `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

export function ms(value: number | undefined, decimals = 1): string {
  return value === undefined || !Number.isFinite(value) ? '—' : `${value.toFixed(decimals)} ms`;
}

export type Align = 'left' | 'right';

/** A GitHub-flavoured Markdown table, columns padded so it also reads well in a terminal. */
export function markdownTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  align?: Align[],
): string {
  const width = header.map((h, i) => Math.max(h.length, 3, ...rows.map((r) => (r[i] ?? '').length)));
  const alignOf = (i: number): Align => align?.[i] ?? (i === 0 ? 'left' : 'right');
  const cell = (text: string, i: number): string =>
    alignOf(i) === 'left' ? text.padEnd(width[i]!) : text.padStart(width[i]!);
  const line = (cells: readonly string[]): string =>
    `| ${header.map((_, i) => cell(cells[i] ?? '', i)).join(' | ')} |`;
  const rule = `| ${width.map((w, i) => (alignOf(i) === 'left' ? '-'.repeat(w) : '-'.repeat(w - 1) + ':')).join(' | ')} |`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}
