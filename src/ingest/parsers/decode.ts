/**
 * Bytes to text: byte-order mark first, then UTF-16 without a BOM (zero bytes in every other position), then strict
 * UTF-8, and only then a statistical guess (chardet) decoded with iconv-lite. ISO-8859-1 is read as Windows-1252, as
 * browsers do: the two agree on every printable character, and 0x80–0x9F are curly quotes, dashes and € in real files.
 */
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

function isUtf8(bytes: Uint8Array): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
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
