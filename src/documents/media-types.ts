/**
 * What a file is, decided from its bytes and its name together; the type a client declared for the part is not
 * consulted (clients send application/octet-stream, or nothing, or guess from the name themselves).
 *
 * Content decides the format and the name only refines text:
 * 1. `%PDF-` at the start (or within the first KiB of a file named .pdf, as PDF readers allow) is a PDF, whatever
 *    the name, so a PDF saved as .txt is read as a PDF.
 * 2. A ZIP is a Word document when its entries include `word/…`; when the head shows no entry names past the
 *    package manifest, a .docx name settles it (and the DOCX parser reports a precise error if it is wrong). Any
 *    other ZIP (xlsx, pptx, epub, jar, archives) is unsupported.
 * 3. Images and other binary content (NUL bytes or many control characters, UTF-16 aside) are unsupported.
 * 4. Anything else is text, and the extension (or a well-known file name such as Dockerfile) says which kind. A
 *    file named .pdf or .docx whose bytes are readable text is plain text: its bytes are what gets parsed, and
 *    they are not a PDF. Text with an unknown extension is sniffed for a shebang, HTML or XML, else plain text.
 */
import { bomEncoding, sniffUtf16 } from './parsers/decode.js';
import type { DocumentKind } from './parsers/types.js';

export type { DocumentKind };

export interface MediaType {
  mediaType: string;
  kind: DocumentKind;
  /** Programming language of source code (kind `code`). */
  language?: string;
}

/** How many leading bytes detection looks at; pass at least this many (or the whole file if it is shorter). */
export const SNIFF_BYTES = 8192;

const PDF: MediaType = { mediaType: 'application/pdf', kind: 'pdf' };
const DOCX: MediaType = {
  mediaType: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  kind: 'docx',
};
const PLAIN: MediaType = { mediaType: 'text/plain', kind: 'text' };

/** Text formats with a parser of their own (or plain text), by extension. */
const DOCUMENTS: [MediaType, string[], label: string][] = [
  [PLAIN, ['txt', 'text', 'log'], 'plain text'],
  [{ mediaType: 'text/x-rst', kind: 'text' }, ['rst'], 'reStructuredText'],
  [{ mediaType: 'text/x-tex', kind: 'text' }, ['tex', 'latex'], 'LaTeX'],
  [{ mediaType: 'text/markdown', kind: 'markdown' }, ['md', 'markdown', 'mdx'], 'Markdown'],
  [{ mediaType: 'application/json', kind: 'json' }, ['json'], 'JSON'],
  [{ mediaType: 'application/jsonl', kind: 'jsonl' }, ['jsonl', 'ndjson'], 'JSON Lines'],
  [{ mediaType: 'text/csv', kind: 'csv' }, ['csv'], 'CSV'],
  [{ mediaType: 'text/tab-separated-values', kind: 'csv' }, ['tsv', 'tab'], 'TSV'],
  [{ mediaType: 'text/html', kind: 'html' }, ['html', 'htm'], 'HTML'],
  [{ mediaType: 'application/xml', kind: 'xml' }, ['xml'], 'XML'],
  [{ mediaType: 'application/yaml', kind: 'yaml' }, ['yaml', 'yml'], 'YAML'],
  [{ mediaType: 'application/toml', kind: 'toml' }, ['toml'], 'TOML'],
];

/** Source code: language label, media type (Letta's where it names one), extensions. */
const CODE: [language: string, mediaType: string, extensions: string[]][] = [
  ['python', 'text/x-python', ['py', 'pyi', 'pyw']],
  ['javascript', 'text/javascript', ['js', 'mjs', 'cjs']],
  ['jsx', 'text/x-jsx', ['jsx']],
  ['typescript', 'text/x-typescript', ['ts', 'mts', 'cts']],
  ['tsx', 'text/x-tsx', ['tsx']],
  ['java', 'text/x-java-source', ['java']],
  ['c', 'text/x-c', ['c', 'h']],
  ['cpp', 'text/x-c++', ['cpp', 'cc', 'cxx', 'c++', 'hpp', 'hh', 'hxx']],
  ['csharp', 'text/x-csharp', ['cs']],
  ['go', 'text/x-go', ['go']],
  ['rust', 'text/x-rust', ['rs']],
  ['ruby', 'text/x-ruby', ['rb', 'rake', 'gemspec']],
  ['php', 'text/x-php', ['php']],
  ['swift', 'text/x-swift', ['swift']],
  ['kotlin', 'text/x-kotlin', ['kt', 'kts']],
  ['scala', 'text/x-scala', ['scala', 'sc']],
  ['shell', 'text/x-shellscript', ['sh', 'bash', 'zsh', 'ksh', 'fish']],
  ['powershell', 'text/x-powershell', ['ps1', 'psm1']],
  ['batch', 'text/x-batch', ['bat', 'cmd']],
  ['sql', 'text/x-sql', ['sql']],
  ['r', 'text/x-r', ['r']],
  ['lua', 'text/x-lua', ['lua']],
  ['perl', 'text/x-perl', ['pl', 'pm']],
  ['objective-c', 'text/x-objective-c', ['m', 'mm']],
  ['dart', 'text/x-dart', ['dart']],
  ['haskell', 'text/x-haskell', ['hs']],
  ['elixir', 'text/x-elixir', ['ex', 'exs']],
  ['erlang', 'text/x-erlang', ['erl', 'hrl']],
  ['clojure', 'text/x-clojure', ['clj', 'cljs', 'cljc']],
  ['ocaml', 'text/x-ocaml', ['ml', 'mli']],
  ['fsharp', 'text/x-fsharp', ['fs', 'fsx']],
  ['julia', 'text/x-julia', ['jl']],
  ['groovy', 'text/x-groovy', ['groovy', 'gradle']],
  ['zig', 'text/x-zig', ['zig']],
  ['vue', 'text/x-vue', ['vue']],
  ['svelte', 'text/x-svelte', ['svelte']],
  ['css', 'text/css', ['css']],
  ['scss', 'text/x-scss', ['scss']],
  ['sass', 'text/x-sass', ['sass']],
  ['less', 'text/x-less', ['less']],
  ['graphql', 'text/x-graphql', ['graphql', 'gql']],
  ['protobuf', 'text/x-protobuf', ['proto']],
  ['hcl', 'text/x-hcl', ['tf', 'hcl']],
  ['ini', 'text/x-ini', ['ini']],
  ['conf', 'text/x-conf', ['cfg', 'conf', 'properties']],
  ['dockerfile', 'text/x-dockerfile', ['dockerfile']],
  ['makefile', 'text/x-makefile', ['mk', 'mak']],
  ['cmake', 'text/x-cmake', ['cmake']],
];

/** Files known by their whole (lower-cased) name rather than an extension. */
const CODE_FILE_NAMES: [string, language: string][] = [
  ['dockerfile', 'dockerfile'],
  ['containerfile', 'dockerfile'],
  ['makefile', 'makefile'],
  ['gnumakefile', 'makefile'],
  ['cmakelists.txt', 'cmake'],
  ['gemfile', 'ruby'],
  ['rakefile', 'ruby'],
  ['vagrantfile', 'ruby'],
  ['jenkinsfile', 'groovy'],
];

/** Interpreters named on a `#!` line. */
const SHEBANG_LANGUAGES: [RegExp, string][] = [
  [/python/, 'python'],
  [/node|deno|bun/, 'javascript'],
  [/\b(ba|z|k|da)?sh\b/, 'shell'],
  [/ruby/, 'ruby'],
  [/perl/, 'perl'],
  [/php/, 'php'],
  [/lua/, 'lua'],
  [/Rscript/, 'r'],
];

const CODE_BY_LANGUAGE = new Map<string, MediaType>(
  CODE.map(([language, mediaType]) => [language, { mediaType, kind: 'code', language }]),
);
const CODE_BY_FILE_NAME = new Map(CODE_FILE_NAMES.map(([name, language]) => [name, CODE_BY_LANGUAGE.get(language)!]));
const TEXT_BY_EXTENSION = new Map<string, MediaType>([
  ...DOCUMENTS.flatMap(([type, extensions]) => extensions.map((ext) => [ext, type] as const)),
  ...CODE.flatMap(([language, , extensions]) => extensions.map((ext) => [ext, CODE_BY_LANGUAGE.get(language)!] as const)),
]);

/** For UNSUPPORTED_MEDIA_TYPE errors: what can be uploaded. */
export const SUPPORTED_TYPES_DESCRIPTION =
  'PDF (.pdf), Word (.docx), ' +
  DOCUMENTS.map(([, extensions, label]) => `${label} (${extensions.map((e) => `.${e}`).join(', ')})`).join(', ') +
  ', other text files in any common encoding, and source code (' +
  CODE.map(([, , [first]]) => `.${first}`).join(', ') +
  ', Dockerfile, Makefile…). Images, archives and other binary files are not supported.';

export function detectMediaType(name: string, head: Buffer): MediaType | null {
  const type = identify(name, head);
  // A copy, so that a caller changing it cannot change the tables.
  return type && { ...type };
}

function identify(name: string, head: Buffer): MediaType | null {
  const baseName = name.split(/[\\/]/).pop()!.toLowerCase();
  const dot = baseName.lastIndexOf('.');
  const extension = dot > 0 ? baseName.slice(dot + 1) : '';

  if (isPdf(head, extension)) return PDF;
  if (isZip(head)) return isDocx(head, extension) ? DOCX : null;
  if (isImage(head) || isBinary(head)) return null;

  const known = CODE_BY_FILE_NAME.get(baseName) ?? TEXT_BY_EXTENSION.get(extension);
  return known ?? sniffText(head) ?? PLAIN;
}

const startsWith = (head: Buffer, bytes: number[], at = 0) => bytes.every((b, i) => head[at + i] === b);
const ascii = (text: string) => [...text].map((c) => c.charCodeAt(0));

const PDF_MAGIC = ascii('%PDF-');

function isPdf(head: Buffer, extension: string): boolean {
  if (startsWith(head, PDF_MAGIC)) return true;
  return extension === 'pdf' && head.subarray(0, 1024).includes('%PDF-');
}

function isZip(head: Buffer): boolean {
  // A local file header, or the end record of an empty archive.
  return startsWith(head, [0x50, 0x4b, 0x03, 0x04]) || startsWith(head, [0x50, 0x4b, 0x05, 0x06]);
}

function isDocx(head: Buffer, extension: string): boolean {
  const names = zipEntryNames(head);
  if (names.some((n) => n.startsWith('word/'))) return true;
  if (names.some((n) => /^(xl|ppt)\//.test(n))) return false;
  return extension === 'docx';
}

/** Names of the entries whose local headers lie in `head`, walking header to header while sizes are known. */
function zipEntryNames(head: Buffer): string[] {
  const names: string[] = [];
  let at = 0;
  while (at + 30 <= head.length && head.readUInt32LE(at) === 0x04034b50) {
    const flags = head.readUInt16LE(at + 6);
    const compressedSize = head.readUInt32LE(at + 18);
    const nameLength = head.readUInt16LE(at + 26);
    const extraLength = head.readUInt16LE(at + 28);
    names.push(head.toString('utf8', at + 30, Math.min(head.length, at + 30 + nameLength)));
    // Bit 3: the sizes follow the data, so the next header cannot be located from here.
    if (flags & 0x08) break;
    at += 30 + nameLength + extraLength + compressedSize;
  }
  return names;
}

const IMAGE_MAGIC: { bytes: number[]; at?: number }[] = [
  { bytes: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] }, // PNG
  { bytes: [0xff, 0xd8, 0xff] }, // JPEG
  { bytes: ascii('GIF87a') },
  { bytes: ascii('GIF89a') },
  { bytes: ascii('WEBP'), at: 8 }, // RIFF container
  { bytes: [0x49, 0x49, 0x2a, 0x00] }, // TIFF, little-endian
  { bytes: [0x4d, 0x4d, 0x00, 0x2a] }, // TIFF, big-endian
];

function isImage(head: Buffer): boolean {
  return IMAGE_MAGIC.some(({ bytes, at }) => startsWith(head, bytes, at));
}

/** Tab, LF, VT, FF, CR, SUB (old DOS end-of-file) and ESC (ANSI colours in logs) occur in real text. */
const TEXT_CONTROLS = new Set([0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1a, 0x1b]);

function isBinary(head: Buffer): boolean {
  // UTF-16 text is full of zero bytes.
  if (bomEncoding(head)?.startsWith('utf-16') || sniffUtf16(head)) return false;
  const n = Math.min(head.length, SNIFF_BYTES);
  let controls = 0;
  for (let i = 0; i < n; i++) {
    const b = head[i];
    if (b === 0) return true;
    if ((b < 0x20 && !TEXT_CONTROLS.has(b)) || b === 0x7f) controls++;
  }
  return controls > n * 0.02;
}

function sniffText(head: Buffer): MediaType | null {
  const encoding = bomEncoding(head) ?? sniffUtf16(head) ?? 'utf-8';
  const start = new TextDecoder(encoding).decode(head.subarray(0, 1024)).trimStart();
  if (start.startsWith('#!')) {
    const interpreter = start.slice(2).split('\n', 1)[0];
    const language = SHEBANG_LANGUAGES.find(([pattern]) => pattern.test(interpreter))?.[1];
    return language ? CODE_BY_LANGUAGE.get(language)! : null;
  }
  if (/^(<\?xml[^>]*>\s*)?(<!--[\s\S]*?-->\s*)*(<!doctype html|<html[\s>])/i.test(start)) {
    return TEXT_BY_EXTENSION.get('html')!;
  }
  if (start.startsWith('<?xml')) return TEXT_BY_EXTENSION.get('xml')!;
  return null;
}
