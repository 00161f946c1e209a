import { getDocumentProxy } from 'unpdf';
import { DocumentBuilder, emptyDocument } from './builder.js';
import { ParseError, type ParseInput, type ParsedDocument } from './types.js';

/** pdf.js logging: errors only (it otherwise prints warnings such as "Indexing all PDF objects" to the console). */
const ERRORS_ONLY = 0;
const LISTED_PAGES = 10;

/**
 * The PDF's text layer, one section per page with its 1-based page number, read by pdf.js (through unpdf's build,
 * which runs in Node without a browser, a canvas or native code). There is no OCR: a scanned page has no text
 * layer, so an image-only PDF gives empty text and a note, and scanned pages in a mixed PDF are listed in the note.
 * A page pdf.js cannot read is skipped and named in the note; a PDF with no readable page at all is an error.
 */
export async function parsePdf({ bytes }: ParseInput): Promise<ParsedDocument> {
  // pdf.js takes ownership of the array it is given, so it gets a copy.
  const pdf = await getDocumentProxy(new Uint8Array(bytes), { verbosity: ERRORS_ONLY }).catch((error: unknown) => {
    throw pdfError(error);
  });
  try {
    const builder = new DocumentBuilder();
    const blank: number[] = [];
    const unreadable: number[] = [];
    let firstFailure: unknown;
    for (let n = 1; n <= pdf.numPages; n++) {
      let text: string;
      try {
        const page = await pdf.getPage(n);
        const content = await page.getTextContent();
        text = content.items.map((item) => ('str' in item ? item.str + (item.hasEOL ? '\n' : '') : '')).join('');
        page.cleanup();
      } catch (error) {
        unreadable.push(n);
        firstFailure ??= error;
        continue;
      }
      if (text.trim()) builder.add(text, { page: n });
      else blank.push(n);
    }

    if (unreadable.length > 0 && unreadable.length === pdf.numPages) throw pdfError(firstFailure);
    const notes = [
      unreadable.length > 0 && `pages that could not be read (damaged): ${listPages(unreadable)}`,
      !builder.isEmpty && blank.length > 0 && `pages without a text layer (scanned or image-only?): ${listPages(blank)}`,
    ].filter((n): n is string => Boolean(n));
    if (builder.isEmpty) return emptyDocument('no text layer found (image-only PDF?)', notes.join('; ') || undefined);
    return builder.build(notes.join('; ') || undefined);
  } finally {
    await pdf.destroy();
  }
}

function listPages(pages: number[]): string {
  const shown = pages.slice(0, LISTED_PAGES).join(', ');
  return pages.length > LISTED_PAGES ? `${shown} and ${pages.length - LISTED_PAGES} more` : shown;
}

function pdfError(error: unknown): ParseError {
  const { name, message } = error instanceof Error ? error : { name: '', message: String(error) };
  if (name === 'PasswordException') return new ParseError('PDF is encrypted and needs a password', { cause: error });
  return new ParseError(`PDF is damaged: ${message}`, { cause: error });
}
