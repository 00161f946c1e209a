import { singleSection } from './builder.js';
import { decodeText, encodingNote } from './decode.js';
import type { ParseInput, ParsedDocument } from './types.js';

/**
 * Plain text, source code, YAML, TOML and XML: the decoded text as one section, indentation and line structure kept
 * (only line endings are normalised), so code reads as written and the chunker can break at its lines.
 */
export async function parseText({ bytes }: ParseInput): Promise<ParsedDocument> {
  const decoded = decodeText(bytes);
  return singleSection(decoded.text, encodingNote(decoded));
}
