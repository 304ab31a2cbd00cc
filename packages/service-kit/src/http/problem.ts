import { STATUS_CODES } from 'node:http';
import { z } from 'zod';

/**
 * The one error shape, RFC 9457 problem details, for every error answer of every service and of the gateway:
 *
 *   content-type: application/problem+json
 *   {"type":"urn:msa:problem:email-taken","title":"Email taken","status":409,
 *    "detail":"an account with this email already exists","instance":"<the request id>",
 *    "code":"EMAIL_TAKEN","errors":[{"field":"body.email","message":"is already registered"}]}
 *
 * `code` (an extension member) is what programs branch on; `detail` is for people. Field-level problems are the
 * `errors` extension; any other facts an error carries (e.g. `purchase`) are extension members of their own.
 * Written once here: services, the gateway and the OpenAPI document all use it (docs/errors.md).
 */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
/** Every type URI is this prefix and the code in kebab case: stable, and needs no page to resolve. */
export const PROBLEM_TYPE_PREFIX = 'urn:msa:problem:';

export const fieldProblemSchema = z
  .object({
    field: z
      .string()
      .meta({ description: 'Where: body.email, query.limit, params.id, headers.idempotency-key' }),
    message: z.string().meta({ description: 'What is wrong with it, for people' }),
  })
  .meta({ id: 'FieldProblem' });

export const problemSchema = z
  .looseObject({
    type: z.string().meta({
      description: 'The problem type: urn:msa:problem: and the code in kebab case',
      example: 'urn:msa:problem:validation-failed',
    }),
    title: z.string().meta({ description: 'The type in words (the same for every answer of that type)' }),
    status: z.number().int().min(400).max(599).meta({ description: "The answer's HTTP status" }),
    detail: z.string().meta({ description: 'What went wrong this time, for people' }),
    instance: z
      .string()
      .meta({ description: 'The request id (also the x-request-id header): finds the logs' }),
    code: z
      .string()
      .regex(/^[A-Z][A-Z0-9_]*$/)
      .meta({ description: 'The stable code programs branch on', example: 'VALIDATION_FAILED' }),
    errors: z
      .array(fieldProblemSchema)
      .optional()
      .meta({ description: 'VALIDATION_FAILED and a few others: each bad field' }),
  })
  .meta({
    id: 'Problem',
    description:
      'RFC 9457 problem details (application/problem+json). Other members some codes add, e.g. `purchase` on a ' +
      'failed purchase, are listed with the route.',
  });

export type FieldProblem = z.infer<typeof fieldProblemSchema>;
export type Problem = z.infer<typeof problemSchema>;

const RESERVED = new Set(['type', 'title', 'status', 'detail', 'instance', 'code', 'errors']);

/** EMAIL_TAKEN → urn:msa:problem:email-taken */
export function problemType(code: string): string {
  return PROBLEM_TYPE_PREFIX + code.toLowerCase().replace(/_/g, '-');
}

/** EMAIL_TAKEN → "Email taken": the same words for every answer of the type, as RFC 9457 asks of `title`. */
export function problemTitle(code: string, status: number): string {
  const words = code.toLowerCase().replace(/_/g, ' ').trim();
  if (words === '') return STATUS_CODES[status] ?? 'Error';
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export interface ProblemInput {
  status: number;
  code: string;
  detail: string;
  /** The request id. */
  instance: string;
  /**
   * What the error carries besides: an array is field problems (the `errors` member), an object's members become
   * extension members (never overriding the standard ones), anything else is left out.
   */
  details?: unknown;
}

export function problem({ status, code, detail, instance, details }: ProblemInput): Problem {
  const body: Problem = {
    type: problemType(code),
    title: problemTitle(code, status),
    status,
    detail,
    instance,
    code,
  };
  if (Array.isArray(details)) body.errors = details as FieldProblem[];
  else if (details !== null && typeof details === 'object') {
    for (const [key, value] of Object.entries(details)) if (!RESERVED.has(key)) body[key] = value;
  }
  return body;
}
