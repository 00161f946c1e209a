import { z } from 'zod';

/**
 * Documentation metadata of the shim's schemas (ids of named components, descriptions, formats, examples), kept
 * in a registry of its own rather than zod's global one so nothing else in the process can collide with it.
 * The OpenAPI generator reads it; validation does not.
 */
export interface DocMeta {
  /** Makes the schema a named component (`#/components/schemas/<id>`). */
  id?: string;
  description?: string;
  format?: string;
  examples?: unknown[];
  deprecated?: boolean;
}

export const docs = z.registry<DocMeta>();

export function doc<T extends z.ZodType>(schema: T, meta: DocMeta): T {
  docs.add(schema, meta);
  return schema;
}

/** A named component. */
export const named = <T extends z.ZodType>(id: string, schema: T, description?: string): T => doc(schema, { id, description });
