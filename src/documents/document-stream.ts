import iconv from 'iconv-lite';
import { emptyDocument } from './parsers/builder.js';
import { bomEncoding, cleanText, guessEncoding, sniffUtf16, Utf8Check } from './parsers/decode.js';
import { parse, type DocumentKind, type ParsedDocument, type Section } from './parsers/index.js';
import { PdfPages } from './parsers/pdf.js';
import { InflateLimitExceeded } from './parsers/zip-guard.js';
import { checkWholeParse, inflateBudget, inflateError, type IngestLimits } from './limits.js';

/**
 * A document as a stream of pieces, so the pipeline chunks, embeds and stores it window by window and never holds a
 * whole file's chunks. Plain text (and code, YAML, TOML, XML) is decoded as it is read, one stored blob at a time:
 * memory stays flat whatever the file's size. Formats whose parsers need the whole file are parsed whole, within the
 * file's memory share (limits.ts), then cut into the same windows.
 *
 * Every piece is a stretch of the document's text (the file's text is the concatenation of all pieces, in order)
 * with the sections inside it; no section is longer than WINDOW_CHARS (a longer one is cut at its best break:
 * blank line, line end, space), so chunking one section is short work.
 */
export interface DocumentPiece {
  text: string;
  /** Offsets in the whole document. */
  sections: Section[];
}

/** Where the file's original bytes come from, a piece at a time. */
export interface ByteSource {
  readonly size: number;
  chunks(): AsyncIterable<Buffer>;
}

export interface DocumentStream {
  pieces: AsyncIterable<DocumentPiece>;
  /** The parser's remark (known once the pieces are read): no text found, a guessed encoding… */
  note(): string | undefined;
  /** Share of the document read so far, 0 to 1. */
  progress(): number;
}

/** Characters per window: chunking one takes a few tens of milliseconds, and one is stored as one text piece. */
export const WINDOW_CHARS = 64 * 1024;

/** Between two pages of a PDF's text, as parsers/builder.ts puts it. */
const PAGE_SEPARATOR = '\n\n';

const STREAMED: ReadonlySet<DocumentKind> = new Set(['text', 'code', 'yaml', 'toml', 'xml']);

export interface OpenOptions {
  kind: DocumentKind;
  name: string;
  language?: string;
  limits: IngestLimits;
  windowChars?: number;
  /** Whether the whole file is valid UTF-8, when the upload checked it (Utf8Check): the file is then read once. */
  utf8?: boolean;
}

export async function openDocument(source: ByteSource, options: OpenOptions): Promise<DocumentStream> {
  const windowChars = options.windowChars ?? WINDOW_CHARS;
  if (STREAMED.has(options.kind)) return streamText(source, windowChars, options.utf8);
  checkWholeParse(options.limits, source.size, options.kind.toUpperCase());
  const parts: Buffer[] = [];
  for await (const chunk of source.chunks()) parts.push(chunk);
  const bytes = Buffer.concat(parts);
  parts.length = 0;
  if (options.kind === 'pdf') return streamPdf(bytes, windowChars);
  let doc: ParsedDocument;
  try {
    doc = await parse({
      bytes,
      name: options.name,
      kind: options.kind,
      language: options.language,
      ...(options.kind === 'docx' ? { maxInflatedBytes: inflateBudget(options.limits, bytes.length) } : {}),
    });
  } catch (error) {
    if (error instanceof InflateLimitExceeded) throw inflateError(options.limits, bytes.length, inflateBudget(options.limits, bytes.length));
    throw error;
  }
  let done = 0;
  return {
    pieces: windowsOf(doc, windowChars, (n) => (done = n)),
    note: () => doc.note,
    progress: () => (doc.text.length ? done / doc.text.length : 1),
  };
}

/** A parsed document cut into pieces: each section (cut into windows) with the text before it. */
async function* windowsOf(doc: ParsedDocument, windowChars: number, reached: (offset: number) => void): AsyncGenerator<DocumentPiece> {
  let at = 0;
  for (const section of doc.sections) {
    for (const window of splitSection(section, windowChars)) {
      const end = window.startOffset + window.text.length;
      yield { text: doc.text.slice(at, end), sections: [window] };
      at = end;
      reached(at);
    }
  }
  if (at < doc.text.length) yield { text: doc.text.slice(at), sections: [] };
  reached(doc.text.length);
}

/**
 * A PDF read page by page (pdf.js needs the whole file, but not the whole text): the first pages are chunked, embedded
 * and stored while the next ones are read. The text is what parsePdf gives: the pages with text, blank-line separated.
 */
async function streamPdf(bytes: Buffer, windowChars: number): Promise<DocumentStream> {
  const reader = await PdfPages.open(bytes);
  async function* pieces(): AsyncGenerator<DocumentPiece> {
    let offset = 0;
    for await (const { page, text } of reader.pages()) {
      const separator = offset > 0 ? PAGE_SEPARATOR : '';
      const pageText = separator + text;
      let at = offset;
      for (const window of splitSection({ text, page, startOffset: offset + separator.length }, windowChars)) {
        const end = window.startOffset + window.text.length;
        yield { text: pageText.slice(at - offset, end - offset), sections: [window] };
        at = end;
      }
      if (at < offset + pageText.length) yield { text: pageText.slice(at - offset), sections: [] };
      offset += pageText.length;
    }
  }
  return { pieces: pieces(), note: () => reader.note(), progress: () => reader.progress() };
}

/** A section cut into windows of at most `max` characters at the best breaks, each trimmed, same page and headings. */
export function splitSection(section: Section, max: number): Section[] {
  if (section.text.length <= max) return [section];
  const out: Section[] = [];
  let from = 0;
  const text = section.text;
  while (from < text.length) {
    const rest = text.length - from;
    const cut = rest <= max ? text.length : from + bestCut(text, from, max);
    const window = trimmed(text.slice(from, cut), section.startOffset + from);
    if (window) out.push({ ...section, text: window.text, startOffset: window.startOffset });
    from = cut;
  }
  return out;
}

/** Where to end a window of `text` starting at `from` of at most `max` characters: the length of the window. */
function bestCut(text: string, from: number, max: number): number {
  const limit = from + max;
  const floor = from + Math.floor(max / 2);
  for (const mark of ['\n\n', '\n', ' ']) {
    const at = text.lastIndexOf(mark, limit - mark.length);
    if (at >= floor) return at + mark.length - from;
  }
  // No break at all: a hard cut, never inside a surrogate pair.
  const code = text.charCodeAt(limit - 1);
  return code >= 0xd800 && code <= 0xdbff ? max - 1 : max;
}

function trimmed(text: string, startOffset: number): Section | null {
  const start = text.search(/\S/);
  if (start < 0) return null;
  return { text: text.slice(start, text.trimEnd().length), startOffset: startOffset + start };
}

/**
 * Plain text, decoded as it is read. The encoding is decided first: a byte-order mark, UTF-16 without one, valid
 * UTF-8 (checked over the whole file, streaming, before any text is used), else a statistical guess from the first
 * bytes, as parsers/decode.ts does for a whole file. Line ends are normalised and NULs dropped across piece edges.
 */
async function streamText(source: ByteSource, windowChars: number, utf8?: boolean): Promise<DocumentStream> {
  const encoding = await detectEncoding(source, utf8);
  let read = 0;
  let emitted = false;
  let note: string | undefined = encoding.guessed ? `text encoding guessed as ${encoding.name}` : undefined;
  async function* pieces(): AsyncGenerator<DocumentPiece> {
    const decoder = iconv.getDecoder(encoding.name);
    let pending = '';
    let offset = 0;
    let carriage = false;
    const take = (decoded: string, final: boolean) => {
      let text = (carriage ? '\r' : '') + decoded;
      carriage = !final && text.endsWith('\r');
      if (carriage) text = text.slice(0, -1);
      pending += cleanText(text);
    };
    const cut = function* (final: boolean): Generator<DocumentPiece> {
      while (pending.length >= windowChars || (final && pending.length)) {
        const length = pending.length > windowChars ? bestCut(pending, 0, windowChars) : pending.length;
        if (!final && length === pending.length) break;
        const text = pending.slice(0, length);
        pending = pending.slice(length);
        const section = trimmed(text, offset);
        offset += text.length;
        if (section) emitted = true;
        yield { text, sections: section ? [section] : [] };
      }
    };
    for await (const chunk of source.chunks()) {
      read += chunk.length;
      take(decoder.write(chunk), false);
      yield* cut(false);
    }
    take(decoder.end() ?? '', true);
    yield* cut(true);
    if (!emitted) note = emptyDocument(undefined, note).note;
  }
  return { pieces: pieces(), note: () => note, progress: () => (source.size ? read / source.size : 1) };
}

/** `utf8`: the upload's verdict on the whole file, if known; then only the first bytes are read here. */
async function detectEncoding(source: ByteSource, utf8?: boolean): Promise<{ name: string; guessed: boolean }> {
  let head: Buffer | null = null;
  const check = new Utf8Check();
  for await (const chunk of source.chunks()) {
    if (!head) {
      head = chunk;
      const known = bomEncoding(head) ?? sniffUtf16(head);
      if (known) return { name: known, guessed: false };
      if (utf8 !== undefined) break;
    }
    check.push(chunk);
  }
  if (utf8 ?? check.end()) return { name: 'utf-8', guessed: false };
  return { name: guessEncoding(head ?? Buffer.alloc(0)), guessed: true };
}
