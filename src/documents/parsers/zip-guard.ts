import JSZip from 'jszip';
import { ParseError } from './types.js';

/**
 * Decompression limits for ZIP-based documents (DOCX), checked before a parser inflates anything: the archive's
 * declared sizes first (free), then each entry really inflated as a stream and counted, since declared sizes can
 * lie. Stops at `maxBytes` inflated in total, so a small file that unpacks to gigabytes costs at most that much
 * work and no memory beyond one buffer.
 */
export class InflateLimitExceeded extends Error {
  override readonly name = 'InflateLimitExceeded';
}

export async function checkInflatedSize(bytes: Uint8Array, maxBytes: number): Promise<void> {
  let zip: JSZip;
  try {
    zip = await JSZip.loadAsync(bytes, { checkCRC32: false });
  } catch (error) {
    throw new ParseError(`The document is not a readable ZIP archive: ${(error as Error).message}`, { cause: error });
  }
  const entries = Object.values(zip.files).filter((entry) => !entry.dir);
  let declared = 0;
  for (const entry of entries) declared += (entry as unknown as { _data?: { uncompressedSize?: number } })._data?.uncompressedSize ?? 0;
  if (declared > maxBytes) throw new InflateLimitExceeded();
  let inflated = 0;
  for (const entry of entries) {
    await new Promise<void>((resolve, reject) => {
      const stream = entry.nodeStream('nodebuffer');
      stream.on('data', (chunk: Buffer) => {
        inflated += chunk.length;
        if (inflated > maxBytes) {
          // JSZip's stream has no destroy(): pausing it and dropping it stops the inflation.
          stream.pause();
          stream.removeAllListeners();
          reject(new InflateLimitExceeded());
        }
      });
      stream.on('error', (error: Error) => reject(new ParseError(`The document is damaged: ${error.message}`, { cause: error })));
      stream.on('end', () => resolve());
    });
  }
}
