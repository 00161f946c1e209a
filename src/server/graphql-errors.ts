import { PothosValidationError } from '@pothos/core';
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { AppError, badInput, fromPrismaError } from '../core/errors.js';

/**
 * What a GraphQL client sees of an error: every error carries `extensions.code`, internal details never leak.
 * `maskError` is yoga's error masking (`maskedErrors.maskError`: yoga also applies it to request-level errors,
 * outside any plugin hook); `useBadInputCodes` the plugin that gives validation errors their code.
 */
export function maskError(error: unknown, message: string): Error {
  const original = error instanceof GraphQLError ? (error.originalError ?? error) : error;
  if (original instanceof GraphQLError && original.extensions?.code) return original;
  const known =
    original instanceof AppError ? original : original instanceof PothosValidationError ? badInput(original.message) : fromPrismaError(original);
  if (known) return toGraphQLError(known, error instanceof GraphQLError ? error : undefined);
  if (error instanceof GraphQLError && !error.path) {
    // Request-level errors raised before any resolver ran: variables that do not coerce.
    return new GraphQLError(error.message, { nodes: error.nodes, extensions: { ...error.extensions, code: 'BAD_USER_INPUT' } });
  }
  if (error instanceof GraphQLError && !error.originalError) return error;
  // Logged by yoga's logger (yogaLogger), which gets every error this function replaces.
  return new GraphQLError(message, {
    nodes: error instanceof GraphQLError ? error.nodes : undefined,
    source: error instanceof GraphQLError ? error.source : undefined,
    positions: error instanceof GraphQLError ? error.positions : undefined,
    path: error instanceof GraphQLError ? error.path : undefined,
    extensions: { code: 'INTERNAL' },
  });
}

/**
 * A query that does not validate (unknown field, unknown enum value…) is the client's mistake: BAD_USER_INPUT,
 * so every error a client sees carries a code. (Variables that do not coerce are handled in maskError.)
 */
export function useBadInputCodes(): Plugin {
  const withCode = (e: GraphQLError) =>
    e.extensions?.code
      ? e
      : new GraphQLError(e.message, {
          nodes: e.nodes,
          source: e.source,
          positions: e.positions,
          path: e.path,
          originalError: e.originalError,
          extensions: { ...e.extensions, code: 'BAD_USER_INPUT' },
        });
  return {
    onValidate: () => ({ result, setResult }) => {
      if (result.length) setResult(result.map((e) => (e instanceof GraphQLError ? withCode(e) : e)));
    },
  };
}

export function toGraphQLError(error: AppError, from?: GraphQLError): GraphQLError {
  return new GraphQLError(error.message, {
    nodes: from?.nodes,
    // Errors of compiled queries have no AST nodes, only a source and positions (core/graphql-jit.ts).
    source: from?.source,
    positions: from?.positions,
    path: from?.path,
    originalError: error,
    extensions: { code: error.code, ...error.details, ...(error.code === 'UNAUTHENTICATED' ? { http: { status: 401 } } : {}) },
  });
}
