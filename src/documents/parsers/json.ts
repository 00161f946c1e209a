import { isLosslessNumber, parse as parseLossless, stringify } from 'lossless-json';
import { DocumentBuilder, emptyDocument } from './builder.js';
import { decodeText, encodingNote } from './decode.js';
import { ParseError, type ParseInput, type ParsedDocument, type Section } from './types.js';

const INDENT = '  ';

/**
 * JSON, pretty-printed with two-space indentation, one section per top-level member (headed by its key) or array
 * item. lossless-json keeps numbers exactly as written: JSON.parse would turn a 64-bit id such as
 * 12345678901234567890 into 12345678901234567000. A repeated key keeps its last value, as JSON.parse does.
 */
export async function parseJson({ bytes }: ParseInput): Promise<ParsedDocument> {
  const decoded = decodeText(bytes);
  const note = encodingNote(decoded);
  if (!decoded.text.trim()) return emptyDocument(undefined, note);
  let value: unknown;
  try {
    value = parseLossless(decoded.text, null, { onDuplicateKey: ({ newValue }) => newValue });
  } catch (error) {
    throw new ParseError(`JSON is invalid: ${(error as Error).message}`, { cause: error });
  }
  const doc = prettyDocument(value);
  if (note) doc.note = note;
  return doc;
}

/** JSON Lines: every non-blank line must be a JSON value; each record is a section, kept as written. */
export async function parseJsonl({ bytes }: ParseInput): Promise<ParsedDocument> {
  const decoded = decodeText(bytes);
  const note = encodingNote(decoded);
  const builder = new DocumentBuilder('\n');
  decoded.text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    try {
      JSON.parse(line);
    } catch (error) {
      throw new ParseError(`JSONL line ${i + 1} is not valid JSON: ${(error as Error).message}`, { cause: error });
    }
    builder.add(line);
  });
  return builder.isEmpty ? emptyDocument(undefined, note) : builder.build(note);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !isLosslessNumber(value);
}

/** Same text as `stringify(value, undefined, 2)`, assembled member by member so each member's offset is known. */
function prettyDocument(value: unknown): ParsedDocument {
  const members: { text: string; key?: string }[] = isPlainObject(value)
    ? Object.entries(value).map(([key, v]) => ({ key, text: `${JSON.stringify(key)}: ${pretty(v)}` }))
    : Array.isArray(value)
      ? value.map((v) => ({ text: pretty(v) }))
      : [];
  if (members.length === 0) {
    const text = pretty(value);
    return { text, sections: [{ text, startOffset: 0 }] };
  }

  const [open, close] = Array.isArray(value) ? ['[', ']'] : ['{', '}'];
  let text = `${open}\n`;
  const sections: Section[] = members.map((member, i) => {
    if (i > 0) text += ',\n';
    text += INDENT;
    const section: Section = { text: member.text.replace(/\n/g, `\n${INDENT}`), startOffset: text.length };
    if (member.key) section.headingPath = [member.key];
    text += section.text;
    return section;
  });
  text += `\n${close}`;
  return { text, sections };
}

function pretty(value: unknown): string {
  // stringify returns undefined only for values JSON cannot hold, which parsing never produces.
  return stringify(value, undefined, INDENT) ?? 'null';
}
