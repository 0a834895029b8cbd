import { describe, expect, test } from '@jest/globals';
import { applyJsonPatch } from '../../src/fhir/json-patch.js';
import { FhirError } from '../../src/fhir/operation-outcome.js';
import { DANGEROUS_CASES, ESCAPED_POINTERS, expectBuiltinsUntouched, ISSUE_15_EXPLOIT, operationOn, PATCH_OPERATIONS } from '../support/security-probes.js';

const LIMITS = { maxOperations: 100, maxLength: 10_000 };
const apply = (document: unknown, patch: unknown, limits = LIMITS) => applyJsonPatch(document, patch, limits);

/** The refusal a patch gets: status, issue code and expression. */
function refusal(document: unknown, patch: unknown, limits = LIMITS) {
  try {
    apply(document, patch, limits);
  } catch (error) {
    if (!(error instanceof FhirError)) throw error;
    return { status: error.statusCode, code: error.issues[0]!.code, expression: error.issues[0]!.expression };
  }
  throw new Error('the patch applied');
}

describe('the six RFC 6902 operations', () => {
  test('add puts a member, inserts into an array at an index, appends with -, and replaces the whole document at ""', () => {
    expect(apply({ foo: 'bar' }, [{ op: 'add', path: '/baz', value: 'qux' }])).toEqual({ foo: 'bar', baz: 'qux' });
    expect(apply({ foo: ['bar', 'baz'] }, [{ op: 'add', path: '/foo/1', value: 'qux' }])).toEqual({ foo: ['bar', 'qux', 'baz'] });
    expect(apply({ foo: ['bar'] }, [{ op: 'add', path: '/foo/1', value: 'end' }, { op: 'add', path: '/foo/-', value: ['x'] }])).toEqual({ foo: ['bar', 'end', ['x']] });
    expect(apply({ foo: 1 }, [{ op: 'add', path: '', value: { bar: 2 } }])).toEqual({ bar: 2 });
  });

  test('remove takes out a member or an array element', () => {
    expect(apply({ baz: 'qux', foo: 'bar' }, [{ op: 'remove', path: '/baz' }])).toEqual({ foo: 'bar' });
    expect(apply({ foo: ['bar', 'qux', 'baz'] }, [{ op: 'remove', path: '/foo/1' }])).toEqual({ foo: ['bar', 'baz'] });
  });

  test('replace changes a value that exists, including null and an array element', () => {
    expect(apply({ baz: 'qux', foo: 'bar' }, [{ op: 'replace', path: '/baz', value: 'boo' }])).toEqual({ baz: 'boo', foo: 'bar' });
    expect(apply({ a: null }, [{ op: 'replace', path: '/a', value: 1 }])).toEqual({ a: 1 });
    expect(apply({ a: [1, 2, 3] }, [{ op: 'replace', path: '/a/1', value: 9 }])).toEqual({ a: [1, 9, 3] });
  });

  test('move removes the source and adds it at the target, within and across arrays', () => {
    expect(apply({ foo: { bar: 'baz', waldo: 'fred' }, qux: { corge: 'grault' } }, [{ op: 'move', from: '/foo/waldo', path: '/qux/thud' }])).toEqual({
      foo: { bar: 'baz' },
      qux: { corge: 'grault', thud: 'fred' },
    });
    expect(apply({ foo: ['all', 'grass', 'cows', 'eat'] }, [{ op: 'move', from: '/foo/1', path: '/foo/3' }])).toEqual({ foo: ['all', 'cows', 'eat', 'grass'] });
  });

  test('copy adds an independent copy of the source', () => {
    const patched = apply({ a: { b: [1] } }, [{ op: 'copy', from: '/a', path: '/c' }, { op: 'add', path: '/c/b/-', value: 2 }]);
    expect(patched).toEqual({ a: { b: [1] }, c: { b: [1, 2] } });
  });

  test('test compares deeply: member order does not matter, array order and types do', () => {
    const document = { a: { x: 1, y: [1, 'two', null] } };
    expect(apply(document, [{ op: 'test', path: '/a', value: { y: [1, 'two', null], x: 1 } }])).toEqual(document);
    expect(refusal(document, [{ op: 'test', path: '/a/y', value: ['two', 1, null] }])).toEqual({ status: 422, code: 'conflict', expression: '/0/value' });
    expect(refusal(document, [{ op: 'test', path: '/a/x', value: '1' }])).toEqual({ status: 422, code: 'conflict', expression: '/0/value' });
  });

  test('~1 and ~0 in a pointer stand for / and ~ within one key', () => {
    expect(apply({ 'a/b': 1, 'm~n': 2 }, [{ op: 'test', path: '/a~1b', value: 1 }, { op: 'copy', from: '/m~0n', path: '/c~01' }])).toEqual({ 'a/b': 1, 'm~n': 2, 'c~1': 2 });
  });
});

describe('a patch that does not apply changes nothing and names the operation', () => {
  test('a missing target, a missing parent or an index out of range is a 422 naming the pointer', () => {
    const document = { a: [1, 2], b: 'text' };
    expect(refusal(document, [{ op: 'remove', path: '/nope' }])).toEqual({ status: 422, code: 'conflict', expression: '/0/path' });
    expect(refusal(document, [{ op: 'add', path: '/x/y', value: 1 }])).toEqual({ status: 422, code: 'conflict', expression: '/0/path' });
    expect(refusal(document, [{ op: 'add', path: '/a/3', value: 1 }])).toEqual({ status: 422, code: 'conflict', expression: '/0/path' });
    expect(refusal(document, [{ op: 'replace', path: '/a/2', value: 1 }])).toEqual({ status: 422, code: 'conflict', expression: '/0/path' });
    expect(refusal(document, [{ op: 'add', path: '/b/0', value: 1 }])).toEqual({ status: 422, code: 'conflict', expression: '/0/path' });
    expect(refusal(document, [{ op: 'copy', from: '/a/5', path: '/c' }])).toEqual({ status: 422, code: 'conflict', expression: '/0/from' });
    expect(refusal(document, [{ op: 'move', from: '/a', path: '/a/0' }])).toEqual({ status: 422, code: 'conflict', expression: '/0/from' });
    expect(refusal(document, [{ op: 'remove', path: '' }])).toEqual({ status: 422, code: 'conflict', expression: '/0/path' });
  });

  test('array indices are digits without leading zeros; - only where something is added', () => {
    const document = { a: [1, 2] };
    for (const index of ['01', '-1', '1e0', ' 1', '1.0', '0x1', 'length']) {
      expect(refusal(document, [{ op: 'replace', path: `/a/${index}`, value: 0 }])).toMatchObject({ status: 422, expression: '/0/path' });
    }
    expect(refusal(document, [{ op: 'remove', path: '/a/-' }])).toMatchObject({ status: 422, expression: '/0/path' });
  });

  test('inherited members are not members: toString, hasOwnProperty and valueOf name nothing', () => {
    for (const key of ['toString', 'hasOwnProperty', 'valueOf', '__defineGetter__']) {
      expect(refusal({ a: {} }, [{ op: 'copy', from: `/a/${key}`, path: '/b' }])).toMatchObject({ status: 422, expression: '/0/from' });
    }
    expect(apply({ a: {} }, [{ op: 'add', path: '/a/toString', value: 'plain data' }])).toEqual({ a: { toString: 'plain data' } });
  });

  test('the patch is atomic: a failure in the third operation leaves the input as it was', () => {
    const document = { a: [1], b: { c: 1 } };
    expect(refusal(document, [{ op: 'add', path: '/a/-', value: 2 }, { op: 'remove', path: '/b/c' }, { op: 'test', path: '/a/0', value: 9 }])).toMatchObject({ expression: '/2/value' });
    expect(document).toEqual({ a: [1], b: { c: 1 } });
  });

  test('a malformed operation is a 400 naming the offending member', () => {
    expect(refusal({}, { op: 'add' })).toMatchObject({ status: 400, code: 'structure' });
    expect(refusal({}, [null])).toEqual({ status: 400, code: 'invalid', expression: '/0' });
    expect(refusal({}, [{ op: 'test', path: '', value: {} }, { op: 'jump', path: '/a' }])).toEqual({ status: 400, code: 'invalid', expression: '/1/op' });
    expect(refusal({}, [{ op: 'add', path: 'a', value: 1 }])).toEqual({ status: 400, code: 'invalid', expression: '/0/path' });
    expect(refusal({}, [{ op: 'add', path: '/a' }])).toEqual({ status: 400, code: 'invalid', expression: '/0/value' });
    expect(refusal({}, [{ op: 'copy', path: '/a' }])).toEqual({ status: 400, code: 'invalid', expression: '/0/from' });
    expect(refusal({}, [{ op: 'remove', path: '/a~2' }])).toEqual({ status: 400, code: 'invalid', expression: '/0/path' });
    expect(refusal({}, [{ op: 'remove', path: '/a~' }])).toEqual({ status: 400, code: 'invalid', expression: '/0/path' });
    expect(refusal({}, [{ op: 'remove', path: 7 }])).toEqual({ status: 400, code: 'invalid', expression: '/0/path' });
  });
});

describe('the cost of a patch is capped', () => {
  test('more than the maximum number of operations is refused before any applies', () => {
    const patch = Array.from({ length: 101 }, () => ({ op: 'test', path: '', value: {} }));
    expect(refusal({}, patch)).toEqual({ status: 400, code: 'too-costly', expression: '/100' });
    expect(apply({}, patch.slice(1))).toEqual({});
  });

  test('copies that double the document stop at the operation that crosses the size limit', () => {
    const doubling = [{ op: 'add', path: '/x', value: ['a'.repeat(100)] }, ...Array.from({ length: 40 }, () => ({ op: 'copy', from: '/x', path: '/x/-' }))];
    const started = Date.now();
    const result = refusal({}, doubling);
    expect(Date.now() - started).toBeLessThan(500);
    expect(result).toEqual({ status: 422, code: 'too-costly', expression: '/7' });
  });

  test('a value nested too deeply to serialize is refused, not a crash', () => {
    const deep = JSON.parse(`${'['.repeat(200_000)}${']'.repeat(200_000)}`);
    expect(refusal({}, [{ op: 'add', path: '/x', value: deep }], { maxOperations: 100, maxLength: 1e7 })).toMatchObject({ status: 400, code: 'too-costly', expression: '/0/value' });
  });
});

const TASK = { resourceType: 'Task', status: 'accepted', basedOn: [{ reference: 'ServiceRequest/1' }], x: {} };

describe('prototype paths are refused in every operation, in path and in from', () => {
  test.each(DANGEROUS_CASES)('%s with %s %s is a 400 and touches no built-in', (op, role, pointer) => {
    expect(refusal(TASK, [operationOn(op, pointer, role)])).toEqual({ status: 400, code: 'invalid', expression: `/0/${role}` });
    expectBuiltinsUntouched();
  });

  test('the exploit of issue 15 (copy Array, write through its prototype) is refused at its first operation', () => {
    expect(refusal(TASK, ISSUE_15_EXPLOIT)).toEqual({ status: 400, code: 'invalid', expression: '/0/from' });
    expectBuiltinsUntouched();
  });

  test.each(PATCH_OPERATIONS.flatMap((op) => ESCAPED_POINTERS.map((pointer) => [op, pointer] as const)))('%s with escaped %s reaches only plain data', (op, pointer) => {
    try {
      const patched = apply(TASK, [operationOn(op, pointer, 'path')]);
      expect(Object.getPrototypeOf(patched)).toBe(Object.prototype);
    } catch (error) {
      expect(error).toBeInstanceOf(FhirError);
      expect((error as FhirError).statusCode).toBeLessThan(500);
    }
    expectBuiltinsUntouched();
  });
});
