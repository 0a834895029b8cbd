import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { reportSchema } from '../../src/feedback/coach-report.js';
import { cancelBody } from '../../src/intake/his/cancel-routes.js';
import { referralSchema } from '../../src/intake/referral.js';
import { ackBody } from '../../src/queue/routes.js';
import { subscriptionSchema } from '../../src/subscriptions/subscription-resource.js';

/**
 * A request body is declared once, in the zod schema the route parses it with; openapi.yaml must
 * say the same. zod's own JSON Schema (input side: defaults make a field optional) is compared with
 * the documented schema field by field.
 */

interface JsonSchema {
  $ref?: string;
  type?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  pattern?: string;
  format?: string;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
}

/** The routes whose body is parsed with each schema (by the name the source uses for it). */
const PARSED_BODIES: Record<string, { schema: z.ZodType; routes: string[] }> = {
  referralSchema: { schema: referralSchema, routes: ['POST /referrals'] },
  cancelBody: { schema: cancelBody, routes: ['POST /referrals/{referralId}/cancel'] },
  ackBody: { schema: ackBody, routes: ['POST /queues/{team}/leases/{leaseId}/ack'] },
  reportSchema: { schema: reportSchema, routes: ['POST /fhir/Communication'] },
  // Parsed through parseSubscription (subscription-resource.ts), which adds the topic rules.
  subscriptionSchema: { schema: subscriptionSchema, routes: ['POST /fhir/Subscription', 'PUT /fhir/Subscription/{id}'] },
};

const document = parseYaml(readFileSync('openapi.yaml', 'utf8')) as {
  paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: JsonSchema }> } }>>;
  components: { schemas: Record<string, JsonSchema> };
};

const resolve = (schema: JsonSchema): JsonSchema => (schema.$ref ? resolve(document.components.schemas[schema.$ref.replace('#/components/schemas/', '')]!) : schema);

/** One value (`const`) is an enum of one. */
const enumOf = (schema: JsonSchema) => (schema.enum ?? (schema.const !== undefined ? [schema.const] : undefined))?.map(String).sort();
const closed = (schema: JsonSchema) => schema.additionalProperties === false;
/** zod writes `/` in a pattern as `\/`; both mean the same expression. */
const expression = (pattern: string) => new RegExp(pattern).source;

/** Where the documented schema says something else than the code: one line per difference, with its path. */
function differences(code: JsonSchema, documentedSchema: JsonSchema, path: string): string[] {
  const documented = resolve(documentedSchema);
  const found: string[] = [];
  const differ = (what: string, inCode: unknown, inDocument: unknown) => {
    if (JSON.stringify(inCode) !== JSON.stringify(inDocument)) found.push(`${path}: ${what} is ${JSON.stringify(inCode)} in the code, ${JSON.stringify(inDocument)} in openapi.yaml`);
  };
  differ('type', code.type, documented.type);
  differ('enum', enumOf(code), enumOf(documented));
  // Lengths and counts bound what a client may send: the code's must be documented.
  for (const limit of ['minLength', 'maxLength', 'minItems', 'maxItems'] as const) {
    if (code[limit] !== undefined || documented[limit] !== undefined) differ(limit, code[limit], documented[limit]);
  }
  // A pattern or format the code has but the document leaves out (a date-time's long expression) is no contradiction.
  if (code.pattern !== undefined && documented.pattern !== undefined) differ('pattern', expression(code.pattern), expression(documented.pattern));
  if (code.format !== undefined && documented.format !== undefined) differ('format', code.format, documented.format);
  if (code.default !== undefined && documented.default !== undefined) differ('default', code.default, documented.default);
  if (code.type === 'object') {
    differ('property names', Object.keys(code.properties ?? {}).sort(), Object.keys(documented.properties ?? {}).sort());
    differ('required', [...(code.required ?? [])].sort(), [...(documented.required ?? [])].sort());
    differ('closed to unknown fields', closed(code), closed(documented));
    for (const [name, property] of Object.entries(code.properties ?? {})) {
      const counterpart = documented.properties?.[name];
      if (counterpart) found.push(...differences(property, counterpart, `${path}.${name}`));
    }
  }
  if (code.type === 'array' && code.items && documented.items) found.push(...differences(code.items, documented.items, `${path}[]`));
  return found;
}

const cases = Object.entries(PARSED_BODIES).flatMap(([name, { schema, routes }]) => routes.map((route) => ({ name, schema, route })));

describe.each(cases)('$route: the body openapi.yaml documents', ({ name, schema, route }) => {
  const [method, path] = route.split(' ') as [string, string];
  const content = document.paths[path]?.[method.toLowerCase()]?.requestBody?.content ?? {};

  test(`is documented for each media type it is sent with`, () => {
    expect(Object.keys(content).length).toBeGreaterThan(0);
  });

  test.each(Object.keys(content))(`as %s, is the zod schema ${name}: the same fields, required fields, enums, types and limits`, (mediaType) => {
    const code = z.toJSONSchema(schema, { io: 'input' }) as JsonSchema;
    expect(differences(code, content[mediaType]!.schema, 'body')).toEqual([]);
  });
});

test('every route that parses its body with parseOrThrow is in the comparison above', () => {
  const files = (folder: string): string[] =>
    readdirSync(folder, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? files(join(folder, entry.name)) : [join(folder, entry.name)]));
  const parsedBodies = files('src')
    .filter((file) => file.endsWith('.ts'))
    .flatMap((file) => [...readFileSync(file, 'utf8').matchAll(/parseOrThrow\((\w+), request\.body/g)].map((match) => `${file}: ${match[1]}`));
  expect(parsedBodies.length).toBeGreaterThan(0);
  expect(parsedBodies.filter((found) => !(found.split(': ')[1]! in PARSED_BODIES))).toEqual([]);
});
