import type { OperationOutcome, OperationOutcomeIssue } from 'fhir/r4.js';

export type IssueCode = OperationOutcomeIssue['code'];

export interface Issue {
  code: IssueCode;
  /** Human text (English or Dutch); never patient data. */
  diagnostics: string;
  /** FHIRPath or JSON path of the offending field. */
  expression?: string;
  severity?: OperationOutcomeIssue['severity'];
}

/**
 * An error that leaves the service as an OperationOutcome with this HTTP status. Every refusal in
 * the domain modules throws one of these; the error handler turns it into the response.
 */
export class FhirError extends Error {
  readonly issues: Issue[];
  constructor(
    readonly statusCode: number,
    issues: Issue | Issue[],
    readonly headers: Record<string, string> = {},
  ) {
    const list = Array.isArray(issues) ? issues : [issues];
    super(list.map((issue) => issue.diagnostics).join('; '));
    this.issues = list;
  }
}

export function operationOutcome(issues: Issue[]): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: issues.map((issue) => ({
      severity: issue.severity ?? 'error',
      code: issue.code,
      diagnostics: issue.diagnostics,
      ...(issue.expression ? { expression: [issue.expression] } : {}),
    })),
  };
}

export const badRequest = (diagnostics: string, expression?: string, code: IssueCode = 'invalid') =>
  new FhirError(400, { code, diagnostics, expression });
export const unprocessable = (diagnostics: string, expression?: string, code: IssueCode = 'business-rule') =>
  new FhirError(422, { code, diagnostics, expression });
export const notFound = (what = 'Resource') => new FhirError(404, { code: 'not-found', diagnostics: `${what} not found` });
export const conflict = (diagnostics: string, expression?: string) =>
  new FhirError(409, { code: 'conflict', diagnostics, expression });
export const forbidden = (diagnostics: string) => new FhirError(403, { code: 'forbidden', diagnostics });
export const preconditionFailed = (type: string) =>
  new FhirError(412, { code: 'conflict', diagnostics: `The ${type} has changed since the version in If-Match; read it again` });
