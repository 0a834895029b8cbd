import { describe, expect, test } from '@jest/globals';
import type { Task } from 'fhir/r4.js';
import { checkTransition, SET_BY, TRANSITIONS, type Party, type TaskStatus } from '../../src/tasks/state-machine.js';
import { nextTaskVersion } from '../../src/tasks/task-update.js';
import { FhirError } from '../../src/fhir/operation-outcome.js';

const STATUSES = Object.keys(TRANSITIONS) as TaskStatus[];
const PARTIES: Party[] = ['queue', 'team', 'referrer', 'operator'];
const REASON = { text: 'reden' };

function outcome(from: TaskStatus, to: TaskStatus, party: Party): number {
  try {
    checkTransition(from, to, party, REASON);
    return 200;
  } catch (error) {
    return (error as FhirError).statusCode;
  }
}

/** The table in the README, as data: every allowed move, and who may make it. */
const ALLOWED: Array<[TaskStatus, TaskStatus, Party[]]> = [
  ['requested', 'received', ['queue']],
  ['requested', 'accepted', ['team', 'operator']],
  ['requested', 'rejected', ['team', 'operator']],
  ['requested', 'cancelled', ['referrer', 'operator']],
  ['received', 'requested', ['queue']],
  ['received', 'accepted', ['team', 'operator']],
  ['received', 'rejected', ['team', 'operator']],
  ['received', 'cancelled', ['referrer', 'operator']],
  ['accepted', 'in-progress', ['team', 'operator']],
  ['accepted', 'on-hold', ['team', 'operator']],
  ['accepted', 'completed', ['team', 'operator']],
  ['accepted', 'failed', ['team', 'operator']],
  ['accepted', 'cancelled', ['referrer', 'operator']],
  ['in-progress', 'on-hold', ['team', 'operator']],
  ['in-progress', 'completed', ['team', 'operator']],
  ['in-progress', 'failed', ['team', 'operator']],
  ['in-progress', 'cancelled', ['referrer', 'operator']],
  ['on-hold', 'in-progress', ['team', 'operator']],
  ['on-hold', 'completed', ['team', 'operator']],
  ['on-hold', 'failed', ['team', 'operator']],
  ['on-hold', 'cancelled', ['referrer', 'operator']],
];

describe('the Task state machine', () => {
  const cases = STATUSES.flatMap((from) => STATUSES.filter((to) => to !== from).flatMap((to) => PARTIES.map((party) => [from, to, party] as const)));

  test.each(cases)('%s -> %s by %s: allowed only where the table says, otherwise 403 (wrong party) or 409 (no such move)', (from, to, party) => {
    const allowed = ALLOWED.find(([a, b]) => a === from && b === to);
    const expected = !SET_BY[to]?.includes(party) ? 403 : allowed?.[2].includes(party) ? 200 : 409;
    expect(outcome(from, to, party)).toBe(expected);
  });

  test.each(['rejected', 'failed', 'cancelled', 'on-hold'] as TaskStatus[])('setting %s without a statusReason is refused with 422', (to) => {
    const from: TaskStatus = to === 'rejected' ? 'received' : 'accepted';
    const party: Party = to === 'cancelled' ? 'referrer' : 'team';
    expect(() => checkTransition(from, to, party, undefined)).toThrow(expect.objectContaining({ statusCode: 422 }));
  });
});

describe('the next version of a Task', () => {
  const task: Task = {
    resourceType: 'Task',
    id: 't1',
    meta: { versionId: '3' },
    status: 'accepted',
    intent: 'order',
    owner: { reference: 'Organization/team-leiden-noord' },
    lastModified: '2026-11-20T10:00:00Z',
  };
  const now = new Date('2026-11-24T09:00:00Z');

  test('the team may record a business step from the WoR CodeSystem', () => {
    const next = nextTaskVersion(
      task,
      { ...task, status: 'in-progress', businessStatus: { coding: [{ system: 'https://wor-bridge.nl/fhir/CodeSystem/wor-business-step', code: 'contact-made' }] } },
      'team',
      now,
    );
    expect(next).toMatchObject({ status: 'in-progress', lastModified: now.toISOString(), businessStatus: { coding: [{ code: 'contact-made' }] } });
  });

  test('a business step outside the CodeSystem is refused with its path', () => {
    expect(() => nextTaskVersion(task, { ...task, businessStatus: { coding: [{ system: 'http://example.org', code: 'x' }] } }, 'team', now)).toThrow(
      expect.objectContaining({ statusCode: 400, issues: [expect.objectContaining({ expression: 'Task.businessStatus' })] }),
    );
  });

  test('the owner, focus or any other fixed element cannot be changed', () => {
    expect(() => nextTaskVersion(task, { ...task, owner: { reference: 'Organization/team-leiden-zuid' } }, 'team', now)).toThrow(
      expect.objectContaining({ statusCode: 422, issues: [expect.objectContaining({ expression: 'Task.owner' })] }),
    );
  });

  test('the referrer may not record business steps', () => {
    expect(() =>
      nextTaskVersion(task, { ...task, businessStatus: { coding: [{ system: 'https://wor-bridge.nl/fhir/CodeSystem/wor-business-step', code: 'contact-made' }] } }, 'referrer', now),
    ).toThrow(expect.objectContaining({ statusCode: 422 }));
  });

  test('meta and lastModified in the body are ignored: the server maintains them', () => {
    const next = nextTaskVersion(task, { ...task, meta: { versionId: '99' }, lastModified: '1999-01-01T00:00:00Z' }, 'team', now);
    expect(next.meta).toEqual({ versionId: '3' });
    expect(next.lastModified).toBe(now.toISOString());
  });
});
