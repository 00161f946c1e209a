import { parse as parseCsvText } from 'csv-parse/sync';
import { DocumentBuilder, emptyDocument } from './builder.js';
import { decodeText, encodingNote } from './decode.js';
import { ParseError, type ParseInput, type ParsedDocument } from './types.js';

const DELIMITERS = [',', ';', '\t', '|'];

/**
 * CSV and TSV: the first row names the columns, and every other row becomes a block of `column: value` lines, so a
 * chunk cut from the middle of a table still says what each value is. Rows are separated by a blank line, where the
 * chunker prefers to break; empty cells are left out. Quoting is relaxed (a stray quote inside an unquoted field is
 * kept as text) and rows may have more or fewer cells than the header.
 */
export async function parseCsv({ bytes, name }: ParseInput): Promise<ParsedDocument> {
  const decoded = decodeText(bytes);
  const note = encodingNote(decoded);
  const delimiter = /\.(tsv|tab)$/i.test(name) ? '\t' : sniffDelimiter(decoded.text);
  let records: string[][];
  try {
    records = parseCsvText(decoded.text, {
      delimiter,
      relax_column_count: true,
      relax_quotes: true,
      skip_empty_lines: true,
    });
  } catch (error) {
    throw new ParseError(`CSV is malformed: ${(error as Error).message}`, { cause: error });
  }
  if (records.length === 0) return emptyDocument(undefined, note);
  if (records.length === 1) return emptyDocument('no data rows (the file has only a header row)', note);

  const header = records[0].map((h, i) => h.trim() || columnName(i));
  const rows = records.slice(1).map((row) =>
    row
      .map((cell, i) => (cell.trim() ? `${header[i] ?? columnName(i)}: ${cell.trim()}` : ''))
      .filter(Boolean)
      .join('\n'),
  );
  const builder = new DocumentBuilder();
  builder.add(rows.filter(Boolean).join('\n\n'));
  return builder.isEmpty ? emptyDocument('no values found (every data cell is empty)', note) : builder.build(note);
}

const columnName = (i: number) => `column ${i + 1}`;

/** The candidate that occurs most often on the first line outside quotes; a comma when there is no sign of another. */
function sniffDelimiter(text: string): string {
  const newline = text.indexOf('\n');
  const firstLine = (newline < 0 ? text : text.slice(0, newline)).replace(/"[^"]*"/g, '');
  let best = ',';
  let bestCount = 0;
  for (const d of DELIMITERS) {
    const count = firstLine.split(d).length - 1;
    if (count > bestCount) [best, bestCount] = [d, count];
  }
  return best;
}
