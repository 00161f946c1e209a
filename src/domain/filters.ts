/**
 * A case-insensitive substring filter. Prisma passes `contains` to ILIKE unescaped, so `_` and `%` in the
 * user's text would act as wildcards; they are meant literally.
 */
export function containsInsensitive(text: string) {
  return { contains: text.replace(/[\\%_]/g, '\\$&'), mode: 'insensitive' as const };
}
