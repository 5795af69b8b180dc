import { context, propagation, ROOT_CONTEXT, SpanStatusCode, trace, type Attributes, type Context, type Span, type SpanKind } from '@opentelemetry/api';
import { z } from 'zod';

// What domain code uses to trace: only @opentelemetry/api, which is a no-op until start-tracing.ts
// registers the SDK. With tracing off a span costs one small object and no I/O, so batches stay cheap.

/** The W3C trace context of a span, as carried in a job payload from the code that enqueued it. */
export const traceCarrierSchema = z.object({ traceparent: z.string().max(256), tracestate: z.string().max(512).optional() });
export type TraceCarrier = z.infer<typeof traceCarrierSchema>;
/** A job payload's `trace` field: a malformed one is ignored (the job runs, in a trace of its own). */
export const traceField = traceCarrierSchema.optional().catch(undefined);

const TRACER_NAME = 'lading';

/**
 * The active span's context to store in a job payload; undefined when there is none (tracing off,
 * or no span running), so payloads stay as they were.
 */
export function currentTraceCarrier(): TraceCarrier | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  if (!carrier.traceparent) return undefined;
  return carrier.tracestate ? { traceparent: carrier.traceparent, tracestate: carrier.tracestate } : { traceparent: carrier.traceparent };
}

/** The context a job's spans are children of: the enqueuer's span, or none (a new trace). */
export function contextFromCarrier(carrier: TraceCarrier | undefined): Context {
  return carrier ? propagation.extract(ROOT_CONTEXT, carrier) : ROOT_CONTEXT;
}

/** Runs fn with the context of a job payload's carrier as the active one (so its spans are children of it). */
export function withTraceCarrier<T>(carrier: TraceCarrier | undefined, fn: () => T): T {
  return context.with(contextFromCarrier(carrier), fn);
}

/**
 * Runs fn inside a new span, active for everything fn awaits, and ends it when fn settles; a
 * throw is recorded on the span (status error) and rethrown. `parent` defaults to the active context.
 */
export function inSpan<T>(
  name: string,
  options: { kind?: SpanKind; attributes?: Attributes; parent?: Context },
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const tracer = trace.getTracer(TRACER_NAME);
  return tracer.startActiveSpan(name, { kind: options.kind, attributes: options.attributes }, options.parent ?? context.active(), async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      throw error;
    } finally {
      span.end();
    }
  });
}
