/**
 * Bytes to text: byte-order mark first, then UTF-16 without a BOM (zero bytes in every other position), then strict
 * UTF-8, and only then a statistical guess (chardet) decoded with iconv-lite. ISO-8859-1 is read as Windows-1252, as
 * browsers do: the two agree on every printable character, and 0x80–0x9F are curly quotes, dashes and € in real files.
 */
import { isUtf8 } from 'node:buffer';
import chardet from 'chardet';
import iconv from 'iconv-lite';

export interface DecodedText {
  text: string;
  /** The encoding the bytes were read as (iconv-lite name). */
  encoding: string;
  /** True when the encoding was guessed from statistics rather than known from a BOM or valid UTF-8. */
  guessed: boolean;
}

/** How much of a file the UTF-16 and chardet heuristics look at: enough to be sure, bounded for big files. */
const SAMPLE_BYTES = 64 * 1024;

/** The encoding a byte-order mark announces, if any. */
export function bomEncoding(bytes: Uint8Array): 'utf-8' | 'utf-16le' | 'utf-16be' | null {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return 'utf-8';
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return 'utf-16le';
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return 'utf-16be';
  return null;
}

/**
 * UTF-16 text without a BOM: mostly-Latin text has a zero in every other byte, and almost none in the other half.
 * Binary formats have zeros too, but not in that strict alternation.
 */
export function sniffUtf16(bytes: Uint8Array): 'utf-16le' | 'utf-16be' | null {
  const n = Math.min(bytes.length, SAMPLE_BYTES) & ~1;
  if (n < 4) return null;
  let evenZeros = 0;
  let oddZeros = 0;
  for (let i = 0; i < n; i += 2) {
    if (bytes[i] === 0) evenZeros++;
    if (bytes[i + 1] === 0) oddZeros++;
  }
  const pairs = n / 2;
  if (oddZeros > pairs * 0.4 && evenZeros < pairs * 0.05) return 'utf-16le';
  if (evenZeros > pairs * 0.4 && oddZeros < pairs * 0.05) return 'utf-16be';
  return null;
}

const UTF8_NAMES = new Set(['UTF-8', 'ASCII']);

export function guessEncoding(bytes: Uint8Array): string {
  // The bytes are known not to be UTF-8, so take chardet's best other candidate.
  const match = chardet.analyse(bytes.subarray(0, SAMPLE_BYTES)).find((m) => !UTF8_NAMES.has(m.name));
  const name = match?.name === 'ISO-8859-1' || !match ? 'windows-1252' : match.name;
  return iconv.encodingExists(name) ? name : 'windows-1252';
}

/**
 * Normalises text for storage and chunking: CRLF and CR become LF, and NUL characters are dropped (PostgreSQL text
 * cannot hold them).
 */
export function cleanText(text: string): string {
  return text.replace(/\r\n?/g, '\n').replace(/\0/g, '');
}

export function decodeText(bytes: Buffer): DecodedText {
  const bom = bomEncoding(bytes);
  const known = bom ?? sniffUtf16(bytes) ?? (isUtf8(bytes) ? 'utf-8' : null);
  const encoding = known ?? guessEncoding(bytes);
  // iconv-lite strips the BOM of the encoding it decodes.
  return { text: cleanText(iconv.decode(bytes, encoding)), encoding, guessed: known === null };
}

/** The note a parser attaches when it had to guess the encoding, so a garbled result can be explained. */
export function encodingNote(decoded: DecodedText): string | undefined {
  return decoded.guessed ? `text encoding guessed as ${decoded.encoding}` : undefined;
}

/**
 * Whether bytes given a piece at a time are valid UTF-8 (node's isUtf8, with a character cut between two pieces
 * carried over): the upload checks its bytes as they stream to disk, so processing need not read a file twice.
 */
export class Utf8Check {
  private carry: Buffer = Buffer.alloc(0);
  private valid = true;

  push(chunk: Buffer): void {
    if (!this.valid) return;
    const bytes = this.carry.length ? Buffer.concat([this.carry, chunk]) : chunk;
    const cut = completeLength(bytes);
    this.valid = isUtf8(bytes.subarray(0, cut));
    this.carry = Buffer.from(bytes.subarray(cut));
  }

  /** The verdict once every piece is in: a character left incomplete at the end is invalid. */
  end(): boolean {
    return this.valid && this.carry.length === 0;
  }
}

/** The length of `bytes` without a multi-byte character its end cuts short. */
function completeLength(bytes: Uint8Array): number {
  for (let i = bytes.length - 1; i >= Math.max(0, bytes.length - 4); i--) {
    const b = bytes[i];
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: look for its lead
    const needed = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return bytes.length - i < needed ? i : bytes.length;
  }
  return bytes.length;
}
