import { GraphQLError, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { createCounter, createHistogram, usePrometheus } from '@graphql-yoga/plugin-prometheus';
import { AppError, fromPrismaError } from './errors.js';
import { BoundedLabel, type Metrics } from './metrics.js';

/**
 * GraphQL operation metrics through yoga's Prometheus plugin, on the process's registry: operations by name, type and
 * outcome (`ok` or `error`) with latency histograms (whole operation, and the parse, validate, execute and subscribe
 * phases), and errors by phase and `extensions.code`. Per operation only: the per-resolver histogram stays off, so a
 * large selection costs no more to measure than a small one. The plugin's own `/metrics` endpoint is off (served by
 * core/observability.ts) and so is its HTTP histogram (quarry_http_request_duration_seconds covers every route).
 */
export function useGraphQLMetrics(metrics: Metrics): Plugin {
  const registry = metrics.registry;
  const names = new BoundedLabel();
  const outcomes = new WeakMap<object, 'ok' | 'error'>();
  const operation = (params: { operationName?: string; operationType?: string }) => ({
    operationName: names.value(params.operationName),
    operationType: params.operationType ?? 'unknown',
  });
  const withOutcome = (params: { operationName?: string; operationType?: string }, context: object) => ({
    ...operation(params),
    outcome: outcomes.get(context) ?? 'ok',
  });
  const opLabels = ['operationName', 'operationType', 'outcome'] as const;

  // Runs before the Prometheus plugin's own onExecuteDone, which reads the outcome recorded here.
  const recordOutcome: Plugin = {
    onExecute: ({ args }) => ({
      onExecuteDone: ({ result }) => {
        if (isResult(result) && result.errors?.length) outcomes.set(args.contextValue as object, 'error');
      },
    }),
  };
  const prometheus = usePrometheus({
    registry,
    endpoint: false,
    metrics: {
      graphql_envelop_request: createCounter({
        registry,
        counter: { name: 'graphql_envelop_request', help: 'GraphQL operations by name, type and outcome', labelNames: opLabels },
        fillLabelsFn: withOutcome,
      }),
      graphql_envelop_request_duration: createHistogram({
        registry,
        histogram: { name: 'graphql_envelop_request_duration', help: 'GraphQL operation latency by name, type and outcome, in seconds', labelNames: opLabels },
        fillLabelsFn: withOutcome,
      }),
      graphql_envelop_error_result: createCounter({
        registry,
        counter: {
          name: 'graphql_envelop_error_result',
          help: 'GraphQL errors by operation, phase and extensions.code',
          labelNames: ['operationName', 'operationType', 'phase', 'code'],
        },
        fillLabelsFn: (params, _context) => ({ ...operation(params), phase: params.errorPhase ?? 'execute', code: errorCode(params.error, params.errorPhase) }),
      }),
      graphql_envelop_phase_parse: true,
      graphql_envelop_phase_validate: true,
      graphql_envelop_phase_execute: true,
      graphql_envelop_phase_subscribe: true,
      graphql_envelop_phase_context: false,
      graphql_envelop_request_time_summary: false,
      graphql_envelop_deprecated_field: false,
      graphql_envelop_schema_change: false,
      graphql_envelop_execute_resolver: false,
      graphql_yoga_http_duration: false,
    },
    labels: { phase: true, operationName: true, operationType: true },
  });
  return {
    onPluginInit({ addPlugin }) {
      addPlugin(recordOutcome);
      addPlugin(prometheus);
    },
  };
}

const isResult = (value: unknown): value is ExecutionResult => !!value && typeof value === 'object' && !(Symbol.asyncIterator in value);

/**
 * The code a client sees for an error (as app.ts's maskError decides it): a domain error's code, graphql-js's own
 * errors (syntax, validation, variables) are BAD_USER_INPUT, anything else INTERNAL.
 */
export function errorCode(error: unknown, phase?: string): string {
  if (phase === 'parse' || phase === 'validate') return 'BAD_USER_INPUT';
  if (!(error instanceof GraphQLError)) return error instanceof AppError ? error.code : 'INTERNAL';
  const code = error.extensions?.code;
  if (typeof code === 'string') return code;
  const original = error.originalError;
  if (!original) return 'BAD_USER_INPUT';
  if (original instanceof AppError) return original.code;
  if (original instanceof GraphQLError) return errorCode(original);
  if (original.name === 'PothosValidationError') return 'BAD_USER_INPUT';
  return fromPrismaError(original)?.code ?? 'INTERNAL';
}
