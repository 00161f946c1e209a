/**
 * The parser registry: one parser per document kind (see media-types.ts for how a file's kind is decided).
 * Every parser returns text with sections (offsets into that text), an empty text plus a note for a file with no
 * text, and throws ParseError for a file that is damaged or not what its kind says.
 */
import { parseCsv } from './csv.js';
import { parseDocx } from './docx.js';
import { parseHtml } from './html.js';
import { parseJson, parseJsonl } from './json.js';
import { parseMarkdown } from './markdown.js';
import { parsePdf } from './pdf.js';
import { parseText } from './text.js';
import type { DocumentKind, ParseInput, ParsedDocument } from './types.js';

export { ParseError } from './types.js';
export type { DocumentKind, ParseInput, ParsedDocument, Section } from './types.js';

export type Parser = (input: ParseInput) => Promise<ParsedDocument>;

export const PARSERS: Readonly<Record<DocumentKind, Parser>> = {
  pdf: parsePdf,
  docx: parseDocx,
  markdown: parseMarkdown,
  json: parseJson,
  jsonl: parseJsonl,
  csv: parseCsv,
  html: parseHtml,
  // Markup and configuration are read as text: their structure is already visible in the text itself.
  xml: parseText,
  yaml: parseText,
  toml: parseText,
  code: parseText,
  text: parseText,
};

export function parse(input: ParseInput): Promise<ParsedDocument> {
  return PARSERS[input.kind](input);
}
