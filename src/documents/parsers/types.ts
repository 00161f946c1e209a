/** What every parser returns, and the error it throws for a file it cannot read. */

export type DocumentKind =
  | 'pdf'
  | 'docx'
  | 'markdown'
  | 'json'
  | 'jsonl'
  | 'csv'
  | 'html'
  | 'xml'
  | 'yaml'
  | 'toml'
  | 'code'
  | 'text';

export interface Section {
  text: string;
  /** 1-based page number, for paged formats (PDF). */
  page?: number;
  /** Enclosing headings, outermost first (Markdown, HTML, DOCX), or the top-level key (JSON). */
  headingPath?: string[];
  /** Character offset of `text` in the document text: `doc.text.slice(startOffset, startOffset + text.length) === text`. */
  startOffset: number;
}

/**
 * A document as text. Sections are in order and never overlap; the text between them (page breaks, blank lines)
 * belongs to no section. Offsets count UTF-16 code units, as JavaScript strings do.
 */
export interface ParsedDocument {
  text: string;
  sections: Section[];
  /** A remark that is not an error: no text layer, an encoding that was guessed, pages that could not be read. */
  note?: string;
}

export interface ParseInput {
  bytes: Buffer;
  name: string;
  kind: DocumentKind;
  language?: string;
  /** For ZIP-based formats: the most bytes the archive may inflate to (see zip-guard.ts); unlimited when absent. */
  maxInflatedBytes?: number;
}

/** The file is not what its type says, or is damaged; the message says what is wrong and is safe to show. */
export class ParseError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ParseError';
  }
}
