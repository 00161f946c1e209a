import { getDocumentProxy } from 'unpdf';
import { DocumentBuilder, emptyDocument } from './builder.js';
import { cleanText } from './decode.js';
import { ParseError, type ParseInput, type ParsedDocument } from './types.js';

/** pdf.js logging: errors only (it otherwise prints warnings such as "Indexing all PDF objects" to the console). */
const ERRORS_ONLY = 0;
const LISTED_PAGES = 10;
const NO_TEXT_LAYER = 'no text layer found (image-only PDF?)';

type PdfProxy = Awaited<ReturnType<typeof getDocumentProxy>>;

/**
 * The PDF's text layer, page by page with 1-based page numbers, read by pdf.js (through unpdf's build, which runs
 * in Node without a browser, a canvas or native code), so a caller can chunk and store the first pages while the
 * next ones are read. There is no OCR: a scanned page has no text layer, so an image-only PDF gives empty text and
 * a note, and scanned pages in a mixed PDF are listed in the note. A page pdf.js cannot read is skipped and named
 * in the note; a PDF with no readable page at all is an error (thrown once every page has been tried).
 */
export class PdfPages {
  private readonly blank: number[] = [];
  private readonly unreadable: number[] = [];
  private withText = 0;
  private read = 0;

  private constructor(private readonly pdf: PdfProxy) {}

  static async open(bytes: Uint8Array): Promise<PdfPages> {
    // pdf.js takes ownership of the array it is given, so it gets a copy.
    const pdf = await getDocumentProxy(new Uint8Array(bytes), { verbosity: ERRORS_ONLY }).catch((error: unknown) => {
      throw pdfError(error);
    });
    return new PdfPages(pdf);
  }

  get count(): number {
    return this.pdf.numPages;
  }

  /** Pages read so far, 0 to 1. */
  progress(): number {
    return this.count ? this.read / this.count : 1;
  }

  /** The pages that have text (cleaned and trimmed), in order; the document is released when they end (or the caller stops early). */
  async *pages(): AsyncGenerator<{ page: number; text: string }> {
    let firstFailure: unknown;
    try {
      for (let n = 1; n <= this.count; n++) {
        this.read = n;
        let text: string;
        try {
          const page = await this.pdf.getPage(n);
          const content = await page.getTextContent();
          text = cleanText(content.items.map((item) => ('str' in item ? item.str + (item.hasEOL ? '\n' : '') : '')).join('')).trim();
          page.cleanup();
        } catch (error) {
          this.unreadable.push(n);
          firstFailure ??= error;
          continue;
        }
        if (!text) {
          this.blank.push(n);
          continue;
        }
        this.withText++;
        yield { page: n, text };
      }
      if (this.unreadable.length > 0 && this.unreadable.length === this.count) throw pdfError(firstFailure);
    } finally {
      await this.pdf.destroy();
    }
  }

  /** The remark once the pages are read: damaged pages, pages without text, or no text at all. */
  note(): string | undefined {
    const notes = [
      this.unreadable.length > 0 && `pages that could not be read (damaged): ${listPages(this.unreadable)}`,
      this.withText > 0 && this.blank.length > 0 && `pages without a text layer (scanned or image-only?): ${listPages(this.blank)}`,
    ].filter((n): n is string => Boolean(n));
    if (this.withText === 0) return emptyDocument(NO_TEXT_LAYER, notes.join('; ') || undefined).note;
    return notes.join('; ') || undefined;
  }
}

/** The whole PDF as one document: one section per page with text. */
export async function parsePdf({ bytes }: ParseInput): Promise<ParsedDocument> {
  const reader = await PdfPages.open(bytes);
  const builder = new DocumentBuilder();
  for await (const { page, text } of reader.pages()) builder.add(text, { page });
  if (builder.isEmpty) return { text: '', sections: [], note: reader.note() };
  return builder.build(reader.note());
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
