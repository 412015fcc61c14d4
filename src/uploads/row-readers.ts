import { MalformedUploadError } from './upload-errors.js';
import { jsonDepth } from '../shared/json-depth.js';

/** One cell as read: CSV gives strings, JSON numbers or strings. */
export type Cell = string | number;

/** Receives the rows a reader finds; `line` is the file line the row starts on (1-based). */
export interface RowSink {
  /** Column names the data itself carries (JSON objects' keys); CSV headers go through `row`. */
  columns(names: string[]): void;
  row(cells: Cell[], line: number): void;
}

/** A push parser: text goes in chunk by chunk (any split), rows come out through the sink. */
export interface RowReader {
  push(text: string): void;
  end(): void;
}

/** Longest row (in characters) a reader keeps while it waits for the row's end. */
export const MAX_ROW_CHARS = 16 * 1024 * 1024;

const LF = 10;
const CR = 13;
const QUOTE = 34;

const enum Csv {
  FieldStart,
  Unquoted,
  Quoted,
  /** A quote inside a quoted field: the field's end, or the first of an escaped "". */
  QuoteSeen,
}

/** RFC 4180 CSV: quoted fields (with "" and line breaks inside), LF or CRLF, a leading BOM. Blank lines are skipped. */
export class CsvReader implements RowReader {
  private state = Csv.FieldStart;
  private field = '';
  private record: string[] = [];
  private rowChars = 0;
  private line = 1;
  private recordLine = 1;
  private skipLf = false;
  private first = true;
  private readonly delimiter: number;

  constructor(
    delimiter: string,
    private readonly sink: RowSink,
    private readonly maxColumns: number,
    private readonly onTooManyColumns: (count: number) => never,
  ) {
    this.delimiter = delimiter.charCodeAt(0);
  }

  push(text: string): void {
    let s = text;
    if (this.first && s.length > 0) {
      this.first = false;
      if (s.charCodeAt(0) === 0xfeff) s = s.slice(1);
    }
    const n = s.length;
    const d = this.delimiter;
    let i = 0;
    while (i < n) {
      const c = s.charCodeAt(i);
      if (this.skipLf) {
        this.skipLf = false;
        if (c === LF) {
          i++;
          continue;
        }
      }
      switch (this.state) {
        case Csv.FieldStart:
          if (c === QUOTE) {
            this.state = Csv.Quoted;
            i++;
          } else this.state = Csv.Unquoted;
          break;
        case Csv.Unquoted: {
          let j = i;
          while (j < n) {
            const k = s.charCodeAt(j);
            if (k === d || k === LF || k === CR) break;
            j++;
          }
          this.append(s, i, j);
          i = j;
          if (j < n) {
            this.terminate(s.charCodeAt(j));
            i++;
          }
          break;
        }
        case Csv.Quoted: {
          const q = s.indexOf('"', i);
          const end = q < 0 ? n : q;
          // Line breaks inside quotes still count as lines (CRLF as LF).
          for (let j = s.indexOf('\n', i); j >= 0 && j < end; j = s.indexOf('\n', j + 1)) this.line++;
          this.append(s, i, end);
          if (q >= 0) this.state = Csv.QuoteSeen;
          i = q < 0 ? n : q + 1;
          break;
        }
        case Csv.QuoteSeen:
          if (c === QUOTE) {
            this.field += '"';
            this.state = Csv.Quoted;
          } else if (c === d || c === LF || c === CR) {
            this.terminate(c);
          } else {
            throw new MalformedUploadError('a quoted field must end at a delimiter or a line break', { line: this.line });
          }
          i++;
          break;
      }
    }
  }

  end(): void {
    if (this.state === Csv.Quoted) throw new MalformedUploadError('a quoted field is never closed', { line: this.recordLine });
    if (this.record.length > 0 || this.field !== '' || this.state === Csv.QuoteSeen) this.endRecord();
  }

  private append(s: string, from: number, to: number): void {
    if (to <= from) return;
    this.rowChars += to - from;
    if (this.rowChars > MAX_ROW_CHARS) throw new MalformedUploadError(`a row is longer than ${MAX_ROW_CHARS} characters`, { line: this.recordLine });
    this.field += s.slice(from, to);
  }

  /** Ends the current field at a delimiter or a line break (`c`). */
  private terminate(c: number): void {
    this.record.push(this.field);
    this.field = '';
    this.state = Csv.FieldStart;
    if (this.record.length > this.maxColumns) this.onTooManyColumns(this.record.length);
    if (c === this.delimiter) return;
    this.line++;
    if (c === CR) this.skipLf = true;
    this.flushRecord();
  }

  private endRecord(): void {
    this.record.push(this.field);
    this.field = '';
    this.state = Csv.FieldStart;
    if (this.record.length > this.maxColumns) this.onTooManyColumns(this.record.length);
    this.flushRecord();
  }

  private flushRecord(): void {
    const record = this.record;
    this.record = [];
    this.rowChars = 0;
    const line = this.recordLine;
    this.recordLine = this.line;
    if (record.length === 1 && record[0]!.trim() === '') return;
    this.sink.row(record, line);
  }
}

const isSpace = (c: number) => c === 32 || c === 9 || c === LF || c === CR;

/**
 * A JSON array of rows, `[row, row, ...]`, read element by element: each row is parsed alone
 * once its closing bracket arrives, so the whole document is never held in memory.
 */
export class JsonArrayReader implements RowReader {
  private phase: 'before' | 'between' | 'element' | 'after' = 'before';
  private afterComma = false;
  private text = '';
  private depth = 0;
  private inString = false;
  private escaped = false;
  private line = 1;
  private elementLine = 1;
  private readonly rows: JsonRows;

  constructor(sink: RowSink) {
    this.rows = new JsonRows(sink);
  }

  push(s: string): void {
    const n = s.length;
    let start = this.phase === 'element' ? 0 : -1;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c === LF) this.line++;
      switch (this.phase) {
        case 'before':
          if (isSpace(c) || c === 0xfeff) continue;
          if (c !== 91 /* [ */)
            throw new MalformedUploadError('a JSON upload is an array of rows: [{"a": 1, "label": "x"}, ...] or [[1, 2, 0], ...]', { line: this.line });
          this.phase = 'between';
          continue;
        case 'between':
          if (isSpace(c)) continue;
          if (c === 93 /* ] */) {
            if (this.afterComma) throw new MalformedUploadError('a comma before the closing ]', { line: this.line });
            this.phase = 'after';
            continue;
          }
          this.phase = 'element';
          this.elementLine = this.line;
          this.depth = 0;
          this.inString = false;
          this.escaped = false;
          start = i;
          break;
        case 'after':
          if (isSpace(c)) continue;
          throw new MalformedUploadError('text after the closing ] of the array', { line: this.line });
        case 'element':
          break;
      }
      // Inside an element.
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === 92 /* \ */) this.escaped = true;
        else if (c === QUOTE) this.inString = false;
        continue;
      }
      if (c === QUOTE) this.inString = true;
      else if (c === 91 || c === 123) this.depth++;
      else if ((c === 93 || c === 125) && this.depth > 0) this.depth--;
      else if ((c === 44 /* , */ || c === 93) && this.depth === 0) {
        this.take(s.slice(start, i));
        this.phase = c === 44 ? 'between' : 'after';
        this.afterComma = c === 44;
        start = -1;
      }
    }
    if (this.phase === 'element' && start >= 0) {
      this.text += s.slice(start);
      if (this.text.length > MAX_ROW_CHARS) throw new MalformedUploadError(`a row is longer than ${MAX_ROW_CHARS} characters`, { line: this.elementLine });
    }
  }

  end(): void {
    if (this.phase === 'before') return;
    if (this.phase !== 'after') throw new MalformedUploadError('the JSON array is never closed', { line: this.line });
  }

  private take(tail: string): void {
    const text = this.text + tail;
    this.text = '';
    this.rows.add(text, this.elementLine);
  }
}

/** Newline-delimited JSON: one row (an object or an array) per line; blank lines are skipped. */
export class NdjsonReader implements RowReader {
  private text = '';
  private line = 1;
  private readonly rows: JsonRows;

  constructor(sink: RowSink) {
    this.rows = new JsonRows(sink);
  }

  push(s: string): void {
    let start = 0;
    for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', start)) {
      this.take(this.text + s.slice(start, i));
      this.text = '';
      start = i + 1;
    }
    this.text += s.slice(start);
    if (this.text.length > MAX_ROW_CHARS) throw new MalformedUploadError(`a row is longer than ${MAX_ROW_CHARS} characters`, { line: this.line });
  }

  end(): void {
    if (this.text.length > 0) this.take(this.text);
    this.text = '';
  }

  private take(text: string): void {
    const line = this.line++;
    if (text.trim() === '' || (line === 1 && text.trim() === '\ufeff')) return;
    this.rows.add(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, line);
  }
}

/** Turns JSON row texts into cells: objects by their keys (the first row's keys are the columns), arrays by position. */
class JsonRows {
  private keys: string[] | undefined;
  private keyIndex: Map<string, number> | undefined;
  private kind: 'object' | 'array' | undefined;
  private count = 0;

  constructor(private readonly sink: RowSink) {}

  add(text: string, line: number): void {
    const row = ++this.count;
    // A row is an array or object of cells; deeper nesting is refused before anything recursive
    // (the error message's JSON.stringify among them) walks it.
    if (jsonDepth(text, 2) > 2) throw new MalformedUploadError('a cell is a nested array or object, not a number or a string', { row, line });
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new MalformedUploadError(`not valid JSON (${(err as Error).message})`, { row, line });
    }
    const kind = Array.isArray(value) ? 'array' : value !== null && typeof value === 'object' ? 'object' : undefined;
    if (!kind) throw new MalformedUploadError('a row must be an object or an array', { row, line });
    if (this.kind && kind !== this.kind) throw new MalformedUploadError(`this row is an ${kind}, row 1 is an ${this.kind}`, { row, line });
    this.kind = kind;
    let values: unknown[];
    if (kind === 'array') values = value as unknown[];
    else {
      const obj = value as Record<string, unknown>;
      if (!this.keys) {
        this.keys = Object.keys(obj);
        this.keyIndex = new Map(this.keys.map((k, i) => [k, i]));
        this.sink.columns(this.keys);
      }
      const extra = Object.keys(obj).find((k) => !this.keyIndex!.has(k));
      if (extra !== undefined) throw new MalformedUploadError('a column that row 1 does not have', { row, line, column: extra });
      values = this.keys.map((k) => (k in obj ? obj[k] : undefined));
      const missing = this.keys.findIndex((k) => !(k in obj));
      if (missing >= 0) throw new MalformedUploadError('the row has no value for this column', { row, line, column: this.keys[missing]! });
    }
    const cells: Cell[] = values.map((v, i) => {
      if (typeof v === 'number' || typeof v === 'string') return v;
      const column = this.keys ? this.keys[i]! : String(i);
      throw new MalformedUploadError(`${JSON.stringify(v) ?? 'nothing'} is not a number or a string`, { row, line, column });
    });
    this.sink.row(cells, line);
  }
}
