import { GraphQLError, NoSchemaIntrospectionCustomRule, type ExecutionResult } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';

/**
 * How much of the schema a client can learn by asking: introspection (`__schema`, `__type`; `__typename` stays)
 * and the "Did you mean …?" hints graphql-js adds to validation and variable errors, which name fields, arguments,
 * types and enum values. GRAPHQL_INTROSPECTION and GRAPHQL_SUGGESTIONS switch them.
 */
export function useSchemaDisclosure(options: { introspection: boolean; suggestions: boolean }): Plugin {
  if (options.suggestions) {
    return options.introspection ? {} : { onValidate: ({ addValidationRule }) => addValidationRule(NoSchemaIntrospectionCustomRule) };
  }
  const hideInResult = ({ result, setResult }: { result: unknown; setResult: (r: ExecutionResult) => void }) => {
    const single = result as ExecutionResult;
    if (!isAsyncIterable(result) && single.errors?.length) setResult({ ...single, errors: single.errors.map(withoutSuggestions) });
  };
  return {
    onValidate: ({ addValidationRule }) => {
      if (!options.introspection) addValidationRule(NoSchemaIntrospectionCustomRule);
      return ({ result, setResult }) => {
        if (result.length) setResult(result.map(withoutSuggestions));
      };
    },
    // Variables that do not coerce are reported by execution (or subscribe), with the same hints.
    onExecute: () => ({ onExecuteDone: hideInResult }),
    onSubscribe: () => ({ onSubscribeResult: hideInResult }),
  };
}

/** graphql-js writes every hint as ` Did you mean "a", "b", or "c"?` (or `the enum value "A"?`, `to use an inline fragment on "T"?`). */
const SUGGESTION = /\s*Did you mean\b[^?]*\?/g;

export function withoutSuggestions<E extends Error>(error: E): E | GraphQLError {
  if (!(error instanceof GraphQLError)) return error;
  const message = error.message.replace(SUGGESTION, '');
  if (message === error.message) return error;
  return new GraphQLError(message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions: error.extensions,
  });
}
