import type { z } from 'zod';
import { FhirError, type Issue } from './operation-outcome.js';

/** JSON path of a zod issue, as contract §2 asks for `issue.expression`. */
function pathOf(path: PropertyKey[]): string {
  return path.reduce<string>(
    (text, segment) => (typeof segment === 'number' ? `${text}[${segment}]` : text ? `${text}.${String(segment)}` : String(segment)),
    '',
  );
}

function valueAt(input: unknown, path: PropertyKey[]): unknown {
  return path.reduce<unknown>((node, key) => (node && typeof node === 'object' ? (node as Record<PropertyKey, unknown>)[key] : undefined), input);
}

function toIssues(error: z.ZodError, input: unknown, root: string | undefined): Issue[] {
  return error.issues.flatMap((issue): Issue[] => {
    const expression = pathOf(root ? [root, ...issue.path] : issue.path);
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({
        code: 'structure',
        expression: expression ? `${expression}.${key}` : key,
        diagnostics: `${expression ? `${expression}.${key}` : key} is not a known field`,
      }));
    }
    if (issue.path.length > 0 && valueAt(input, issue.path) === undefined) {
      return [{ code: 'required', expression, diagnostics: `${expression || 'body'} is required` }];
    }
    const message = issue.message.replace(/^Invalid input: /, '');
    return [{ code: issue.code === 'invalid_type' ? 'structure' : 'value', expression: expression || undefined, diagnostics: `${expression || 'body'}: ${message}` }];
  });
}

/**
 * Parses input with a zod schema; a 400 OperationOutcome names every offending field, as a path
 * under `root` (e.g. `Task`) when given.
 */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, root?: string): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw new FhirError(400, toIssues(result.error, input, root));
  return result.data;
}
