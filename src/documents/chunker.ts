/**
 * Token-aware chunking (cl100k_base, the tokenizer of OpenAI's embedding models; Letta: 300 tokens, overlap 50).
 *
 * Each section is chunked on its own, so a chunk never spans two pages or two headings and carries its section's
 * page and heading path. A section is tokenized once: the tokenizer's pre-tokenizer splits text into pieces that
 * BPE never merges across, so the pieces' token counts, prefix-summed, give the size of any span between piece
 * boundaries without re-tokenizing. A chunk ends at the best break within its budget, in this order of preference:
 * paragraph (blank line), sentence end, line break, other whitespace, chosen among the breaks that fill at least
 * 70% of the budget (a later one wins among equals; an earlier break is taken only when there is none in that
 * window). CJK text, which has no spaces, also breaks after its punctuation (。、…). The next chunk starts up to
 * `overlap` tokens earlier, at a sentence start when one gives at least half the overlap, else at the earliest word
 * that fits. Every chunk is trimmed of surrounding whitespace, measured exactly (and shortened if trimming changed
 * the tokenization enough to overflow), and whitespace-only chunks are dropped.
 *
 * A "word" (a run with no break in it) longer than the whole budget is cut hard: between the tokenizer's pieces
 * (e.g. at the slashes of a long URL), or for a single piece longer than the budget, at the longest prefix that
 * fits; and a run of more than MAX_PIECE_LENGTH characters without a break (a long rule of "=====", a blob of
 * letters) is cut every MAX_PIECE_LENGTH characters, one slice per chunk at most. Those cuts carry no overlap. The
 * budget can be exceeded only when chunkSize is smaller than the token count of one character (a few tokens for
 * some emoji and rare CJK characters).
 */
import { countTokens as countCl100k } from 'gpt-tokenizer/encoding/cl100k_base';
import { badInput } from '../core/errors.js';
import type { ParsedDocument, Section } from './parsers/types.js';

export interface Chunk {
  text: string;
  /** Position of the chunk in the document, from 0. */
  index: number;
  tokenCount: number;
  /** `doc.text.slice(startOffset, endOffset) === text`. */
  startOffset: number;
  endOffset: number;
  page?: number;
  headingPath?: string[];
}

export interface ChunkOptions {
  /** Most tokens in a chunk, 1 to MAX_CHUNK_SIZE. */
  chunkSize?: number;
  /** Tokens repeated from the end of a chunk at the start of the next one in the same section, below chunkSize. */
  overlap?: number;
}

export const DEFAULT_CHUNK_SIZE = 300;
export const DEFAULT_OVERLAP = 50;
/** OpenAI's embedding models take at most 8,192 tokens per input. */
export const MAX_CHUNK_SIZE = 8192;

/** cl100k_base's pre-tokenizer pattern (tiktoken's), with the case-insensitive contractions spelled out. */
const PIECE =
  /'(?:[sS]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+/gu;
/**
 * Pieces longer than this are cut into slices of this length. BPE time grows with the square of a piece's length,
 * and only odd text (hundreds of letters or symbols with no space, digit or break) has such pieces; natural words,
 * even unpunctuated CJK runs, stay below. countTokens() counts such a run slice by slice, which is close to but not
 * exactly what BPE on the whole run gives, so the chunker never puts two slices of one run in the same chunk.
 */
const MAX_PIECE_LENGTH = 256;
const NO_SPECIAL_TOKENS = { disallowedSpecial: new Set<string>() };

/** Token counts of pieces seen before: natural text repeats its words, so almost every lookup hits. */
const pieceCounts = new Map<string, number>();
const PIECE_CACHE_LIMIT = 200_000;

function pieceTokens(piece: string): number {
  let count = pieceCounts.get(piece);
  if (count === undefined) {
    // "<|endoftext|>" and the like in a document are text, not control tokens.
    count = countCl100k(piece, NO_SPECIAL_TOKENS);
    if (pieceCounts.size >= PIECE_CACHE_LIMIT) pieceCounts.clear();
    pieceCounts.set(piece, count);
  }
  return count;
}

/**
 * Calls `visit` with each piece of `text` and its offset, long pieces cut into slices; `sliced` is true for a slice
 * that the next one continues.
 */
function forEachPiece(text: string, visit: (piece: string, offset: number, sliced: boolean) => void): void {
  for (const match of text.matchAll(PIECE)) {
    const piece = match[0];
    if (piece.length <= MAX_PIECE_LENGTH) {
      visit(piece, match.index, false);
      continue;
    }
    for (let from = 0; from < piece.length; ) {
      let to = Math.min(from + MAX_PIECE_LENGTH, piece.length);
      if (to < piece.length && isHighSurrogate(piece.charCodeAt(to - 1))) to--;
      visit(piece.slice(from, to), match.index + from, to < piece.length);
      from = to;
    }
  }
}

/** The number of cl100k_base tokens in `text`; exact unless it has runs longer than MAX_PIECE_LENGTH. */
export function countTokens(text: string): number {
  let total = 0;
  forEachPiece(text, (piece) => {
    total += pieceTokens(piece);
  });
  return total;
}

export function chunk(doc: ParsedDocument, options: ChunkOptions = {}): Chunk[] {
  const { chunkSize, overlap } = checkChunkOptions(options);
  const chunks: Chunk[] = [];
  for (const section of doc.sections) new SectionChunker(section, chunkSize, overlap, chunks, 0).run();
  return chunks;
}

/**
 * The chunks of one section, numbered from `firstIndex`: what the streaming pipeline calls for each window of a
 * document (a section, or a slice of a long one cut at a paragraph break), so it never holds a whole file's chunks.
 */
export function chunkSection(section: Section, options: ChunkOptions, firstIndex: number): Chunk[] {
  const { chunkSize, overlap } = checkChunkOptions(options);
  const chunks: Chunk[] = [];
  new SectionChunker(section, chunkSize, overlap, chunks, firstIndex).run();
  return chunks;
}

function checkChunkOptions(options: ChunkOptions): { chunkSize: number; overlap: number } {
  const { chunkSize = DEFAULT_CHUNK_SIZE, overlap = DEFAULT_OVERLAP } = options;
  if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > MAX_CHUNK_SIZE) {
    throw badInput(`chunkSize must be a whole number of tokens from 1 to ${MAX_CHUNK_SIZE}, got ${chunkSize}`, 'chunkSize');
  }
  if (!Number.isInteger(overlap) || overlap < 0 || overlap >= chunkSize) {
    throw badInput(
      `overlap must be a whole number of tokens from 0 to chunkSize - 1 (${chunkSize - 1}), got ${overlap}`,
      'overlap',
    );
  }
  return { chunkSize, overlap };
}

/** Letters only: what is left of a piece like " word" once its leading whitespace is trimmed. */
const LETTERS = /^\p{L}+$/u;
/** Punctuation (after an optional space): what is left of a piece like ".\n\n" once its line ends are trimmed. */
const PUNCTUATION = /^ ?[^\s\p{L}\p{N}]+$/u;

/** A chunk ends at the best break among those that fill at least this share of the budget. */
const FULL_ENOUGH = 0.7;

/** Break strengths; 0 means the position is inside a word. */
const NONE = 0;
const SPACE = 1;
const LINE = 2;
const SENTENCE = 3;
const PARAGRAPH = 4;

const SENTENCE_ENDS = new Set(['.', '!', '?', '…', '。', '！', '？']);
/** Closing quotes and brackets that may follow a sentence's final punctuation. */
const CLOSERS = new Set(['"', "'", ')', ']', '}', '’', '”', '»', '」', '』', '）']);
/** CJK punctuation a line may break after even with no space (CJK text has none). */
const CJK_SENTENCE_ENDS = new Set(['。', '！', '？']);
const CJK_PAUSES = new Set(['、', '，', '；', '：']);

/** A candidate chunk: the trimmed text between two boundaries, with offsets in the section and its exact size. */
interface Span {
  text: string;
  from: number;
  to: number;
  tokenCount: number;
}

class SectionChunker {
  private readonly text: string;
  /** starts[i]: offset of piece i; starts[P] = text length. Boundary i is the position starts[i]. */
  private readonly starts: number[] = [];
  /** cum[i]: tokens in pieces 0..i-1. */
  private readonly cum: number[] = [0];
  /** Boundaries between slices of an over-long piece, ascending: a chunk must end there (see MAX_PIECE_LENGTH). */
  private readonly forced: number[] = [];
  /**
   * irregular[i] is 1 when boundary i is inside one of the pre-tokenizer's pieces (a slice of a long run, a CJK split,
   * an over-budget split): there, the counts in `cum` are not what tokenizing the text from that boundary gives.
   */
  private readonly irregular: number[] = [0];
  /** Irregular boundaries among 0..i-1, filled once every piece is recorded. */
  private irregularBefore: Int32Array = new Int32Array(0);
  /** Break strength of each boundary, worked out when first needed (-1 until then). */
  private readonly scores: Int8Array;
  /** End offset of the last chunk emitted, to drop a chunk that would add nothing but whitespace to it. */
  private lastEnd = -1;

  constructor(
    private readonly section: Section,
    private readonly budget: number,
    private readonly overlap: number,
    private readonly out: Chunk[],
    private readonly indexBase: number,
  ) {
    this.text = section.text;
    let continued = false;
    forEachPiece(this.text, (piece, offset, sliced) => {
      this.addPiece(piece, offset, continued);
      if (sliced) this.forced.push(this.starts.length);
      continued = sliced;
    });
    this.starts.push(this.text.length);
    this.irregular.length = this.starts.length + 1;
    this.irregularBefore = new Int32Array(this.starts.length + 1);
    for (let i = 0; i < this.starts.length; i++) this.irregularBefore[i + 1] = this.irregularBefore[i] + (this.irregular[i] ?? 0);
    this.scores = new Int8Array(this.starts.length).fill(-1);
    for (const i of this.forced) this.scores[i] = SPACE;
  }

  run(): void {
    const last = this.starts.length - 1;
    let start = 0;
    let done = 0;
    while (done < last) {
      let end = this.chooseEnd(start, done);
      let measured = this.measure(start, end);
      // Trimming can change the tokenization at the edges, so the estimate may be a little short: end earlier.
      while (measured.tokenCount > this.budget) {
        let shorter = this.previousBreak(Math.max(start, done), end);
        if (shorter < 0 && start < done) {
          // No break between the text already emitted and this end: give up the overlap rather than cut a word.
          start = done;
          end = this.chooseEnd(start, done);
        } else {
          // A word about as long as the whole budget: cut it hard.
          if (shorter < 0) shorter = end - 1;
          // A single piece over budget is a lone character with more tokens than chunkSize (see addPiece).
          if (shorter <= done) break;
          end = shorter;
        }
        measured = this.measure(start, end);
      }
      if (measured.text && measured.to > this.lastEnd) this.emit(measured);
      done = end;
      if (done < last) start = this.nextStart(start, end);
    }
  }

  /**
   * Records a piece, split into the longest prefixes that fit when its tokens exceed the budget (on its own, or once
   * stripped of surrounding whitespace, as a chunk made of it alone would be).
   */
  private addPiece(piece: string, offset: number, inside: boolean): void {
    // The pre-tokenizer glues punctuation to the word after it ("。電車"); CJK text breaks after that punctuation.
    if (piece.length > 1 && (CJK_SENTENCE_ENDS.has(piece[0]) || CJK_PAUSES.has(piece[0]))) {
      this.push(offset, pieceTokens(piece[0]), inside);
      return this.addPiece(piece.slice(1), offset + 1, true);
    }
    const tokens = pieceTokens(piece);
    // Trimming changes a count only slightly, so only a piece that uses much of the budget needs the exact check.
    if (tokens * 2 < this.budget || this.fits(piece)) return this.push(offset, tokens, inside);
    for (let from = 0; from < piece.length; ) {
      const length = this.longestFittingPrefix(piece.slice(from));
      this.push(offset + from, pieceTokens(piece.slice(from, from + length)), inside || from > 0);
      from += length;
    }
  }

  private push(offset: number, tokens: number, inside: boolean): void {
    if (inside) this.irregular[this.starts.length] = 1;
    this.starts.push(offset);
    this.cum.push(this.cum[this.cum.length - 1] + tokens);
  }

  private fits(text: string): boolean {
    const trimmed = text.trim();
    return pieceTokens(text) <= this.budget && (!trimmed || countTokens(trimmed) <= this.budget);
  }

  /** Binary search over code-point boundaries; at least one code point, even if it alone is over budget. */
  private longestFittingPrefix(text: string): number {
    let low = codePointLength(text, 0);
    let high = text.length;
    while (low < high) {
      let mid = Math.ceil((low + high) / 2);
      if (isLowSurrogate(text.charCodeAt(mid))) mid--;
      if (mid <= low) break;
      if (this.fits(text.slice(0, mid))) low = mid;
      else high = mid - 1;
    }
    return low;
  }

  /** The best break in (done, farthest boundary within budget of start]; a hard cut when there is none. */
  private chooseEnd(start: number, done: number): number {
    const { cum } = this;
    const last = cum.length - 1;
    const limit = cum[start] + this.budget;
    const farthest = cum[last] <= limit ? last : lastAtMost(cum, limit);
    const forced = this.forced[firstAbove(this.forced, start)] ?? last + 1;
    if (forced <= farthest) return forced;
    if (farthest === last) return last;
    const windowStart = cum[start] + this.budget * FULL_ENOUGH;
    let best = -1;
    let bestScore = NONE;
    for (let i = farthest; i > Math.max(start, done); i--) {
      const score = this.score(i);
      if (score === NONE) continue;
      if (cum[i] < windowStart) return best > 0 ? best : i;
      if (score > bestScore) [best, bestScore] = [i, score];
      if (score === PARAGRAPH) break;
    }
    return best > 0 ? best : Math.max(farthest, done + 1);
  }

  /** The latest break before `end` and after `after`; -1 if there is none. */
  private previousBreak(after: number, end: number): number {
    for (let i = end - 1; i > after; i--) if (this.score(i) > NONE) return i;
    return -1;
  }

  /** Where the chunk after [start, end) begins: `end` itself, or up to `overlap` tokens before it. */
  private nextStart(start: number, end: number): number {
    if (this.overlap === 0 || this.forced[firstAbove(this.forced, end - 1)] === end) return end;
    const { cum } = this;
    const floor = cum[end] - this.overlap;
    let earliest = end;
    let sentence = -1;
    for (let i = end - 1; i > start && cum[i] >= floor; i--) {
      const score = this.score(i);
      if (score === NONE) continue;
      earliest = i;
      if (score >= SENTENCE && cum[end] - cum[i] >= this.overlap / 2) sentence = i;
    }
    const candidate = sentence > 0 ? sentence : earliest;
    return candidate < end && this.canPassEnd(candidate, end) ? candidate : end;
  }

  /** Whether a chunk starting at `start` can reach a break beyond `end`: if not, overlapping would force a hard cut. */
  private canPassEnd(start: number, end: number): boolean {
    const { cum } = this;
    const limit = cum[start] + this.budget;
    if (cum[cum.length - 1] <= limit) return true;
    for (let i = lastAtMost(cum, limit); i > end; i--) if (this.score(i) > NONE) return true;
    return false;
  }

  private score(i: number): number {
    if (this.scores[i] < 0) this.scores[i] = breakStrength(this.text, this.starts[i]);
    return this.scores[i];
  }

  private measure(start: number, end: number): Span {
    let from = this.starts[start];
    let to = this.starts[end];
    while (from < to && isSpace(this.text.charCodeAt(from))) from++;
    while (to > from && isSpace(this.text.charCodeAt(to - 1))) to--;
    const text = this.text.slice(from, to);
    return { text, from, to, tokenCount: text ? this.tokensOf(from, to, text) : 0 };
  }

  /**
   * The tokens of the trimmed span [from, to) (`text`), from the pieces' counts when tokenizing it alone gives the
   * same pieces, but for its edges: the first piece may have lost its leading whitespace (" word" → "word", one
   * piece still, if letters), the last its trailing line ends (".\n\n" → ".", if punctuation); no boundary in it is
   * inside a piece. Otherwise the span is tokenized afresh.
   */
  private tokensOf(from: number, to: number, text: string): number {
    const { starts, cum } = this;
    let first = lastAtMost(starts, from);
    const last = lastAtMost(starts, to);
    const tailCut = starts[last] !== to;
    if (first >= last || this.irregularBefore[tailCut ? last + 2 : last + 1] - this.irregularBefore[first] > 0) return countTokens(text);
    let tokens = 0;
    if (starts[first] !== from) {
      const head = this.text.slice(from, starts[first + 1]);
      if (head.length > MAX_PIECE_LENGTH || !LETTERS.test(head)) return countTokens(text);
      tokens += pieceTokens(head);
      first++;
    }
    if (tailCut) {
      const tail = this.text.slice(starts[last], to);
      if (tail.length > MAX_PIECE_LENGTH || !PUNCTUATION.test(tail)) return countTokens(text);
      tokens += pieceTokens(tail);
    }
    return tokens + cum[last] - cum[first];
  }

  private emit({ text, from, to, tokenCount }: Span): void {
    const base = this.section.startOffset;
    const chunk: Chunk = { text, index: this.indexBase + this.out.length, tokenCount, startOffset: base + from, endOffset: base + to };
    this.lastEnd = to;
    if (this.section.page !== undefined) chunk.page = this.section.page;
    if (this.section.headingPath) chunk.headingPath = [...this.section.headingPath];
    this.out.push(chunk);
  }
}

/** How good a place `pos` is to end one chunk and start the next. */
function breakStrength(text: string, pos: number): number {
  if (pos <= 0 || pos >= text.length) return PARAGRAPH;
  if (!isSpace(text.charCodeAt(pos - 1)) && !isSpace(text.charCodeAt(pos))) {
    const before = text[pos - 1];
    if (CJK_SENTENCE_ENDS.has(before)) return SENTENCE;
    return CJK_PAUSES.has(before) ? SPACE : NONE;
  }
  let from = pos;
  let to = pos;
  let newlines = 0;
  while (from > 0 && isSpace(text.charCodeAt(from - 1))) if (text[--from] === '\n') newlines++;
  while (to < text.length && isSpace(text.charCodeAt(to))) if (text[to++] === '\n') newlines++;
  if (newlines >= 2) return PARAGRAPH;
  let last = from - 1;
  while (last > 0 && CLOSERS.has(text[last])) last--;
  if (SENTENCE_ENDS.has(text[last])) return SENTENCE;
  return newlines === 1 ? LINE : SPACE;
}

function isSpace(code: number): boolean {
  if (code <= 0x20) return code === 0x20 || (code >= 0x09 && code <= 0x0d);
  return code >= 0x80 && /\s/.test(String.fromCharCode(code));
}

const isHighSurrogate = (code: number) => code >= 0xd800 && code <= 0xdbff;
const isLowSurrogate = (code: number) => code >= 0xdc00 && code <= 0xdfff;
const codePointLength = (text: string, at: number) => (isHighSurrogate(text.charCodeAt(at)) ? 2 : 1);

/** The index of the first element above `value` in an ascending array (its length if there is none). */
function firstAbove(sorted: number[], value: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (sorted[mid] <= value) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** The largest index i with sorted[i] <= value (sorted ascending, sorted[0] <= value). */
function lastAtMost(sorted: number[], value: number): number {
  let low = 0;
  let high = sorted.length - 1;
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    if (sorted[mid] <= value) low = mid;
    else high = mid - 1;
  }
  return low;
}
