import { countTokens as referenceCount } from 'gpt-tokenizer/encoding/cl100k_base';
import { describe, expect, it } from 'vitest';
import { AppError } from '../src/core/errors.js';
import { type Chunk, chunk, countTokens, MAX_CHUNK_SIZE } from '../src/documents/chunker.js';
import { parse, type ParsedDocument } from '../src/documents/parsers/index.js';

/** The tokenizer itself, independent of the chunker's piece cache: special-token text counts as text. */
const tokens = (text: string) => referenceCount(text, { disallowedSpecial: new Set() });

const WORDS = (
  'the quarry ingests documents and splits them into passages that agents search later while tokens measure ' +
  'every chunk carefully so embeddings stay within limits unbelievable naïve Zürich résumé coöperate'
).split(' ');

/** Deterministic English-like prose: sentences of 5–24 words, paragraphs of 2–7 sentences. */
function prose(chars: number, seed = 1): string {
  let state = seed;
  const next = (n: number) => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state % n;
  };
  const paragraphs: string[] = [];
  let length = 0;
  while (length < chars) {
    const sentences: string[] = [];
    for (let s = 2 + next(6); s > 0; s--) {
      const words = Array.from({ length: 5 + next(20) }, () => WORDS[next(WORDS.length)]);
      words[0] = words[0][0].toUpperCase() + words[0].slice(1);
      sentences.push(`${words.join(' ')}${['.', '.', '.', '?', '!'][next(5)]}`);
    }
    const paragraph = sentences.join(' ');
    paragraphs.push(paragraph);
    length += paragraph.length + 2;
  }
  return paragraphs.join('\n\n');
}

const oneSection = (text: string): ParsedDocument => ({ text, sections: [{ text, startOffset: 0 }] });

/** The invariants every chunking must keep. */
function expectValidChunks(doc: ParsedDocument, chunks: Chunk[], chunkSize: number): void {
  chunks.forEach((c, i) => {
    expect(c.index).toBe(i);
    expect(doc.text.slice(c.startOffset, c.endOffset)).toBe(c.text);
    expect(c.text.trim()).toBe(c.text);
    expect(c.text.length).toBeGreaterThan(0);
    expect(c.tokenCount).toBe(tokens(c.text));
    expect(c.tokenCount).toBeLessThanOrEqual(chunkSize);
  });
}

/** A position is a word boundary when whitespace (or the edge of the text) is on one side of it. */
function atWordBoundary(text: string, offset: number): boolean {
  const space = (c: string | undefined) => c === undefined || /\s/.test(c);
  return space(text[offset - 1]) || space(text[offset]);
}

describe('chunk', () => {
  const text = prose(200_000);
  const doc = oneSection(text);

  it('never exceeds the budget, counts tokens exactly and keeps offsets exact', () => {
    for (const chunkSize of [20, 50, 300, 1000]) {
      const chunks = chunk(doc, { chunkSize, overlap: Math.floor(chunkSize / 6) });
      expect(chunks.length).toBeGreaterThan(text.length / (chunkSize * 8));
      expectValidChunks(doc, chunks, chunkSize);
    }
  });

  it('uses the defaults of Letta: 300 tokens with 50 of overlap', () => {
    const chunks = chunk(doc);
    expectValidChunks(doc, chunks, 300);
    // Chunks end at the best break that fills at least 70% of the budget.
    const sizes = chunks.slice(0, -1).map((c) => c.tokenCount);
    expect(Math.min(...sizes)).toBeGreaterThanOrEqual(205);
    expect(sizes.reduce((a, b) => a + b, 0) / sizes.length).toBeGreaterThan(250);
  });

  it('overlaps consecutive chunks by about `overlap` tokens', () => {
    const chunks = chunk(doc, { chunkSize: 300, overlap: 50 });
    const overlaps = chunks.slice(1).map((c, i) => {
      const previous = chunks[i];
      expect(c.startOffset).toBeLessThan(previous.endOffset);
      expect(c.endOffset).toBeGreaterThan(previous.endOffset);
      return tokens(text.slice(c.startOffset, previous.endOffset));
    });
    for (const o of overlaps) {
      expect(o).toBeGreaterThan(0);
      expect(o).toBeLessThanOrEqual(52);
    }
    const mean = overlaps.reduce((a, b) => a + b, 0) / overlaps.length;
    expect(mean).toBeGreaterThan(35);
  });

  it('does not overlap when overlap is 0, and covers all the text', () => {
    const chunks = chunk(doc, { chunkSize: 100, overlap: 0 });
    for (let i = 1; i < chunks.length; i++) expect(chunks[i].startOffset).toBeGreaterThanOrEqual(chunks[i - 1].endOffset);
    expect(chunks.map((c) => c.text).join(' ').replace(/\s+/g, ' ')).toBe(text.replace(/\s+/g, ' '));
  });

  it('never cuts inside a word and prefers sentence ends', () => {
    const chunks = chunk(doc, { chunkSize: 120, overlap: 20 });
    for (const c of chunks) {
      expect(atWordBoundary(text, c.startOffset)).toBe(true);
      expect(atWordBoundary(text, c.endOffset)).toBe(true);
    }
    const atSentenceEnd = chunks.filter((c) => /[.?!]$/.test(c.text)).length;
    expect(atSentenceEnd).toBeGreaterThan(chunks.length * 0.9);
  });

  it('prefers a paragraph break that fills most of the budget to a later sentence end', () => {
    const paragraph = (n: number) => Array.from({ length: n }, (_, i) => `Sentence number ${i} is here.`).join(' ');
    const source = `${paragraph(14)}\n\n${paragraph(14)}`;
    expect(tokens(paragraph(14))).toBeGreaterThan(0.7 * 120);
    const [first] = chunk(oneSection(source), { chunkSize: 120, overlap: 0 });
    expect(first.text).toBe(paragraph(14));
  });

  it('breaks code at line ends', () => {
    const code = Array.from({ length: 200 }, (_, i) => `    result_${i} = compute(value_${i}, factor=${i})  # step ${i}`).join('\n');
    const codeDoc = oneSection(code);
    const chunks = chunk(codeDoc, { chunkSize: 80, overlap: 10 });
    expectValidChunks(codeDoc, chunks, 80);
    for (const c of chunks) expect(code[c.endOffset] === undefined || code[c.endOffset] === '\n').toBe(true);
  });

  it('carries page and heading path, and never spans two sections', async () => {
    const source = `# Guide\n\n${prose(3000, 2)}\n\n## Install\n\n${prose(3000, 3)}\n\n## Use\n\nShort.`;
    const markdown = await parse({ bytes: Buffer.from(source), name: 'guide.md', kind: 'markdown' });
    const chunks = chunk(markdown, { chunkSize: 200, overlap: 30 });
    expectValidChunks(markdown, chunks, 200);
    expect(new Set(chunks.map((c) => c.headingPath?.join(' > ')))).toEqual(new Set(['Guide', 'Guide > Install', 'Guide > Use']));
    for (const c of chunks) {
      const section = markdown.sections.find((s) => s.headingPath?.join() === c.headingPath?.join())!;
      expect(c.startOffset).toBeGreaterThanOrEqual(section.startOffset);
      expect(c.endOffset).toBeLessThanOrEqual(section.startOffset + section.text.length);
    }
    expect(chunks.at(-1)).toMatchObject({ text: '## Use\n\nShort.', headingPath: ['Guide', 'Use'] });

    const pages: ParsedDocument = { text: 'Page one text.\n\nPage two text.', sections: [] };
    pages.sections = [
      { text: 'Page one text.', startOffset: 0, page: 1 },
      { text: 'Page two text.', startOffset: 16, page: 2 },
    ];
    expect(chunk(pages).map((c) => [c.text, c.page])).toEqual([
      ['Page one text.', 1],
      ['Page two text.', 2],
    ]);
  });

  it('returns no chunks for an empty document or whitespace-only sections', () => {
    expect(chunk({ text: '', sections: [] })).toEqual([]);
    expect(chunk({ text: '  \n\t\n ', sections: [{ text: '  \n\t\n ', startOffset: 0 }] })).toEqual([]);
  });

  it('splits a word longer than the budget hard, without losing a character', () => {
    const long = 'Supercalifragilisticexpialidocious'.repeat(60);
    const url = `https://example.com/${Array.from({ length: 80 }, (_, i) => `segment${i}`).join('/')}`;
    for (const source of [`Before. ${long} after.`, `See ${url} now.`]) {
      const wordDoc = oneSection(source);
      const chunks = chunk(wordDoc, { chunkSize: 50, overlap: 10 });
      expectValidChunks(wordDoc, chunks, 50);
      expect(chunks.map((c) => c.text).join('')).toContain(source.includes(long) ? long : url);
    }
  });

  it('cuts unpunctuated runs and CJK text within budget, and CJK at its punctuation', () => {
    const cjk = '東京は日本の首都です。人口はとても多いです。電車で移動するのが便利です。'.repeat(30);
    const cjkDoc = oneSection(cjk);
    const chunks = chunk(cjkDoc, { chunkSize: 60, overlap: 10 });
    expectValidChunks(cjkDoc, chunks, 60);
    for (const c of chunks) expect(c.text.endsWith('。')).toBe(true);

    const run = oneSection(`${'='.repeat(1500)} ${'ab'.repeat(900)}`);
    expectValidChunks(run, chunk(run, { chunkSize: 300, overlap: 50 }), 300);
  });

  it('treats special-token text as ordinary text', () => {
    const special = oneSection('The marker <|endoftext|> appears in this document. '.repeat(40));
    expectValidChunks(special, chunk(special, { chunkSize: 30, overlap: 5 }), 30);
  });

  it('validates its options with a clear error', () => {
    const bad: [object, RegExp][] = [
      [{ chunkSize: 0 }, /chunkSize must be a whole number of tokens from 1 to 8192, got 0/],
      [{ chunkSize: MAX_CHUNK_SIZE + 1 }, /chunkSize .* got 8193/],
      [{ chunkSize: 10.5 }, /chunkSize .* got 10.5/],
      [{ chunkSize: 100, overlap: 100 }, /overlap must be a whole number of tokens from 0 to chunkSize - 1 \(99\), got 100/],
      [{ overlap: -1 }, /overlap .* got -1/],
    ];
    for (const [options, message] of bad) {
      let error: unknown;
      try {
        chunk(doc, options);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).code).toBe('BAD_USER_INPUT');
      expect((error as AppError).message).toMatch(message);
    }
  });

  it('counts tokens like the tokenizer does', () => {
    for (const sample of [prose(5000, 9), 'naïve café 東京 🎉 <|endoftext|>\n\n\tcode()', '']) {
      expect(countTokens(sample)).toBe(tokens(sample));
    }
  });

  it('chunks plain English fast (throughput printed, not asserted)', () => {
    const big = prose(4_000_000, 7);
    const bigDoc = oneSection(big);
    chunk(oneSection(prose(100_000, 8))); // warm-up
    const started = performance.now();
    const chunks = chunk(bigDoc);
    const seconds = (performance.now() - started) / 1000;
    const megabytes = Buffer.byteLength(big) / 1e6;
    console.log(
      `chunker throughput: ${(megabytes / seconds).toFixed(1)} MB/s (${megabytes.toFixed(1)} MB, ${chunks.length} chunks, ${(seconds * 1000).toFixed(0)} ms)`,
    );
    expect(chunks.length).toBeGreaterThan(1000);
  });
});
