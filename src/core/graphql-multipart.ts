import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import busboy from 'busboy';
import { Upload, WriteStream, type FileUpload } from 'graphql-upload-ts';
import { JsonDepthError, parseJson } from './json.js';

/**
 * GraphQL multipart requests (https://github.com/jaydenseric/graphql-multipart-request-spec), read with busboy:
 * `operations` (JSON, depth-capped like every body), then `map`, then the files, each streamed to a temporary file
 * (graphql-upload-ts's capacitor, so memory stays flat) and handed to resolvers as graphql-upload-ts `Upload`s.
 *
 * Unlike graphql-upload-ts's processRequest, the whole body is read before the operations are handed on, so a body
 * that breaks the spec (a field or file part twice, parts out of order, a part past a limit) is refused as a whole
 * before anything runs; and every temporary file this request created is tracked, so each one is closed and
 * removed on every path: at once when the request is refused, when the response has closed otherwise.
 */

export class MultipartError extends Error {
  constructor(
    readonly status: 400 | 413 | 499,
    message: string,
  ) {
    super(message);
    this.name = 'MultipartError';
  }

  get code(): 'BAD_USER_INPUT' | 'PAYLOAD_TOO_LARGE' {
    return this.status === 413 ? 'PAYLOAD_TOO_LARGE' : 'BAD_USER_INPUT';
  }
}

export interface MultipartLimits {
  /** Bytes kept per file: a longer file is cut here, and whoever reads it sees more bytes than it accepts. */
  maxFileBytes: number;
  maxFiles: number;
  /** Largest `operations` or `map` field. */
  maxFieldBytes: number;
  maxJsonDepth: number;
  /** Where temporary files go (default: the OS temporary directory). */
  tmpdir?: () => string;
}

const SPEC = 'https://github.com/jaydenseric/graphql-multipart-request-spec';
const bad = (message: string) => new MultipartError(400, `${message} (${SPEC}).`);
/** Segments that would reach an object's prototype instead of its own values. */
const UNSAFE_SEGMENTS = new Set(['__proto__', 'constructor', 'prototype']);

/** Puts `value` where `path` (`variables.input.file`, `0.variables.files.1`) holds a null in `operations`. */
function placeAt(operations: object, path: string, value: unknown): boolean {
  const segments = path.split('.');
  let current: unknown = operations;
  for (const [i, segment] of segments.entries()) {
    if (UNSAFE_SEGMENTS.has(segment) || current === null || typeof current !== 'object' || !Object.hasOwn(current, segment)) return false;
    const container = current as Record<string, unknown>;
    if (i === segments.length - 1) {
      if (container[segment] !== null) return false;
      container[segment] = value;
      return true;
    }
    current = container[segment];
  }
  return false;
}

/**
 * Reads the whole multipart body of `req` and resolves with its operations, uploads in place; rejects with a
 * MultipartError (400, 413, or 499 when the client went away) and then leaves nothing behind.
 */
export function readGraphQLMultipart(req: IncomingMessage, res: ServerResponse, limits: MultipartLimits): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: req.headers,
        defParamCharset: 'utf8',
        limits: {
          fieldSize: limits.maxFieldBytes,
          fields: 10,
          fileSize: limits.maxFileBytes,
          files: limits.maxFiles,
          parts: limits.maxFiles + 10,
          headerPairs: 100,
        },
      });
    } catch (error) {
      reject(bad(`Invalid multipart request: ${(error as Error).message}`));
      return;
    }
    const read = new MultipartRead(req, parser, limits, resolve, reject);
    res.once('close', () => read.releaseAll());
    parser.on('field', (name, value, info) => read.field(name, value, info.valueTruncated));
    parser.on('file', (name, stream, info) => read.file(name, stream, info));
    parser.once('filesLimit', () => read.fail(new MultipartError(413, `At most ${limits.maxFiles} files per request (MAX_UPLOAD_FILES).`)));
    parser.once('partsLimit', () => read.fail(new MultipartError(413, 'Too many parts in the multipart body.')));
    parser.once('fieldsLimit', () => read.fail(new MultipartError(413, 'Too many fields in the multipart body.')));
    parser.on('error', (error: Error) => read.fail(bad(`Invalid multipart body: ${error.message}`)));
    parser.once('finish', () => read.finish());
    req.once('close', () => {
      if (!req.readableEnded) read.fail(new MultipartError(499, 'The client closed the connection before the multipart body was complete.'));
    });
    req.pipe(parser);
  });
}

/** One multipart body being read: its operations, its map of uploads, and the temporary files they are written to. */
class MultipartRead {
  private operations: object | undefined;
  private map: Map<string, Upload> | undefined;
  private readonly seen = new Set<string>();
  private readonly capacitors = new Set<WriteStream>();
  private over = false;
  private released = false;

  constructor(
    private readonly req: IncomingMessage,
    private readonly parser: busboy.Busboy,
    private readonly limits: MultipartLimits,
    private readonly resolve: (operations: unknown) => void,
    private readonly reject: (error: MultipartError) => void,
  ) {}

  releaseAll() {
    this.released = true;
    for (const capacitor of this.capacitors) capacitor.release();
  }

  fail(error: MultipartError) {
    if (this.over) return;
    this.over = true;
    for (const upload of this.map?.values() ?? []) if (!upload.file) upload.reject(error);
    this.req.unpipe(this.parser);
    this.parser.destroy();
    // Nothing will read these files: closed and removed now rather than when the response ends.
    for (const capacitor of this.capacitors) capacitor.destroy();
    this.capacitors.clear();
    // The rest of the body is read and dropped so the answer reaches the client (it says `connection: close`).
    setImmediate(() => this.req.resume());
    this.reject(error);
  }

  field(name: string, value: string, truncated: boolean) {
    if (this.over) return;
    if (truncated) return this.fail(new MultipartError(413, `The ‘${name}’ multipart field is larger than ${this.limits.maxFieldBytes} bytes.`));
    if (name !== 'operations' && name !== 'map') return; // not part of the spec: ignored, as graphql-upload does
    if (this.seen.has(name)) return this.fail(bad(`The ‘${name}’ multipart field appears more than once`));
    this.seen.add(name);
    let parsed: unknown;
    try {
      parsed = parseJson(value, this.limits.maxJsonDepth);
    } catch (error) {
      if (error instanceof JsonDepthError) return this.fail(new MultipartError(400, `The ‘${name}’ multipart field: ${error.message}.`));
      return this.fail(bad(`Invalid JSON in the ‘${name}’ multipart field`));
    }
    if (name === 'operations') {
      if (parsed === null || typeof parsed !== 'object') return this.fail(bad('Invalid type for the ‘operations’ multipart field'));
      this.operations = parsed;
      return;
    }
    this.readMap(parsed);
  }

  /** The `map` field: an Upload for each file field, put at each path of the operations it names. */
  private readMap(parsed: unknown) {
    const operations = this.operations;
    if (!operations) return this.fail(bad('Disordered multipart fields; ‘map’ should follow ‘operations’'));
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return this.fail(bad('Invalid type for the ‘map’ multipart field'));
    const entries = Object.entries(parsed);
    if (entries.length > this.limits.maxFiles) return this.fail(new MultipartError(413, `At most ${this.limits.maxFiles} files per request (MAX_UPLOAD_FILES).`));
    const map = (this.map = new Map<string, Upload>());
    for (const [field, paths] of entries) {
      if (!Array.isArray(paths)) return this.fail(bad(`Invalid type for the ‘map’ multipart field entry key ‘${field}’ array`));
      const upload = new Upload();
      map.set(field, upload);
      for (const [index, path] of paths.entries()) {
        if (typeof path !== 'string' || !placeAt(operations, path, upload)) {
          return this.fail(bad(`Invalid object path for the ‘map’ multipart field entry key ‘${field}’ array index ‘${index}’ value ‘${String(path)}’`));
        }
      }
    }
  }

  file(name: string, stream: Readable, info: busboy.FileInfo) {
    // A part's stream may fail after this request has been refused; the parser's own error reports that.
    stream.on('error', () => undefined);
    if (this.over) return void stream.resume();
    if (!this.map) {
      stream.resume();
      return this.fail(bad('Disordered multipart fields; files should follow ‘map’'));
    }
    if (this.seen.has(name)) {
      stream.resume();
      return this.fail(bad(`The file field ‘${name}’ appears more than once`));
    }
    this.seen.add(name);
    const upload = this.map.get(name);
    if (!upload) return void stream.resume(); // a file no path names: read and dropped, as graphql-upload does
    const capacitor = new WriteStream(this.limits.tmpdir ? { tmpdir: this.limits.tmpdir } : undefined);
    this.capacitors.add(capacitor);
    capacitor.on('error', () => {
      stream.unpipe();
      stream.resume();
    });
    // Past maxFileBytes busboy cuts the part: the capacitor holds one byte more than an upload may have, and the
    // upload is refused, in its own words, by whoever reads it.
    stream.pipe(capacitor);
    const file: FileUpload = {
      fieldName: name,
      filename: info.filename,
      mimetype: info.mimeType,
      encoding: info.encoding,
      capacitor,
      createReadStream: (options) => {
        if (this.released) throw new Error('The upload was released when the response ended');
        return capacitor.createReadStream(options);
      },
    };
    upload.resolve(file);
  }

  finish() {
    if (this.over) return;
    if (!this.operations) return this.fail(bad('Missing multipart field ‘operations’'));
    if (!this.map) return this.fail(bad('Missing multipart field ‘map’'));
    this.over = true;
    for (const upload of this.map.values()) if (!upload.file) upload.reject(bad('File missing in the request'));
    this.resolve(this.operations);
  }
}
