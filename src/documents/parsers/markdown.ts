import { Lexer, type Token } from 'marked';
import { emptyDocument } from './builder.js';
import { decodeText, encodingNote } from './decode.js';
import type { ParseInput, ParsedDocument, Section } from './types.js';

/**
 * YAML (---) or TOML (+++) front matter at the very start. It is not Markdown, and a Markdown parser would read its
 * closing `---` as the underline of a setext heading.
 */
const FRONT_MATTER = /^(---|\+\+\+)[ \t]*\n[\s\S]*?\n\1[ \t]*(?:\n|$)/;

/**
 * Markdown (and MDX, read as Markdown) keeps its own text; a section starts at every top-level heading and carries
 * the path of headings above it. marked's block lexer finds the headings, so `#` lines inside code fences, setext
 * headings and HTML blocks come out right; headings nested in lists or block quotes are content, not structure.
 * The lexer's top-level tokens reproduce the source exactly (`raw`), which gives each heading's offset.
 */
export async function parseMarkdown({ bytes }: ParseInput): Promise<ParsedDocument> {
  const decoded = decodeText(bytes);
  const text = decoded.text;
  const note = encodingNote(decoded);
  if (!text.trim()) return emptyDocument(undefined, note);

  const cuts: { offset: number; headingPath: string[] }[] = [{ offset: 0, headingPath: [] }];
  const open: { depth: number; title: string }[] = [];
  let offset = FRONT_MATTER.exec(text)?.[0].length ?? 0;
  for (const token of new Lexer().lex(text.slice(offset))) {
    if (token.type === 'heading') {
      while (open.length > 0 && open[open.length - 1].depth >= token.depth) open.pop();
      open.push({ depth: token.depth, title: plainText(token.tokens ?? []).replace(/\s+/g, ' ').trim() });
      cuts.push({ offset, headingPath: open.map((h) => h.title).filter(Boolean) });
    }
    offset += token.raw.length;
  }

  const sections: Section[] = [];
  cuts.forEach((cut, i) => {
    const raw = text.slice(cut.offset, i + 1 < cuts.length ? cuts[i + 1].offset : text.length);
    const lead = raw.search(/\S/);
    if (lead < 0) return;
    const section: Section = { text: raw.slice(lead).trimEnd(), startOffset: cut.offset + lead };
    if (cut.headingPath.length > 0) section.headingPath = cut.headingPath;
    sections.push(section);
  });
  const doc: ParsedDocument = { text, sections };
  if (note) doc.note = note;
  return doc;
}

/** The words of inline Markdown: "Usage *basics* of `quarry`" → "Usage basics of quarry"; inline HTML is dropped. */
function plainText(tokens: Token[]): string {
  return tokens
    .map((token) => {
      if (token.type === 'html') return '';
      if ('tokens' in token && token.tokens?.length) return plainText(token.tokens);
      return 'text' in token && typeof token.text === 'string' ? token.text : '';
    })
    .join('');
}
