/** GraphQL multipart requests (https://github.com/jaydenseric/graphql-multipart-request-spec) over real HTTP. */

export interface UploadPart {
  name: string;
  content: string | Uint8Array;
  type?: string;
}

export interface MultipartResult {
  status: number;
  data?: any;
  errors?: { message: string; extensions?: Record<string, any>; path?: (string | number)[] }[];
}

/** Sends `query` with `files` bound to the variables at `paths` (e.g. `variables.input.file`). */
export async function multipart(
  url: string,
  key: string | null,
  query: string,
  variables: Record<string, unknown>,
  files: { path: string; part: UploadPart }[],
): Promise<MultipartResult> {
  const form = new FormData();
  form.append('operations', JSON.stringify({ query, variables }));
  form.append('map', JSON.stringify(Object.fromEntries(files.map((f, i) => [String(i), [f.path]]))));
  files.forEach((f, i) => {
    const bytes = typeof f.part.content === 'string' ? new TextEncoder().encode(f.part.content) : f.part.content;
    form.append(String(i), new Blob([bytes as BlobPart], { type: f.part.type ?? 'application/octet-stream' }), f.part.name);
  });
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: key ? { authorization: `Bearer ${key}` } : {},
    body: form,
  });
  const text = await response.text();
  try {
    return { status: response.status, ...JSON.parse(text) };
  } catch {
    throw new Error(`Not JSON (${response.status}): ${text.slice(0, 300)}`);
  }
}

export const UPLOAD_FILE = `mutation($input: UploadFileInput!) {
  uploadFile(input: $input) {
    outcome name
    file { id fileName originalFileName processingStatus mediaType sizeBytes }
    job { id status }
    error { code message }
  }
}`;

/** Uploads one file; returns the mutation's result. */
export function uploadOne(
  url: string,
  key: string,
  sourceId: string,
  part: UploadPart,
  options: { name?: string; duplicateHandling?: 'SUFFIX' | 'REPLACE' | 'SKIP' | 'ERROR'; callbackUrl?: string } = {},
): Promise<MultipartResult> {
  return multipart(url, key, UPLOAD_FILE, { input: { sourceId, file: null, ...options } }, [{ path: 'variables.input.file', part }]);
}
