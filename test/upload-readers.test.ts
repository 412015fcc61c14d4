import { describe, expect, it } from 'vitest';
import { type Cell, CsvReader, JsonArrayReader, NdjsonReader, type RowReader, type RowSink } from '../src/uploads/row-readers.js';

/** A sink that keeps what the reader found. */
function collect(): RowSink & { names: string[][]; rows: [Cell[], number][] } {
  const names: string[][] = [];
  const rows: [Cell[], number][] = [];
  return { names, rows, columns: (n) => names.push(n), row: (cells, line) => rows.push([cells, line]) };
}

/** Feeds `text` in pieces of `size` characters: a row must come out the same however the body is split. */
function read(make: (sink: RowSink) => RowReader, text: string, size: number) {
  const sink = collect();
  const reader = make(sink);
  for (let i = 0; i < text.length; i += size) reader.push(text.slice(i, i + size));
  reader.end();
  return { names: sink.names, rows: sink.rows };
}

const csv = (sink: RowSink) =>
  new CsvReader(',', sink, 100, () => {
    throw new Error('too many columns');
  });

describe('row readers', () => {
  const samples: [string, (sink: RowSink) => RowReader, string][] = [
    ['CSV with quotes, CRLF, blank lines and a BOM', csv, '\ufeffa,"b ""x""",c\r\n1,"2,5",x\r\n\r\n3,"multi\r\nline",y\n4,5,"z"'],
    ['a JSON array of objects', (s) => new JsonArrayReader(s), ' [ {"a": 1, "b": "x,]}"}, {"b": "q\\"]", "a": 2.5e3} ] '],
    ['a JSON array of arrays', (s) => new JsonArrayReader(s), '[[1, 2, "a"],\n [3, 4, "b"],\n[5,6,"c"]]'],
    ['NDJSON', (s) => new NdjsonReader(s), '{"a": 1, "b": "x"}\r\n\n{"a": 2, "b": "y"}'],
  ];

  it.each(samples)('%s: the same rows for every chunk size', (_name, make, text) => {
    const whole = read(make, text, text.length);
    expect(whole.rows.length).toBeGreaterThan(1);
    for (let size = 1; size < text.length; size++) expect(read(make, text, size), `chunks of ${size}`).toEqual(whole);
  });

  it('reads CSV cells and the line each row starts on', () => {
    const { rows } = read(csv, samples[0]![2], 7);
    expect(rows).toEqual([
      [['a', 'b "x"', 'c'], 1],
      [['1', '2,5', 'x'], 2],
      [['3', 'multi\r\nline', 'y'], 4],
      [['4', '5', 'z'], 6],
    ]);
  });

  it("reads JSON objects by the first row's keys, in that order", () => {
    const { names, rows } = read((s) => new JsonArrayReader(s), samples[1]![2], 5);
    expect(names).toEqual([['a', 'b']]);
    expect(rows.map((r) => r[0])).toEqual([
      [1, 'x,]}'],
      [2500, 'q"]'],
    ]);
  });
});
