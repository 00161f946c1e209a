import type { Embedder } from './types.js';

/**
 * The local embedder: a hashed bag of words, lexical and not semantic. Texts that share words (and word pairs)
 * score high under cosine; synonyms and paraphrases with other words do not. It needs no network and gives the
 * same vector for the same text on every machine, which makes it the embedded default and a stable test fixture.
 *
 * Features: lowercased word unigrams and bigrams (a word is a run of letters, marks and digits, after NFKC so
 * composed and decomposed accents agree), English stop words left out as full-text search leaves them out (a
 * bigram joins the words on either side of one), each hashed (FNV-1a, then murmur3's finaliser for well-mixed bits)
 * to a bucket and a sign. Signed hashing makes collisions cancel out on average instead of piling up.
 * Weights are sublinear in term frequency (1 + ln tf) so a repeated word does not drown the rest; the vector
 * is L2-normalised so a dot product is the cosine.
 */
export class LexicalEmbedder implements Embedder {
  readonly model: string;

  constructor(readonly dim = 384) {
    if (!Number.isInteger(dim) || dim < 1) throw new RangeError(`dim must be a positive integer, got ${dim}`);
    this.model = lexicalModel(dim);
  }

  async embed(texts: string[], signal?: AbortSignal): Promise<number[][]> {
    const vectors: number[][] = [];
    for (let i = 0; i < texts.length; i++) {
      // Embedding is synchronous CPU work; yield now and then so one large file does not stall the server.
      if (i > 0 && i % YIELD_EVERY === 0) await new Promise(setImmediate);
      signal?.throwIfAborted();
      vectors.push(this.vector(texts[i]));
    }
    return vectors;
  }

  /** The vector of one text; all zeros when it has no words. */
  vector(text: string): number[] {
    const normal = text.normalize('NFKC').toLowerCase();
    const words: string[] = [];
    // exec on the shared global regex, not matchAll: markedly faster, and safe as nothing re-enters.
    WORD.lastIndex = 0;
    for (let match = WORD.exec(normal); match !== null; match = WORD.exec(normal)) words.push(match[0]);
    const content = words.filter((word) => !STOP_WORDS.has(word));
    // A text of stop words only ("to be or not to be") keeps them: better a vector of them than none.
    const features = content.length > 0 ? content : words;
    const unigrams = new Map<number, number>();
    const bigrams = new Map<number, number>();
    let previous: number | null = null;
    for (const word of features) {
      const state = fnv1a(word, FNV_OFFSET);
      count(unigrams, mix(state));
      // The pair hashes as "previous\0word", continuing from the previous word's state; no word contains \0.
      if (previous !== null) count(bigrams, mix(fnv1a(word, fnv1a('\0', previous))));
      previous = state;
    }
    const sums = new Float64Array(this.dim);
    this.add(sums, unigrams, 1);
    this.add(sums, bigrams, BIGRAM_WEIGHT);
    let norm = 0;
    for (const v of sums) norm += v * v;
    norm = Math.sqrt(norm);
    // No words (or every feature cancelled out): a zero vector, never 0/0 = NaN.
    return Array.from(sums, (v) => (norm === 0 ? 0 : v / norm));
  }

  private add(sums: Float64Array, features: Map<number, number>, weight: number) {
    for (const [hash, tf] of features) {
      const w = weight * (1 + Math.log(tf));
      sums[(hash >>> 1) % this.dim] += hash & 1 ? w : -w;
    }
  }
}

/** The local provider's model name for a dimension: `lexical-384` is the catalog's. */
export const lexicalModel = (dim: number) => `lexical-${dim}`;

const WORD = /[\p{L}\p{M}\p{N}]+/gu;
/**
 * PostgreSQL's English stop words (tsearch_data/english.stop, Snowball's list). They are about half of English
 * text and shared by every passage, so they add weight without telling passages apart. Leaving them out raised
 * HNSW recall@10 against exact search from 0.57 to 0.62 on 30,000 passages (bench/search-passages.ts) and
 * text ingestion by about a tenth (bench/ingest.ts: fewer features to hash, and vectors that index faster).
 */
const STOP_WORDS = new Set(
  ('i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her hers herself it its itself they them their theirs themselves what which who whom this that these those am is are was were be been being have has had having do does did doing a an the and but if or because as until while of at by for with about against between into through during before after above below to from up down in out on off over under again further then once here there when where why how all any both each few more most other some such no nor not only own same so than too very s t can will just don should now').split(' '),
);
/** Word order refines the match without outweighing the shared vocabulary. */
const BIGRAM_WEIGHT = 0.5;
const YIELD_EVERY = 256;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a over UTF-16 code units, from a given state: plain integer arithmetic, identical on every platform. */
function fnv1a(text: string, state: number): number {
  let h = state;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), FNV_PRIME);
  return h;
}

/**
 * murmur3's 32-bit finaliser: every input bit flips about half the output bits, low bits included. Left signed:
 * a 32-bit integer stays unboxed as a Map key, an unsigned one above 2^31 would not.
 */
function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

function count(features: Map<number, number>, hash: number) {
  features.set(hash, (features.get(hash) ?? 0) + 1);
}
