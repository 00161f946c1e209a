import { deflateSync, crc32 } from 'node:zlib';
import { Document, HeadingLevel, Packer, Paragraph, Table, TableCell, TableRow, TextRun } from 'docx';
import iconv from 'iconv-lite';
import { PDFDocument, StandardFonts, rgb } from 'pdf-lib';
import { describe, expect, it } from 'vitest';
import { openDocument, splitSection, type DocumentPiece } from '../src/documents/document-stream.js';
import { DEFAULT_LIMITS } from '../src/documents/limits.js';
import { detectMediaType, SNIFF_BYTES, SUPPORTED_TYPES_DESCRIPTION } from '../src/documents/media-types.js';
import { Utf8Check } from '../src/documents/parsers/decode.js';
import { type DocumentKind, parse, ParseError, type ParsedDocument } from '../src/documents/parsers/index.js';

// ---------------------------------------------------------------------------------------------------------------
// Real files, made here

async function makePdf(pages: (string[] | 'blank' | 'drawing' | 'image')[]): Promise<Buffer> {
  const pdf = await PDFDocument.create();
  const font = await pdf.embedFont(StandardFonts.Helvetica);
  for (const content of pages) {
    const page = pdf.addPage([595, 842]);
    if (content === 'drawing') {
      page.drawRectangle({ x: 50, y: 500, width: 200, height: 100, color: rgb(0.2, 0.4, 0.8) });
      page.drawEllipse({ x: 300, y: 300, xScale: 80, yScale: 40, color: rgb(0.9, 0.1, 0.1) });
    } else if (content === 'image') {
      const image = await pdf.embedPng(makePng(40, 20));
      page.drawImage(image, { x: 50, y: 400, width: 400, height: 200 });
    } else if (content !== 'blank') {
      content.forEach((line, i) => page.drawText(line, { x: 50, y: 780 - i * 18, size: 12, font }));
    }
  }
  return Buffer.from(await pdf.save());
}

/** A valid RGB PNG, built from its chunks. */
function makePng(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // RGB
  const rows = Buffer.alloc((width * 3 + 1) * height, 0x7f);
  for (let y = 0; y < height; y++) rows[y * (width * 3 + 1)] = 0; // filter: none
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

async function makeDocx(): Promise<Buffer> {
  const doc = new Document({
    sections: [
      {
        children: [
          new Paragraph({ text: 'Quarterly Report', heading: HeadingLevel.HEADING_1 }),
          new Paragraph({ children: [new TextRun('Revenue grew '), new TextRun({ text: 'twelve percent', bold: true }), new TextRun('.')] }),
          new Paragraph({ text: 'Regional Details', heading: HeadingLevel.HEADING_2 }),
          new Paragraph({ text: 'Europe led the growth.' }),
          new Paragraph({ text: 'First bullet', bullet: { level: 0 } }),
          new Table({
            rows: [
              new TableRow({ children: ['Region', 'Growth'].map((t) => new TableCell({ children: [new Paragraph(t)] })) }),
              new TableRow({ children: ['Europe', '15%'].map((t) => new TableCell({ children: [new Paragraph(t)] })) }),
            ],
          }),
          new Paragraph({ text: 'Outlook', heading: HeadingLevel.HEADING_1 }),
          new Paragraph({ text: 'Stable.' }),
        ],
      },
    ],
  });
  return Buffer.from(await Packer.toBuffer(doc));
}

/** Deterministic bytes that are not text. */
function randomBytes(length: number, seed = 42): Buffer {
  const bytes = Buffer.alloc(length);
  let state = seed;
  for (let i = 0; i < length; i++) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    bytes[i] = state >> 16;
  }
  return bytes;
}

const text = (s: string) => Buffer.from(s, 'utf8');

async function parseAs(name: string, bytes: Buffer): Promise<ParsedDocument> {
  const type = detectMediaType(name, bytes.subarray(0, SNIFF_BYTES));
  if (!type) throw new Error(`${name} was not recognised`);
  const doc = await parse({ bytes, name, kind: type.kind, language: type.language });
  expectConsistent(doc);
  return doc;
}

/** Sections point into the text exactly, in order, without overlapping. */
function expectConsistent(doc: ParsedDocument): void {
  let previousEnd = 0;
  for (const section of doc.sections) {
    expect(doc.text.slice(section.startOffset, section.startOffset + section.text.length)).toBe(section.text);
    expect(section.startOffset).toBeGreaterThanOrEqual(previousEnd);
    expect(section.text.trim()).toBe(section.text);
    previousEnd = section.startOffset + section.text.length;
  }
}

// ---------------------------------------------------------------------------------------------------------------

describe('detectMediaType', () => {
  it('recognises a PDF by its content, whatever the name', async () => {
    const pdf = await makePdf([['hello']]);
    for (const name of ['report.pdf', 'upload.bin', 'noextension', 'notes.txt']) {
      expect(detectMediaType(name, pdf), name).toEqual({ mediaType: 'application/pdf', kind: 'pdf' });
    }
  });

  it('treats a .pdf whose bytes are plain text as plain text, not a PDF', () => {
    expect(detectMediaType('fake.pdf', text('Just some words, no PDF here.'))).toEqual({ mediaType: 'text/plain', kind: 'text' });
  });

  it('accepts junk before %PDF- only in a file named .pdf', () => {
    const head = Buffer.concat([text('garbage line\n'), text('%PDF-1.7\n')]);
    expect(detectMediaType('x.pdf', head)?.kind).toBe('pdf');
    expect(detectMediaType('x.txt', head)?.kind).toBe('text');
  });

  it('recognises DOCX from its ZIP entries, with or without the extension', async () => {
    const docx = await makeDocx();
    const expected = {
      mediaType: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
      kind: 'docx',
    };
    expect(detectMediaType('report.docx', docx)).toEqual(expected);
    expect(detectMediaType('upload', docx.subarray(0, SNIFF_BYTES))).toEqual(expected);
  });

  it('rejects other ZIP files, images and binary content', () => {
    const zip = Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.alloc(40)]);
    expect(detectMediaType('archive.zip', zip)).toBeNull();
    expect(detectMediaType('picture.png', makePng(4, 4))).toBeNull();
    expect(detectMediaType('picture.txt', makePng(4, 4))).toBeNull();
    expect(detectMediaType('photo.jpg', Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46]))).toBeNull();
    expect(detectMediaType('anim.gif', text('GIF89a'))).toBeNull();
    expect(detectMediaType('blob.bin', randomBytes(4096))).toBeNull();
    expect(detectMediaType('data.json', randomBytes(4096))).toBeNull();
    expect(detectMediaType('controls.txt', Buffer.from([0x01, 0x02, 0x03, 0x41, 0x42, 0x05, 0x06]))).toBeNull();
  });

  it('maps text by extension to a specific type, with a language for code', () => {
    const cases: [string, string, DocumentKind, string?][] = [
      ['notes.txt', 'text/plain', 'text'],
      ['README.md', 'text/markdown', 'markdown'],
      ['guide.markdown', 'text/markdown', 'markdown'],
      ['page.mdx', 'text/markdown', 'markdown'],
      ['data.json', 'application/json', 'json'],
      ['events.jsonl', 'application/jsonl', 'jsonl'],
      ['events.ndjson', 'application/jsonl', 'jsonl'],
      ['table.csv', 'text/csv', 'csv'],
      ['table.tsv', 'text/tab-separated-values', 'csv'],
      ['index.html', 'text/html', 'html'],
      ['index.htm', 'text/html', 'html'],
      ['feed.xml', 'application/xml', 'xml'],
      ['config.yaml', 'application/yaml', 'yaml'],
      ['config.yml', 'application/yaml', 'yaml'],
      ['Cargo.toml', 'application/toml', 'toml'],
      ['main.py', 'text/x-python', 'code', 'python'],
      ['app.js', 'text/javascript', 'code', 'javascript'],
      ['App.jsx', 'text/x-jsx', 'code', 'jsx'],
      ['index.ts', 'text/x-typescript', 'code', 'typescript'],
      ['App.tsx', 'text/x-tsx', 'code', 'tsx'],
      ['Main.java', 'text/x-java-source', 'code', 'java'],
      ['lib.c', 'text/x-c', 'code', 'c'],
      ['lib.h', 'text/x-c', 'code', 'c'],
      ['lib.cpp', 'text/x-c++', 'code', 'cpp'],
      ['lib.cc', 'text/x-c++', 'code', 'cpp'],
      ['lib.hpp', 'text/x-c++', 'code', 'cpp'],
      ['Program.cs', 'text/x-csharp', 'code', 'csharp'],
      ['main.go', 'text/x-go', 'code', 'go'],
      ['main.rs', 'text/x-rust', 'code', 'rust'],
      ['app.rb', 'text/x-ruby', 'code', 'ruby'],
      ['index.php', 'text/x-php', 'code', 'php'],
      ['App.swift', 'text/x-swift', 'code', 'swift'],
      ['Main.kt', 'text/x-kotlin', 'code', 'kotlin'],
      ['Main.scala', 'text/x-scala', 'code', 'scala'],
      ['build.sh', 'text/x-shellscript', 'code', 'shell'],
      ['build.bash', 'text/x-shellscript', 'code', 'shell'],
      ['schema.sql', 'text/x-sql', 'code', 'sql'],
      ['model.R', 'text/x-r', 'code', 'r'],
      ['init.lua', 'text/x-lua', 'code', 'lua'],
      ['script.pl', 'text/x-perl', 'code', 'perl'],
      ['View.m', 'text/x-objective-c', 'code', 'objective-c'],
      ['main.dart', 'text/x-dart', 'code', 'dart'],
      ['Dockerfile', 'text/x-dockerfile', 'code', 'dockerfile'],
      ['Makefile', 'text/x-makefile', 'code', 'makefile'],
      ['CMakeLists.txt', 'text/x-cmake', 'code', 'cmake'],
      ['dir/sub\\Weird.Name.PY', 'text/x-python', 'code', 'python'],
    ];
    for (const [name, mediaType, kind, language] of cases) {
      expect(detectMediaType(name, text('content\n')), name).toEqual(language ? { mediaType, kind, language } : { mediaType, kind });
    }
  });

  it('recognises text without a known extension from its content, else as plain text', () => {
    expect(detectMediaType('run', text('#!/usr/bin/env python3\nprint(1)\n'))).toMatchObject({ kind: 'code', language: 'python' });
    expect(detectMediaType('deploy', text('#!/bin/bash\necho hi\n'))).toMatchObject({ kind: 'code', language: 'shell' });
    expect(detectMediaType('page', text('<!DOCTYPE html>\n<html><body>x</body></html>'))).toMatchObject({ kind: 'html' });
    expect(detectMediaType('data', text('<?xml version="1.0"?>\n<root/>'))).toMatchObject({ kind: 'xml' });
    expect(detectMediaType('LICENSE', text('MIT License\n'))).toEqual({ mediaType: 'text/plain', kind: 'text' });
    expect(detectMediaType('notes.weird', text('hello'))).toEqual({ mediaType: 'text/plain', kind: 'text' });
    expect(detectMediaType('empty.txt', Buffer.alloc(0))).toEqual({ mediaType: 'text/plain', kind: 'text' });
  });

  it('sees UTF-16 (NUL bytes in every other position) and legacy 8-bit text as text', () => {
    const sample = 'Grüße aus Köln – naïve café';
    expect(detectMediaType('a.txt', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(sample, 'utf16le')]))?.kind).toBe('text');
    expect(detectMediaType('b.txt', Buffer.from(sample, 'utf16le'))?.kind).toBe('text');
    expect(detectMediaType('c.csv', iconv.encode(sample, 'windows-1252'))?.kind).toBe('csv');
    expect(detectMediaType('d.txt', iconv.encode('日本語のテキスト', 'Shift_JIS'))?.kind).toBe('text');
  });

  it('describes the supported types for UNSUPPORTED_MEDIA_TYPE errors', () => {
    for (const part of ['PDF', '.docx', '.md', '.json', '.jsonl', '.csv', '.html', '.xml', '.yaml', '.toml', '.py', '.ts', '.go']) {
      expect(SUPPORTED_TYPES_DESCRIPTION).toContain(part);
    }
  });
});

describe('text decoding', () => {
  const french = 'Café crème brûlée – « naïve » façade, 10 € … déjà vu. Ça coûte très cher, n’est-ce pas ?';

  it('reads Windows-1252 with accents, curly quotes and the euro sign', async () => {
    const doc = await parseAs('menu.txt', iconv.encode(french, 'windows-1252'));
    expect(doc.text).toBe(french);
    expect(doc.note).toMatch(/encoding guessed as (windows-1252|ISO-8859-1)/);
  });

  it('reads UTF-16LE with a BOM, and without one', async () => {
    const withBom = await parseAs('bom.txt', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(french, 'utf16le')]));
    expect(withBom.text).toBe(french);
    expect(withBom.note).toBeUndefined();
    expect((await parseAs('nobom.txt', Buffer.from(french, 'utf16le'))).text).toBe(french);
  });

  it('reads UTF-16BE with a BOM', async () => {
    const doc = await parseAs('be.txt', iconv.encode(french, 'utf-16be', { addBOM: true }));
    expect(doc.text).toBe(french);
  });

  it('reads Shift-JIS', async () => {
    const japanese = '日本語のテキストです。東京は日本の首都です。今日はいい天気ですね。桜の花が咲いています。';
    const doc = await parseAs('nihongo.txt', iconv.encode(japanese, 'Shift_JIS'));
    expect(doc.text).toBe(japanese);
    expect(doc.note).toContain('Shift_JIS');
  });

  it('strips a UTF-8 BOM, normalises line endings and drops NUL characters', async () => {
    const doc = await parse({ bytes: Buffer.from('\ufeffline one\r\nline two\rline three\u0000', 'utf8'), name: 'x.txt', kind: 'text' });
    expect(doc.text).toBe('line one\nline two\nline three');
  });
});

describe('Utf8Check', () => {
  const verdict = (pieces: Buffer[]) => {
    const check = new Utf8Check();
    for (const piece of pieces) check.push(piece);
    return check.end();
  };
  const cutEvery = (bytes: Buffer, n: number) => Array.from({ length: Math.ceil(bytes.length / n) }, (_, i) => bytes.subarray(i * n, (i + 1) * n));

  it('finds UTF-8 valid however its characters are cut between pieces, and invalid bytes or a cut-short end invalid', () => {
    const text = Buffer.from('Grès, schiste — 花崗岩 🪨 and plain ASCII. '.repeat(20), 'utf8');
    for (const n of [1, 2, 3, 5, 7, 64]) expect(verdict(cutEvery(text, n)), `pieces of ${n}`).toBe(true);
    const latin1 = Buffer.concat([text, Buffer.from([0xe9, 0x20]), text]); // é in Latin-1, far from the start
    for (const n of [1, 3, 64]) expect(verdict(cutEvery(latin1, n))).toBe(false);
    expect(verdict(cutEvery(text.subarray(0, text.indexOf(0xf0) + 2), 4))).toBe(false); // the emoji cut short
    expect(verdict([])).toBe(true);
  });
});

describe('PDF', () => {
  it('keeps the page number of every page that has text', async () => {
    const pdf = await makePdf([
      ['Introduction to Quarry.', 'It ingests documents.'],
      ['Second page: chunking and embedding.'],
      'blank',
      ['Fourth page, after a blank one.'],
    ]);
    const doc = await parseAs('manual.pdf', pdf);
    expect(doc.sections.map((s) => s.page)).toEqual([1, 2, 4]);
    expect(doc.sections[0].text).toBe('Introduction to Quarry.\nIt ingests documents.');
    expect(doc.sections[1].text).toBe('Second page: chunking and embedding.');
    expect(doc.text).toContain('Fourth page, after a blank one.');
    expect(doc.note).toBe('pages without a text layer (scanned or image-only?): 3');
  });

  it('returns empty text and a note for an image-only or empty PDF', async () => {
    for (const pages of [['image', 'drawing'], ['blank']] as const) {
      const doc = await parseAs('scan.pdf', await makePdf([...pages]));
      expect(doc).toEqual({ text: '', sections: [], note: 'no text layer found (image-only PDF?)' });
    }
  });

  it('streams page by page the text and sections the whole parse gives, windows and note included', async () => {
    const long = Array.from({ length: 30 }, (_, i) => `Line ${i} of a long page about granite.`);
    const bytes = await makePdf([['First page.'], 'blank', long, ['Last page.']]);
    const whole = await parseAs('manual.pdf', bytes);
    const stream = await openDocument({ size: bytes.length, async *chunks() { yield bytes; } }, { kind: 'pdf', name: 'm.pdf', limits: DEFAULT_LIMITS, windowChars: 300 });
    const pieces: DocumentPiece[] = [];
    const progress: number[] = [];
    for await (const piece of stream.pieces) {
      pieces.push(piece);
      progress.push(stream.progress());
    }
    expect(pieces.map((p) => p.text).join('')).toBe(whole.text);
    const sections = pieces.flatMap((p) => p.sections);
    expect(sections.length).toBeGreaterThan(whole.sections.length); // the long page is cut into windows
    for (const section of sections) expect(whole.text.slice(section.startOffset, section.startOffset + section.text.length)).toBe(section.text);
    expect(sections.map((s) => s.page)).toEqual(whole.sections.flatMap((s) => splitSection(s, 300).map(() => s.page)));
    expect(progress[0]).toBeLessThan(1); // progress moves with the pages read
    expect(stream.progress()).toBe(1);
    expect(stream.note()).toBe(whole.note);
  });

  it('throws a ParseError saying the PDF is damaged', async () => {
    const corrupt = Buffer.concat([text('%PDF-1.7\n'), randomBytes(2000)]);
    await expect(parseAs('broken.pdf', corrupt)).rejects.toThrow(ParseError);
    await expect(parseAs('broken.pdf', corrupt)).rejects.toThrow(/^PDF is damaged: /);
    await expect(parse({ bytes: text('%PDF-1.4\n1 0 obj'), name: 'cut.pdf', kind: 'pdf' })).rejects.toThrow(/^PDF is damaged: /);
  });
});

describe('DOCX', () => {
  it('gives the text with headings as heading paths, lists and tables', async () => {
    const doc = await parseAs('report.docx', await makeDocx());
    expect(doc.sections.map((s) => s.headingPath)).toEqual([
      ['Quarterly Report'],
      ['Quarterly Report', 'Regional Details'],
      ['Outlook'],
    ]);
    expect(doc.sections[0].text).toBe('Quarterly Report\n\nRevenue grew twelve percent.');
    expect(doc.sections[1].text).toContain('Europe led the growth.');
    expect(doc.sections[1].text).toContain('First bullet');
    expect(doc.sections[1].text).toContain('Region | Growth\nEurope | 15%');
  });

  it('throws a ParseError for a damaged file', async () => {
    const notAZip = Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), randomBytes(500)]);
    await expect(parse({ bytes: notAZip, name: 'x.docx', kind: 'docx' })).rejects.toThrow(/^DOCX is damaged: /);
  });
});

describe('Markdown', () => {
  it('cuts sections at headings with their heading path, ignoring # in code and front matter', async () => {
    const source = [
      '---',
      'title: Guide',
      '---',
      '',
      'Preamble text.',
      '',
      '# Install',
      '',
      'Run the installer.',
      '',
      '```sh',
      '# not a heading',
      '```',
      '',
      '## On Linux',
      '',
      'Use the package.',
      '',
      '### Debian',
      '',
      'apt-get install quarry',
      '',
      '## On macOS',
      '',
      'Use brew.',
      '',
      '> # A quoted heading is content',
      '',
      '<div>',
      '# inside an HTML block',
      '</div>',
      '',
      '[docs]: https://example.com/docs',
      '',
      'Usage *basics* of `quarry`',
      '==============',
      '',
      'Start it.',
      '',
    ].join('\n');
    const doc = await parseAs('guide.md', text(source));
    expect(doc.text).toBe(source);
    expect(doc.sections.map((s) => s.headingPath)).toEqual([
      undefined,
      ['Install'],
      ['Install', 'On Linux'],
      ['Install', 'On Linux', 'Debian'],
      ['Install', 'On macOS'],
      ['Usage basics of quarry'],
    ]);
    expect(doc.sections[0].text).toBe('---\ntitle: Guide\n---\n\nPreamble text.');
    expect(doc.sections[1].text).toContain('# not a heading');
    expect(doc.sections[3].text).toBe('### Debian\n\napt-get install quarry');
    expect(doc.sections[4].text).toContain('# inside an HTML block');
  });

  it('returns empty text and a note for a blank file', async () => {
    expect(await parseAs('empty.md', text('  \n\n'))).toEqual({ text: '', sections: [], note: 'no text found (the file is empty)' });
  });
});

describe('JSON and JSON Lines', () => {
  it('pretty-prints JSON with one section per top-level key, numbers kept exactly', async () => {
    const doc = await parseAs('data.json', text('{"id":12345678901234567890,"name":"Quarry","tags":["a","b"],"nested":{"x":1.50}}'));
    expect(doc.text).toBe(
      '{\n  "id": 12345678901234567890,\n  "name": "Quarry",\n  "tags": [\n    "a",\n    "b"\n  ],\n  "nested": {\n    "x": 1.50\n  }\n}',
    );
    expect(doc.sections.map((s) => s.headingPath)).toEqual([['id'], ['name'], ['tags'], ['nested']]);
    expect(doc.sections[2].text).toBe('"tags": [\n    "a",\n    "b"\n  ]');
  });

  it('gives one section per array item, and one for a scalar', async () => {
    const array = await parseAs('list.json', text('[{"a":1},{"b":2}]'));
    expect(array.sections.map((s) => s.text)).toEqual(['{\n    "a": 1\n  }', '{\n    "b": 2\n  }']);
    expect((await parseAs('n.json', text('42'))).sections).toEqual([{ text: '42', startOffset: 0 }]);
  });

  it('throws a ParseError with the position for invalid JSON', async () => {
    await expect(parseAs('bad.json', text('{"a": 1,}'))).rejects.toThrow(/^JSON is invalid: .*position 8/);
  });

  it('gives one section per JSONL record and names a bad line', async () => {
    const doc = await parseAs('events.jsonl', text('{"event":"start"}\n\n{"event":"stop","ms":12}\n'));
    expect(doc.sections.map((s) => s.text)).toEqual(['{"event":"start"}', '{"event":"stop","ms":12}']);
    await expect(parseAs('bad.jsonl', text('{"ok":1}\n{"broken":\n'))).rejects.toThrow(/^JSONL line 2 is not valid JSON/);
  });
});

describe('CSV', () => {
  it('renders rows as "header: value" lines, skipping empty cells', async () => {
    const doc = await parseAs('people.csv', text('name,age,city\nAlice,30,"Paris, France"\nBob,,Berlin\n'));
    expect(doc.text).toBe('name: Alice\nage: 30\ncity: Paris, France\n\nname: Bob\ncity: Berlin');
    expect(doc.sections).toHaveLength(1);
  });

  it('finds a semicolon delimiter, reads TSV, and names missing headers', async () => {
    expect((await parseAs('eu.csv', text('name;price\nBrot;2,50\n'))).text).toBe('name: Brot\nprice: 2,50');
    expect((await parseAs('t.tsv', text('a\tb\n1\t2\t3\n'))).text).toBe('a: 1\nb: 2\ncolumn 3: 3');
  });

  it('notes a header-only file and throws on an unclosed quote', async () => {
    expect((await parseAs('h.csv', text('a,b\n'))).note).toBe('no data rows (the file has only a header row)');
    await expect(parseAs('bad.csv', text('a,b\n1,"unclosed\n'))).rejects.toThrow(/^CSV is malformed: /);
  });
});

describe('HTML', () => {
  it('keeps readable text and heading paths, drops scripts and styles', async () => {
    const html = `<!doctype html><html><head><title>T</title><style>p{color:red}</style></head><body>
      <h1>Guide &amp; Reference</h1><p>Hello   <b>world</b>,
      how are you?</p><script>alert(1)</script>
      <ul><li>one</li><li>two</li></ul>
      <h2>Details</h2><pre>  indented
    code</pre>
      <h3>Deeper</h3><p>a<br>b</p>
      <h2>Other</h2><table><tr><th>k</th><th>v</th></tr><tr><td><p>x</p></td><td>1</td></tr></table>
    </body></html>`;
    const doc = await parseAs('page.html', text(html));
    expect(doc.sections.map((s) => s.headingPath)).toEqual([
      ['Guide & Reference'],
      ['Guide & Reference', 'Details'],
      ['Guide & Reference', 'Details', 'Deeper'],
      ['Guide & Reference', 'Other'],
    ]);
    expect(doc.sections[0].text).toBe('Guide & Reference\n\nHello world, how are you?\n\n- one\n- two');
    expect(doc.sections[1].text).toBe('Details\n\n  indented\n    code');
    expect(doc.sections[2].text).toBe('Deeper\n\na\nb');
    expect(doc.sections[3].text).toBe('Other\n\nk | v\nx | 1');
    expect(doc.text).not.toContain('alert');
    expect(doc.text).not.toContain('color');
  });
});

describe('code and other text', () => {
  it('keeps indentation and line structure of code', async () => {
    const source = 'def greet(name):\n    if name:\n\treturn f"hi {name}"\n    return None\n';
    const doc = await parseAs('greet.py', text(source));
    expect(doc.text).toBe(source);
    expect(doc.sections).toEqual([{ text: source.trimEnd(), startOffset: 0 }]);
  });

  it('reads YAML, TOML and XML as text', async () => {
    for (const [name, source] of [
      ['c.yaml', 'a:\n  b: 1\n'],
      ['c.toml', '[server]\nport = 8283\n'],
      ['c.xml', '<?xml version="1.0"?>\n<root><item>1</item></root>\n'],
    ]) {
      expect((await parseAs(name, text(source))).text).toBe(source);
    }
  });

  it('returns empty text and a note for an empty file', async () => {
    expect(await parseAs('empty.txt', Buffer.alloc(0))).toEqual({ text: '', sections: [], note: 'no text found (the file is empty)' });
    expect((await parseAs('empty.json', text(' \n'))).note).toBe('no text found (the file is empty)');
  });
});
