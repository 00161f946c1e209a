import { z } from 'zod';
import { doc, named } from '../registry.js';

/**
 * Letta's JSON, one file per domain (sources.ts, tools.ts, …: each domain's zod schemas and serializers together);
 * this one holds what they share. Responses are snake_case, with lowercase enum values, ISO-8601 UTC times and
 * nullable fields always present; request bodies Letta declares with `extra="forbid"` are strict here too (an
 * unknown field is a 422), the ones Letta lets through (ToolUpdate, CreateAgent, EmbeddingConfig) ignore extras.
 */

export const DateTime = doc(z.string(), { format: 'date-time', description: 'ISO-8601, UTC, e.g. 2025-07-24T18:03:11.123Z.' });
export const JsonObject = z.record(z.string(), z.unknown());
export const nullable = <T extends z.ZodType>(schema: T) => schema.nullable();
/** An optional request field that may also be null (null means "leave as is"). */
export const opt = <T extends z.ZodType>(schema: T) => schema.nullable().optional();

export const Count = doc(z.number().int().min(0), { description: 'A count.' });
export const Null = doc(z.null(), { description: 'Always `null` (Letta answers deletes this way).' });
export const IdList = z.array(z.string());
export const NameList = doc(z.array(z.string()), { description: 'File names.' });
export const MessageResult = z.object({ message: z.string() });
export const Health = named('Health', z.object({ version: z.string(), status: z.literal('ok') }), 'Letta’s health answer; `version` is Quarry’s.');
export const ErrorDetail = named('NotImplemented', z.object({ detail: z.string() }), 'Why Quarry does not serve this Letta route.');

export type Out<T extends z.ZodType> = z.output<T>;

export const iso = (date: Date | null | undefined): string | null => (date ? date.toISOString() : null);
export const isoAt = (date: Date): string => date.toISOString();
export const object = (value: unknown): Record<string, unknown> | null =>
  value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
export const bigintNumber = (value: bigint | null): number | null => (value === null ? null : Number(value));
