import { type DatasetRecord, type UploadOptions, elementCount, fitsFloat32, shapeText } from '../spec/index.js';
import { type Cell, type RowSink } from './row-readers.js';
import { InvalidUploadOptionError, MalformedUploadError, UploadTooLargeError } from './upload-errors.js';

export interface DatasetLimits {
  maxRows: number;
  maxColumns: number;
  maxClasses: number;
}

/** What the builder decided once every row was read; x was handed out chunk by chunk. */
export type BuiltDataset = Pick<
  DatasetRecord,
  'rows' | 'columns' | 'features' | 'label' | 'inputShape' | 'targetShape' | 'labels' | 'classes' | 'classNames'
> & { y: Float32Array };

/** A number cell, or NaN: empty cells and text that is not a finite number are not numbers. */
/** The cell as a number that float32 holds finitely (1e39 would become Infinity), else NaN. */
function toNumber(cell: Cell): number {
  const v = typeof cell === 'number' ? cell : cell.trim() === '' ? NaN : Number(cell.trim());
  return fitsFloat32(v) ? v : NaN;
}

const CHUNK = 1 << 16;
const NON_FINITE = /^[+-]?(nan|inf|infinity)$/i;

/** Growable typed array of one label value per row. */
class Column<T extends Float64Array | Int32Array> {
  length = 0;
  constructor(public data: T) {}
  push(v: number): void {
    if (this.length === this.data.length) {
      const bigger = new (this.data.constructor as new (n: number) => T)(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = v;
  }
}

/**
 * Turns rows into a dataset as they arrive: features become float32 chunks at once (the caller
 * writes them to disk, so memory stays flat), labels stay as one number and one class id per row
 * until the end, when the label encoding can be decided.
 */
export class DatasetBuilder implements RowSink {
  private names: string[] | undefined;
  private headerSeen = false;
  private featureIdx: number[] = [];
  private labelIdx = -1;
  private rowCount = 0;
  private chunk = new Float32Array(CHUNK);
  private filled = 0;
  private readonly ready: Float32Array[] = [];
  private readonly labelValues = new Column(new Float64Array(1024));
  private readonly labelIds = new Column(new Int32Array(1024));
  private readonly classIds = new Map<string, number>();
  private tooManyClasses = false;
  private firstNonNumericLabel: { row: number; line: number; value: string } | undefined;
  /** A label that spells a number float32 cannot hold (NaN, Infinity, 1e39), and whether any label is real text. */
  private firstNonFiniteLabel: { row: number; line: number; value: string } | undefined;
  private textLabels = false;

  constructor(
    private readonly options: UploadOptions,
    private readonly limits: DatasetLimits,
    /** CSV only: whether the first row may be a header. */
    private readonly header: 'auto' | 'true' | 'false',
  ) {}

  get rows(): number {
    return this.rowCount;
  }

  columns(names: string[]): void {
    this.setColumns(names);
  }

  row(cells: Cell[], line: number): void {
    if (!this.names) {
      const isHeader = this.header === 'true' || (this.header === 'auto' && cells.every((c) => Number.isNaN(toNumber(c))));
      if (isHeader) {
        this.headerSeen = true;
        this.setColumns(cells.map((c) => String(c).trim()));
        return;
      }
      this.setColumns(cells.map((_c, i) => String(i)));
    }
    const names = this.names!;
    const row = ++this.rowCount;
    if (cells.length !== names.length) {
      const reference = this.headerSeen ? 'the header has' : 'row 1 has';
      throw new MalformedUploadError(`${cells.length} cells, but ${reference} ${names.length}`, { row, line });
    }
    if (row > this.limits.maxRows) {
      throw new UploadTooLargeError('MAX_DATASET_ROWS', this.limits.maxRows, `the upload has more than ${this.limits.maxRows} rows`);
    }
    for (let f = 0; f < this.featureIdx.length; f++) {
      const c = this.featureIdx[f]!;
      const v = toNumber(cells[c]!);
      if (Number.isNaN(v)) {
        const raw = String(cells[c]).trim();
        throw new MalformedUploadError(raw === '' ? 'the cell is empty' : `${JSON.stringify(raw)} is not a number`, {
          row,
          line,
          column: names[c]!,
        });
      }
      this.chunk[this.filled++] = v;
      if (this.filled === CHUNK) {
        this.ready.push(this.chunk);
        this.chunk = new Float32Array(CHUNK);
        this.filled = 0;
      }
    }
    this.addLabel(cells[this.labelIdx]!, row, line);
  }

  /** Feature values parsed since the last call, in row-major order. */
  takeChunks(): Float32Array[] {
    const out = this.ready.splice(0);
    if (this.filled > 0) {
      out.push(this.chunk.slice(0, this.filled));
      this.filled = 0;
    }
    return out;
  }

  /** Decides the label encoding and normalization once every row is in. */
  finish(): BuiltDataset {
    if (this.rowCount === 0) {
      throw new MalformedUploadError(this.headerSeen ? 'the upload has a header but no data rows' : 'the upload has no rows');
    }
    const names = this.names!;
    const n = this.rowCount;
    const labelName = names[this.labelIdx]!;
    const numeric = this.firstNonNumericLabel === undefined;
    // Numbers with a NaN or an overflow among them are a broken numeric column, not class names.
    const broken = this.firstNonFiniteLabel;
    if (broken && !this.textLabels && this.options.labels !== 'index' && this.options.labels !== 'onehot') {
      throw new MalformedUploadError(`the label ${JSON.stringify(broken.value)} is not a finite number`, {
        row: broken.row,
        line: broken.line,
        column: names[this.labelIdx]!,
      });
    }
    const mode = this.options.labels === 'auto' ? (numeric ? 'raw' : this.classIds.size === 2 ? 'binary' : 'onehot') : this.options.labels;
    const base = {
      rows: n,
      columns: names,
      features: this.featureIdx.map((i) => names[i]!),
      label: labelName,
      inputShape: this.options.inputShape ?? [this.featureIdx.length],
    };
    if (mode === 'raw') {
      const bad = this.firstNonNumericLabel;
      if (bad) {
        throw new MalformedUploadError(`the label ${JSON.stringify(bad.value)} is not a number (labels=raw)`, {
          row: bad.row,
          line: bad.line,
          column: labelName,
        });
      }
      return { ...base, targetShape: [1], labels: 'regression', y: Float32Array.from(this.labelValues.data.subarray(0, n)) };
    }
    if (this.tooManyClasses) {
      throw new UploadTooLargeError(
        'MAX_DATASET_CLASSES',
        this.limits.maxClasses,
        `the label column ${JSON.stringify(labelName)} has more distinct values than classes are allowed`,
      );
    }
    const raw = [...this.classIds.keys()];
    const sorted = numeric ? [...raw].sort((a, b) => Number(a) - Number(b)) : [...raw].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const k = sorted.length;
    if (k < 2)
      throw new MalformedUploadError(`the label column has one value only (${JSON.stringify(sorted[0])}); classes need two or more`, { column: labelName });
    if (mode === 'binary' && k !== 2) throw new InvalidUploadOptionError('labels', `labels=binary needs exactly 2 classes; the label column has ${k}`);
    const order = new Map(sorted.map((name, i) => [name, i]));
    const remap = Int32Array.from(raw, (name) => order.get(name)!);
    const ids = this.labelIds.data;
    const width = mode === 'onehot' ? k : 1;
    const y = new Float32Array(n * width);
    for (let i = 0; i < n; i++) {
      const cls = remap[ids[i]!]!;
      if (mode === 'onehot') y[i * k + cls] = 1;
      else y[i] = cls;
    }
    return { ...base, targetShape: [width], labels: mode, classes: k, classNames: sorted, y };
  }

  private setColumns(names: string[]): void {
    if (names.length > this.limits.maxColumns) this.tooManyColumns(names.length);
    if (names.length < 2) throw new MalformedUploadError(`a dataset needs at least two columns (features and a label); the first row has ${names.length}`);
    this.names = names;
    const find = (option: string, ref: string): number => {
      const byName = names.indexOf(ref);
      if (byName >= 0) return byName;
      if (/^\d+$/.test(ref) && Number(ref) < names.length) return Number(ref);
      throw new InvalidUploadOptionError(option, `no column ${JSON.stringify(ref)}; the columns are ${names.map((c) => JSON.stringify(c)).join(', ')}`);
    };
    this.labelIdx = this.options.label !== undefined ? find('label', this.options.label) : names.length - 1;
    this.featureIdx = this.options.features?.length
      ? this.options.features.map((f) => find('features', f))
      : names.map((_n, i) => i).filter((i) => i !== this.labelIdx);
    if (this.featureIdx.includes(this.labelIdx)) {
      throw new InvalidUploadOptionError('features', `the label column ${JSON.stringify(names[this.labelIdx])} cannot also be a feature`);
    }
    const shape = this.options.inputShape;
    if (shape && elementCount(shape) !== this.featureIdx.length) {
      throw new InvalidUploadOptionError(
        'inputShape',
        `inputShape ${shapeText(shape)} holds ${elementCount(shape)} values, but there are ${this.featureIdx.length} features`,
      );
    }
  }

  tooManyColumns(count: number): never {
    throw new UploadTooLargeError('MAX_DATASET_COLUMNS', this.limits.maxColumns, `a row has ${count} columns`);
  }

  private addLabel(cell: Cell, row: number, line: number): void {
    const value = toNumber(cell);
    const text = String(cell).trim();
    if (text === '') throw new MalformedUploadError('the label is empty', { row, line, column: this.names![this.labelIdx]! });
    if (Number.isNaN(value)) {
      this.firstNonNumericLabel ??= { row, line, value: text };
      if (NON_FINITE.test(text) || !Number.isNaN(Number(text))) this.firstNonFiniteLabel ??= { row, line, value: text };
      else this.textLabels = true;
    }
    this.labelValues.push(value);
    // Numeric labels are classes by value ("1" and "1.0" are one class).
    const key = Number.isNaN(value) ? text : String(value);
    let id = this.classIds.get(key);
    if (id === undefined) {
      if (this.classIds.size >= this.limits.maxClasses) {
        this.tooManyClasses = true;
        id = -1;
      } else {
        id = this.classIds.size;
        this.classIds.set(key, id);
      }
    }
    this.labelIds.push(id);
  }
}
