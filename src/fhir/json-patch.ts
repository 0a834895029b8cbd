import { canonicalJson } from '../canonical-json.js';
import { FhirError } from './operation-outcome.js';

/**
 * JSON Patch (RFC 6902) for FHIR PATCH, safe by construction: it works on a plain-data copy, follows
 * own properties only and refuses `__proto__`, `constructor` and `prototype` anywhere in a pointer,
 * so no operation can reach a built-in. The whole patch applies or nothing does. Pure.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface PatchLimits {
  maxOperations: number;
  /** The patched document, serialized, must stay shorter than this (the request body limit). */
  maxLength: number;
}

export const MAX_PATCH_OPERATIONS = 100;

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const ARRAY_INDEX = /^(0|[1-9][0-9]*)$/;

type Op = 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
const OPS = new Set<string>(['add', 'remove', 'replace', 'move', 'copy', 'test']);

interface Operation {
  op: Op;
  path: string[];
  from?: string[];
  /** Serialized once: the copy inserted is fresh plain data, and its size is known. */
  value?: string;
  index: number;
}

const malformed = (expression: string, diagnostics: string, code: 'invalid' | 'too-costly' = 'invalid') =>
  new FhirError(400, { code, expression, diagnostics: `JSON Patch operation ${expression.split('/')[1]}: ${diagnostics}` });
const notApplicable = (expression: string, diagnostics: string, code: 'conflict' | 'too-costly' = 'conflict') =>
  new FhirError(422, { code, expression, diagnostics: `JSON Patch operation ${expression.split('/')[1]}: ${diagnostics}` });

/** JSON.stringify overflows the stack on very deep nesting; that is the client's document, not our fault. */
function serialize(value: unknown, expression: string, canonical = false): string {
  try {
    return canonical ? canonicalJson(value) : JSON.stringify(value);
  } catch (error) {
    if (error instanceof RangeError) throw malformed(expression, 'the value is nested too deeply', 'too-costly');
    throw error;
  }
}

function parsePointer(pointer: unknown, expression: string): string[] {
  if (typeof pointer !== 'string') throw malformed(expression, 'must be a JSON Pointer (a string)');
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw malformed(expression, 'a JSON Pointer starts with /');
  return pointer
    .slice(1)
    .split('/')
    .map((segment) => {
      if (/~(?![01])/.test(segment)) throw malformed(expression, 'in a JSON Pointer ~ is followed by 0 or 1');
      const key = segment.replace(/~1/g, '/').replace(/~0/g, '~');
      if (FORBIDDEN_KEYS.has(key)) throw malformed(expression, 'may not name __proto__, constructor or prototype');
      return key;
    });
}

function parseOperation(raw: unknown, index: number): Operation {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw malformed(`/${index}`, 'is not an object');
  const fields = raw as Record<string, unknown>;
  const op = Object.hasOwn(fields, 'op') ? fields.op : undefined;
  if (typeof op !== 'string' || !OPS.has(op)) throw malformed(`/${index}/op`, 'op must be add, remove, replace, move, copy or test');
  const operation: Operation = { op: op as Op, path: parsePointer(Object.hasOwn(fields, 'path') ? fields.path : undefined, `/${index}/path`), index };
  if (op === 'move' || op === 'copy') operation.from = parsePointer(Object.hasOwn(fields, 'from') ? fields.from : undefined, `/${index}/from`);
  if (op === 'add' || op === 'replace' || op === 'test') {
    if (!Object.hasOwn(fields, 'value')) throw malformed(`/${index}/value`, `${op} needs a value`);
    operation.value = serialize(fields.value, `/${index}/value`);
  }
  return operation;
}

/** The value at a pointer, through own properties and in-range indices only; undefined if none. */
function lookup(document: Json, path: readonly string[]): Json | undefined {
  let node: Json | undefined = document;
  for (const key of path) {
    if (Array.isArray(node)) node = ARRAY_INDEX.test(key) ? node[Number(key)] : undefined;
    else if (node !== null && typeof node === 'object') node = Object.hasOwn(node, key) ? node[key] : undefined;
    else return undefined;
    if (node === undefined) return undefined;
  }
  return node;
}

function existing(document: Json, path: readonly string[], expression: string): Json {
  const value = lookup(document, path);
  if (value === undefined) throw notApplicable(expression, 'the pointer names nothing in the document');
  return value;
}

/** The object or array holding the last segment of a (non-empty) path. */
function parentOf(document: Json, path: readonly string[], expression: string): Json[] | { [key: string]: Json } {
  const parent = existing(document, path.slice(0, -1), expression);
  if (parent === null || typeof parent !== 'object') throw notApplicable(expression, 'the pointer runs through a value that is not an object or array');
  return parent;
}

function elementIndex(array: Json[], key: string, expression: string, allowEnd: boolean): number {
  if (allowEnd && key === '-') return array.length;
  if (!ARRAY_INDEX.test(key)) throw notApplicable(expression, 'an array index is 0, 1, 2, … without leading zeros');
  const index = Number(key);
  if (index > array.length || (index === array.length && !allowEnd)) throw notApplicable(expression, 'the array index is out of range');
  return index;
}

function add(document: Json, path: readonly string[], value: Json, expression: string): Json {
  if (path.length === 0) return value;
  const parent = parentOf(document, path, expression);
  const key = path.at(-1)!;
  if (Array.isArray(parent)) parent.splice(elementIndex(parent, key, expression, true), 0, value);
  else parent[key] = value;
  return document;
}

function remove(document: Json, path: readonly string[], expression: string): Json {
  if (path.length === 0) throw notApplicable(expression, 'the whole document cannot be removed');
  const parent = parentOf(document, path, expression);
  const key = path.at(-1)!;
  if (Array.isArray(parent)) return parent.splice(elementIndex(parent, key, expression, false), 1)[0]!;
  const value = existing(parent, [key], expression);
  delete parent[key];
  return value;
}

const isProperPrefix = (prefix: readonly string[], path: readonly string[]) =>
  prefix.length < path.length && prefix.every((key, index) => key === path[index]);

/**
 * Applies a JSON Patch to a copy of the document and returns the copy. A malformed patch is a 400,
 * one that does not apply (missing target, failing test, result too large) a 422; either names the
 * operation in `issue.expression` (`/2/path`).
 */
export function applyJsonPatch(document: unknown, patch: unknown, limits: PatchLimits): Json {
  if (!Array.isArray(patch)) throw new FhirError(400, { code: 'structure', diagnostics: 'A JSON Patch is an array of operations' });
  if (patch.length > limits.maxOperations) {
    throw malformed(`/${limits.maxOperations}`, `a JSON Patch holds at most ${limits.maxOperations} operations`, 'too-costly');
  }
  const operations = patch.map(parseOperation);
  let result = JSON.parse(JSON.stringify(document)) as Json;
  for (const { op, path, from, value, index } of operations) {
    const at = `/${index}/path`;
    switch (op) {
      case 'add':
        result = add(result, path, JSON.parse(value!) as Json, at);
        break;
      case 'remove':
        remove(result, path, at);
        break;
      case 'replace':
        existing(result, path, at);
        if (path.length > 0) remove(result, path, at);
        result = add(result, path, JSON.parse(value!) as Json, at);
        break;
      case 'move':
        if (isProperPrefix(from!, path)) throw notApplicable(`/${index}/from`, 'a value cannot move into itself');
        result = add(result, path, remove(result, from!, `/${index}/from`), at);
        break;
      case 'copy':
        result = add(result, path, JSON.parse(serialize(existing(result, from!, `/${index}/from`), `/${index}/from`)) as Json, at);
        break;
      case 'test':
        if (serialize(existing(result, path, at), at, true) !== serialize(JSON.parse(value!), `/${index}/value`, true)) {
          throw notApplicable(`/${index}/value`, 'the test failed: the value differs');
        }
        break;
    }
    if (op !== 'test' && op !== 'remove' && serialize(result, `/${index}`).length >= limits.maxLength) {
      throw notApplicable(`/${index}`, 'the patched document would be larger than the service accepts', 'too-costly');
    }
  }
  return result;
}
