import { cleanText } from './decode.js';
import type { ParsedDocument, Section } from './types.js';

/**
 * Assembles a document from pieces of text that each become a section, keeping offsets exact by construction.
 * Used by parsers whose output text is generated (PDF pages, HTML blocks, CSV rows) rather than the file itself.
 */
export class DocumentBuilder {
  private readonly parts: string[] = [];
  private length = 0;
  private readonly sections: Section[] = [];

  constructor(private readonly separator = '\n\n') {}

  /** Adds a section; surrounding whitespace is left out and a blank one is skipped. */
  add(text: string, meta: { page?: number; headingPath?: string[] } = {}): void {
    const trimmed = cleanText(text).trim();
    if (!trimmed) return;
    if (this.length > 0) this.push(this.separator);
    const section: Section = { text: trimmed, startOffset: this.length };
    if (meta.page !== undefined) section.page = meta.page;
    if (meta.headingPath?.length) section.headingPath = meta.headingPath;
    this.sections.push(section);
    this.push(trimmed);
  }

  get isEmpty(): boolean {
    return this.sections.length === 0;
  }

  build(note?: string): ParsedDocument {
    const doc: ParsedDocument = { text: this.parts.join(''), sections: this.sections };
    if (note) doc.note = note;
    return doc;
  }

  private push(text: string): void {
    this.parts.push(text);
    this.length += text.length;
  }
}

/** A document with no text, and the note that says why (plus any other remark, such as a guessed encoding). */
export function emptyDocument(reason = 'no text found (the file is empty)', extra?: string): ParsedDocument {
  return { text: '', sections: [], note: extra ? `${reason}; ${extra}` : reason };
}

/** A document whose whole text is one section (plain text, code, YAML…), with the file's own text kept as is. */
export function singleSection(text: string, note?: string): ParsedDocument {
  const start = text.search(/\S/);
  if (start < 0) return emptyDocument(undefined, note);
  const doc: ParsedDocument = { text, sections: [{ text: text.slice(start, text.trimEnd().length), startOffset: start }] };
  if (note) doc.note = note;
  return doc;
}
