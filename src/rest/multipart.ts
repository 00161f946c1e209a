import type { IncomingMessage } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';
import busboy from 'busboy';
import { AppError, badInput } from '../core/errors.js';
import { RequestValidationError } from './validation.js';

/**
 * multipart/form-data bodies of the upload routes, parsed with busboy as they arrive: the part named like the
 * form field (`file`) is handed to the caller as a stream, which the ingestion domain writes to disk, so memory
 * stays flat; every other part is read and dropped. The router neither reads nor limits these bodies, so the
 * limit is kept here: the whole body may be at most MULTIPART_OVERHEAD larger than the file limit (a larger
 * Content-Length is refused before anything is read), and the file part itself is cut one byte past the limit,
 * which the domain answers with PAYLOAD_TOO_LARGE.
 *
 * Requests are answered once the whole body has been read (keeping the connection usable), except when it is too
 * large: then reading stops at once, and the router drops the rest with the connection.
 */

export interface FilePart {
  /** The part's filename (busboy keeps only its last path segment). */
  filename: string;
  stream: Readable;
  /** The part's declared type; busboy reports `text/plain` for a part that declares none (RFC 7578). */
  mimeType: string | null;
}

/** Room for the multipart framing and small fields around the file. */
export const MULTIPART_OVERHEAD = 1 << 20;

const bodyTooLarge = (maxFileBytes: number) =>
  new AppError(
    'PAYLOAD_TOO_LARGE',
    `The request body is larger than an upload may be (MAX_UPLOAD_BYTES, ${maxFileBytes} bytes, plus ${MULTIPART_OVERHEAD} bytes of multipart framing)`,
    { field: 'file', maxBytes: maxFileBytes },
  );

/** A second file part under the form field's name: which one was meant cannot be known. */
function duplicatePart(field: string): RequestValidationError {
  return new RequestValidationError([{ type: 'value_error', loc: ['body', field], msg: `Expected one UploadFile, received more than one \`${field}\` part`, input: null }]);
}

/** FastAPI's answer when the form has no usable `file` part. */
function missingPart(field: string, sentAsText: boolean): RequestValidationError {
  return new RequestValidationError([
    sentAsText
      ? { type: 'value_error', loc: ['body', field], msg: `Expected UploadFile, received: <class 'str'> (send \`${field}\` as a file part, with a filename)`, input: null }
      : { type: 'missing', loc: ['body', field], msg: 'Field required', input: null },
  ]);
}

const isMultipart = (contentType: string | undefined) => /^\s*multipart\/form-data\s*(;|$)/i.test(contentType ?? '');

/**
 * Reads `req` and calls `use` with the part named `field` as soon as it starts; resolves with what `use` returns
 * once the body has been read. A body that is not multipart/form-data has no such part (422, as FastAPI answers
 * a JSON body sent to a File parameter); a malformed one is a 400 (BAD_USER_INPUT).
 */
export async function withFilePart<T>(
  req: IncomingMessage,
  options: { field: string; maxFileBytes: number },
  use: (part: FilePart) => Promise<T>,
): Promise<T> {
  const { field, maxFileBytes } = options;
  if (!isMultipart(req.headers['content-type'])) throw missingPart(field, false);
  const maxBody = maxFileBytes + MULTIPART_OVERHEAD;
  if (Number(req.headers['content-length']) > maxBody) throw bodyTooLarge(maxFileBytes);

  let parser: busboy.Busboy;
  try {
    parser = busboy({
      headers: req.headers,
      // Filenames are UTF-8 as browsers, curl and the SDKs send them (busboy's default is latin1).
      defParamCharset: 'utf8',
      limits: { fileSize: maxFileBytes + 1, fields: 100, fieldSize: 64 * 1024, parts: 200, headerPairs: 100 },
    });
  } catch (error) {
    throw badInput(`The multipart body cannot be read: ${(error as Error).message}`, field);
  }

  let outcome: Promise<T> | null = null;
  let sentAsText = false;
  let duplicate: RequestValidationError | null = null;
  /** What the caller reads: the file part's bytes, ended only once the whole body has been read and found sound. */
  let held: PassThrough | null = null;
  let onFile!: () => void;
  const fileStarted = new Promise<void>((resolve) => (onFile = resolve));

  parser.on('file', (name, stream, info) => {
    // A part's stream fails with the body (cut short, too large) after its reader may have let go of it (an ignored
    // part, or the file once the domain has answered); the body's own outcome reports that failure.
    stream.on('error', () => undefined);
    if (name === field && outcome && info.filename !== undefined) {
      // Refused as a whole, and the first part with it, before the caller can store it.
      duplicate = duplicatePart(field);
      held?.destroy(duplicate);
    }
    // A part with no filename is a text field to FastAPI, whatever its type.
    if (name !== field || outcome || info.filename === undefined) {
      if (name === field && info.filename === undefined) sentAsText = true;
      stream.resume();
      return;
    }
    const part = (held = new PassThrough());
    // It may be failed (a second part) before the caller has attached its reader, which then sees the error.
    part.on('error', () => undefined);
    stream.on('error', (error) => part.destroy(error));
    stream.pipe(part, { end: false });
    // The part ends for the caller only when the body has been read to its end without a fault (a second file
    // part, a missing closing boundary), so nothing is stored from a body that is refused.
    stream.on('end', () => {
      void body.done.then((error) => {
        if (duplicate) part.destroy(duplicate);
        else if (error) part.destroy(readError(error, field));
        else part.end();
      });
    });
    // Called at once, so the stream is consumed (and backpressure applies) from its first byte.
    outcome = use({ filename: info.filename, stream: part, mimeType: info.mimeType || null });
    outcome.catch(() => undefined); // awaited below; this only keeps an early rejection from being reported as unhandled
    onFile();
  });
  parser.on('field', (name) => {
    if (name === field) sentAsText = true;
  });

  const body = readInto(req, parser, maxBody, () => bodyTooLarge(maxFileBytes));
  await Promise.race([fileStarted, body.done]);
  if (!outcome) {
    const error = await body.done;
    if (error) throw readError(error, field);
    throw missingPart(field, sentAsText);
  }

  const settled = await (outcome as Promise<T>).then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  if (!settled.ok && settled.error instanceof AppError && settled.error.code === 'PAYLOAD_TOO_LARGE') {
    body.stop();
    throw settled.error;
  }
  // The rest of the body (at most maxBody in all) is read before answering, so the connection stays usable.
  const trailing = await body.done;
  if (duplicate) throw duplicate;
  if (!settled.ok) throw settled.error;
  // Only reached when the caller did not wait for the file's end (SKIP of an existing name): nothing was stored.
  if (trailing) throw readError(trailing, field);
  return settled.value;
}

function readError(error: Error, field: string): AppError {
  return error instanceof AppError ? error : badInput(`The multipart body cannot be read: ${error.message}`, field);
}

/**
 * Feeds the request to the parser with backpressure, counting bytes. `done` resolves (never rejects) once the
 * parser has finished, with null, or with the error that stopped it; `stop` stops reading now.
 */
function readInto(req: IncomingMessage, parser: busboy.Busboy, maxBody: number, tooLarge: () => AppError) {
  let received = 0;
  let finish!: (error: Error | null) => void;
  const done = new Promise<Error | null>((resolve) => (finish = resolve));
  let over = false;

  const onData = (chunk: Buffer) => {
    received += chunk.length;
    if (received > maxBody) return fail(tooLarge());
    if (!parser.write(chunk)) req.pause();
  };
  const onDrain = () => req.resume();
  const onEnd = () => parser.end();
  const onAborted = () => fail(new Error('The client closed the connection before the body was complete'));
  const onParserError = (error: Error) => end(error);
  const onParserFinish = () => end(null);

  function detach() {
    req.off('data', onData).off('end', onEnd).off('aborted', onAborted).off('error', onAborted);
    parser.off('drain', onDrain).off('error', onParserError).off('finish', onParserFinish);
    // Errors the parser may still raise (a destroyed file stream's) have no one left to tell.
    parser.on('error', () => undefined);
  }
  function end(error: Error | null) {
    if (over) return;
    over = true;
    detach();
    finish(error);
  }
  /** Stops reading: the parser (and the file stream it feeds) fails with `error`; the request is left to the router. */
  function fail(error: Error) {
    if (over) return;
    end(error);
    parser.destroy(error);
  }

  req.on('data', onData).on('end', onEnd).on('aborted', onAborted).on('error', onAborted);
  parser.on('drain', onDrain).on('error', onParserError).on('finish', onParserFinish);
  return { done, stop: () => fail(tooLarge()) };
}
