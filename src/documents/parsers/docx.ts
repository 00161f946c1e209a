import mammoth from 'mammoth';
import { emptyDocument } from './builder.js';
import { htmlToDocument } from './html.js';
import { checkInflatedSize } from './zip-guard.js';
import { ParseError, type ParseInput, type ParsedDocument } from './types.js';

/** Images carry no text; skipping their data spares mammoth base64-encoding every picture into the HTML. */
const dropImages = mammoth.images.imgElement(async () => ({ src: '' }));

/**
 * Word documents through mammoth, which maps Word's heading styles to <h1>–<h6>, lists and tables to HTML; the HTML
 * parser then gives the text and the heading-path sections. Files the document links to are never read.
 */
export async function parseDocx({ bytes, maxInflatedBytes }: ParseInput): Promise<ParsedDocument> {
  if (maxInflatedBytes !== undefined) await checkInflatedSize(bytes, maxInflatedBytes);
  let html: string;
  try {
    ({ value: html } = await mammoth.convertToHtml(
      { buffer: bytes },
      { convertImage: dropImages, externalFileAccess: false },
    ));
  } catch (error) {
    throw new ParseError(`DOCX is damaged: ${(error as Error).message}`, { cause: error });
  }
  const doc = htmlToDocument(html);
  return doc.sections.length === 0 ? emptyDocument('no text found in the document') : doc;
}
