/**
 * The generated corpus of bench/search-passages.ts (the "lexical" corpus, embedded by the product's LexicalEmbedder):
 * text generated from an English vocabulary (cl100k_base's whole-word tokens, roughly in frequency order) under a
 * Zipf–Mandelbrot word-frequency law, mixed with per-source topics and per-file recurring words so that passages
 * cluster the way documents do.
 */
import { decode } from 'gpt-tokenizer/encoding/cl100k_base';

const SEED = 20261125;
/** Relative share of the passages per source; the last is the 1% source. */
export const SOURCE_SHARES = [0.3, 0.2, 0.14, 0.1, 0.08, 0.06, 0.05, 0.035, 0.025, 0.01];

// ───────────────────────────── deterministic randomness ─────────────────────────────

/** mulberry32: small, fast, good enough for text generation; seeded so every run builds the same corpus. */
export function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** One independent stream per (source, file, kind): a file's text does not depend on how many files came before. */
export function streamSeed(...parts: number[]): number {
  let h = SEED | 0;
  for (const p of parts) h = Math.imul(h ^ (p + 0x9e3779b9), 0x85ebca6b) ^ (h >>> 13);
  return h;
}

export type Random = () => number;

/** Cumulative distribution of a Zipf–Mandelbrot law p(r) ∝ 1 / (r + q)^s over ranks 0..n-1. */
function zipf(n: number, s: number, q: number): Float64Array {
  const cdf = new Float64Array(n);
  let total = 0;
  for (let r = 0; r < n; r++) cdf[r] = total += 1 / Math.pow(r + 1 + q, s);
  for (let r = 0; r < n; r++) cdf[r] /= total;
  return cdf;
}

function draw(cdf: Float64Array, random: Random): number {
  const u = random();
  let lo = 0;
  let hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cdf[mid] < u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function normal(random: Random): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

// ───────────────────────────── the corpus model ─────────────────────────────

/**
 * English words, most frequent first: the commonest function words (their order from standard frequency lists),
 * then cl100k_base's lowercase whole-word tokens of 3+ letters in merge order, which follows frequency in web text.
 * A few are word fragments ("con", "pro"); they behave like words for both embedders and full-text search.
 */
function vocabulary(): string[] {
  const head = (
    'the of and to a in is that for it as was with be by on not he i this are or his from at which but have an ' +
    'had they you were their one all we can her has there been if more when will would who so no'
  ).split(' ');
  const seen = new Set(head);
  const words = [...head];
  for (let token = 0; token < 100_256; token++) {
    const text = decode([token]);
    if (!/^ [a-z]{3,}$/.test(text)) continue;
    const word = text.slice(1);
    if (!seen.has(word)) {
      seen.add(word);
      words.push(word);
    }
  }
  return words;
}

const TOPICS = 400;
const WORDS_PER_TOPIC = 150;
const TOPICS_PER_SOURCE = 40;
/** Share of a file's words drawn from its topics, and from its own recurring words (names, terms). */
const TOPIC_SHARE = 0.3;
const FILE_WORD_SHARE = 0.05;
const FILE_WORDS = 8;
/** Median chunks per file; file lengths are log-normal around it. */
const MEDIAN_FILE_CHUNKS = 12;

export interface Model {
  words: string[];
  background: Float64Array;
  topics: { words: number[]; cdf: Float64Array }[];
  sourceTopics: number[][];
}

export function buildModel(): Model {
  const words = vocabulary();
  const random = rng(streamSeed(0, 0, 0));
  // Mandelbrot's q ≈ 2.7 and s = 1 fit English word frequencies: the top 100 words make about half the text.
  const background = zipf(words.length, 1, 2.7);
  const topics = Array.from({ length: TOPICS }, () => {
    // Content words: past the function words, anywhere in the long tail.
    const topicWords = Array.from({ length: WORDS_PER_TOPIC }, () => 100 + Math.floor(random() * (words.length - 100)));
    return { words: topicWords, cdf: zipf(WORDS_PER_TOPIC, 1.1, 1) };
  });
  const sourceTopics = SOURCE_SHARES.map(() => Array.from({ length: TOPICS_PER_SOURCE }, () => Math.floor(random() * TOPICS)));
  return { words, background, topics, sourceTopics };
}

/** One file's text: paragraphs of sentences whose words come from the background law, the file's topics and its own words. */
export function fileText(model: Model, source: number, seed: number): string {
  const random = rng(seed);
  const topicCount = 1 + Math.floor(random() * 3);
  const topics = Array.from({ length: topicCount }, () => model.topics[model.sourceTopics[source][Math.floor(random() * TOPICS_PER_SOURCE)]]);
  const ownWords = Array.from({ length: FILE_WORDS }, () => 1000 + Math.floor(random() * (model.words.length - 1000)));
  const chunks = Math.min(150, Math.max(1, Math.round(MEDIAN_FILE_CHUNKS * Math.exp(0.9 * normal(random)))));
  // About 250 new tokens per 300-token chunk after the overlap, and about one token per word here.
  const targetWords = chunks * 250;
  const word = () => {
    const u = random();
    if (u < FILE_WORD_SHARE) return model.words[ownWords[Math.floor(random() * FILE_WORDS)]];
    if (u < FILE_WORD_SHARE + TOPIC_SHARE) {
      const topic = topics[Math.floor(random() * topicCount)];
      return model.words[topic.words[draw(topic.cdf, random)]];
    }
    return model.words[draw(model.background, random)];
  };
  const paragraphs: string[] = [];
  let total = 0;
  while (total < targetWords) {
    const sentences: string[] = [];
    for (let s = 2 + Math.floor(random() * 6); s > 0; s--) {
      const length = 5 + Math.floor(random() * 20);
      const parts: string[] = [];
      for (let w = 0; w < length; w++) parts.push(w < length - 1 && random() < 0.07 ? `${word()},` : word());
      parts[0] = parts[0][0].toUpperCase() + parts[0].slice(1);
      sentences.push(`${parts.join(' ')}.`);
      total += length;
    }
    paragraphs.push(sentences.join(' '));
  }
  return paragraphs.join('\n\n');
}

