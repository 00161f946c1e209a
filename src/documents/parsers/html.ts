import { Parser } from 'htmlparser2';
import { DocumentBuilder, emptyDocument } from './builder.js';
import { decodeText, encodingNote } from './decode.js';
import type { ParseInput, ParsedDocument } from './types.js';

/** Elements whose content is not reading text. */
const SKIPPED = new Set(['head', 'script', 'style', 'noscript', 'template', 'svg', 'iframe', 'object']);
/** Elements that stand apart from their neighbours by a blank line. */
const PARAGRAPHS = new Set([
  'p', 'blockquote', 'pre', 'table', 'ul', 'ol', 'dl', 'section', 'article', 'aside', 'header', 'footer', 'nav',
  'main', 'figure', 'form', 'fieldset', 'details', 'address', 'hr',
]);
/** Elements that start on a new line. */
const LINES = new Set(['div', 'li', 'tr', 'dt', 'dd', 'caption', 'figcaption', 'summary', 'legend', 'option']);
const HEADING = /^h([1-6])$/;

/**
 * HTML to readable text with htmlparser2 (a tolerant HTML parser that decodes entities): block elements become line
 * breaks, runs of whitespace collapse as a browser would (except in <pre>), list items get markers, table cells are
 * joined with " | ". Every <h1>–<h6> starts a section whose heading path is the chain of enclosing headings.
 */
export async function parseHtml({ bytes }: ParseInput): Promise<ParsedDocument> {
  const decoded = decodeText(bytes);
  return htmlToDocument(decoded.text, encodingNote(decoded));
}

export function htmlToDocument(html: string, note?: string): ParsedDocument {
  const writer = new TextWriter();
  const parser = new Parser(
    {
      onopentag: (name) => writer.open(name),
      onclosetag: (name) => writer.close(name),
      ontext: (text) => writer.text(text),
    },
    { decodeEntities: true },
  );
  parser.end(html);
  return writer.finish(note);
}

class TextWriter {
  private readonly builder = new DocumentBuilder();
  private buffer = '';
  /** Newlines owed before the next text (1 = line break, 2 = blank line). */
  private breaks = 0;
  private space = false;
  private skipDepth = 0;
  private preDepth = 0;
  private cellDepth = 0;
  private cellsInRow = 0;
  private readonly lists: { ordered: boolean; count: number }[] = [];
  private readonly headings: { level: number; title: string }[] = [];
  private heading: { level: number; title: string } | null = null;

  open(name: string): void {
    if (SKIPPED.has(name)) this.skipDepth++;
    if (this.skipDepth > 0) return;
    const level = HEADING.exec(name)?.[1];
    if (level) {
      this.heading = { level: Number(level), title: '' };
      return;
    }
    if (name === 'br') this.breaks = Math.min(this.breaks + 1, 2);
    else this.block(name);
    switch (name) {
      case 'pre':
        this.preDepth++;
        break;
      case 'ul':
      case 'ol':
        this.lists.push({ ordered: name === 'ol', count: 0 });
        break;
      case 'li': {
        const list = this.lists[this.lists.length - 1];
        const marker = list?.ordered ? `${++list.count}. ` : '- ';
        this.emit('  '.repeat(Math.max(0, this.lists.length - 1)) + marker);
        break;
      }
      case 'tr':
        this.cellsInRow = 0;
        break;
      case 'td':
      case 'th':
        if (this.cellsInRow++ > 0) {
          this.space = true;
          this.emit('| ');
        }
        this.cellDepth++;
        break;
    }
  }

  close(name: string): void {
    if (SKIPPED.has(name)) {
      this.skipDepth = Math.max(0, this.skipDepth - 1);
      return;
    }
    if (this.skipDepth > 0) return;
    if (this.heading && HEADING.test(name)) return this.endHeading();
    switch (name) {
      case 'pre':
        this.preDepth--;
        break;
      case 'ul':
      case 'ol':
        this.lists.pop();
        break;
      case 'td':
      case 'th':
        this.cellDepth--;
        break;
    }
    this.block(name);
  }

  text(text: string): void {
    if (this.skipDepth > 0) return;
    if (this.heading) {
      this.heading.title += text;
      return;
    }
    if (this.preDepth > 0) return this.emit(text);
    const collapsed = text.replace(/[ \t\n\r\f]+/g, ' ');
    if (collapsed.startsWith(' ')) this.space = true;
    this.emit(collapsed.replace(/^ | $/g, ''));
    if (collapsed.endsWith(' ')) this.space = true;
  }

  finish(note?: string): ParsedDocument {
    this.flush();
    return this.builder.isEmpty ? emptyDocument('no text found in the HTML', note) : this.builder.build(note);
  }

  private block(name: string): void {
    // Inside a table cell, paragraphs run on: the row stays one line.
    if (this.cellDepth > 0) this.space = true;
    else if (PARAGRAPHS.has(name)) this.breaks = 2;
    else if (LINES.has(name)) this.breaks = Math.max(this.breaks, 1);
  }

  private emit(text: string): void {
    if (!text) return;
    if (this.buffer) {
      if (this.breaks > 0) this.buffer += '\n'.repeat(this.breaks);
      else if (this.space && !/\s$/.test(this.buffer)) this.buffer += ' ';
    }
    this.breaks = 0;
    this.space = false;
    this.buffer += text;
  }

  private endHeading(): void {
    const { level, title: raw } = this.heading!;
    this.heading = null;
    const title = raw.replace(/\s+/g, ' ').trim();
    if (!title) return;
    this.flush();
    while (this.headings.length > 0 && this.headings[this.headings.length - 1].level >= level) this.headings.pop();
    this.headings.push({ level, title });
    this.emit(title);
    this.breaks = 2;
  }

  private flush(): void {
    this.builder.add(this.buffer, { headingPath: this.headings.map((h) => h.title) });
    this.buffer = '';
    this.breaks = 0;
    this.space = false;
  }
}
