import { describe, expect, test } from '@jest/globals';
import type { Resource } from 'fhir/r4.js';
import { teamOrganization } from '../../src/directory/team-organization.js';
import { feedbackCommunication } from '../../src/feedback/feedback-letter.js';
import { gpCommunication } from '../../src/feedback/delivery/gp-communication.js';
import { loadDirectory } from '../../src/directory/directory.js';
import { exampleReferral } from '../fixtures/referral.js';
import { exampleResources, exampleTeam } from '../fixtures/referral-resources.js';
import { expectValidFhir, validateAgainstProfile, validateAgainstR4Schema } from '../support/fhir-validation.js';

const team = loadDirectory('config/directory.example.yaml').team('leiden-noord')!;
const withMeta = <T extends Resource>(resource: T): T => ({ ...resource, meta: { ...resource.meta, versionId: '1', lastUpdated: '2026-11-24T09:00:00.000Z' } });

describe('the profiles in profiles/', () => {
  test.each(Object.entries(exampleResources()))('the %s the intake writes is valid R4 and satisfies its profile', (_name, resource) => {
    expect(() => expectValidFhir(withMeta(resource))).not.toThrow();
  });

  test.each(Object.entries(
    exampleResources({
      patient: {
        ...exampleReferral().patient,
        name: { text: 'Johanna (Jo) van Putten-van der Giessen', given: ['Johanna'], initials: ['J.'], callName: 'Jo', prefix: 'van', family: 'Putten', partnerPrefix: 'van der', partnerFamily: 'Giessen', assemblyOrder: 'NL4' },
        address: { line: 'Oude Rijn to 33', street: 'Oude Rijn', houseNumber: '33', additionalLocator: 'to', postalCode: '2312 HB', city: 'Leiden', district: 'Leiden', country: 'Nederland', type: 'both' },
      },
      requester: { big: '19012345601', role: { code: '01.015', display: 'Huisarts', element: 'specialty' }, practice: { agb: '01054321', ura: '87654321' } },
    }),
  ))('the %s written from nl-core content (partner name, call name, BIG, role in specialty, URA) satisfies its profile', (_name, resource) => {
    expect(() => expectValidFhir(withMeta(resource))).not.toThrow();
  });

  test('a Patient whose official name has no family name fails the patient profile; a usual name without one does not', () => {
    const { patient } = exampleResources({ patient: { ...exampleReferral().patient, name: { given: ['Johanna'], family: 'Berg', callName: 'Jo' } } });
    expect(validateAgainstProfile(withMeta(patient))).toEqual([]);
    expect(validateAgainstProfile(withMeta({ ...patient, name: [{ use: 'official', given: ['Johanna'] }] })).join('\n')).toMatch(/wor-pat-1/);
  });

  test('the unit tests’ example team is the example directory’s leiden-noord', () => {
    expect(exampleTeam).toEqual(team);
  });

  test('a team Organization from the directory satisfies the team profile', () => {
    expect(() => expectValidFhir(withMeta(teamOrganization(team)))).not.toThrow();
  });

  test('each feedback Communication satisfies the Communication profile', () => {
    const { task, serviceRequest, patient } = exampleResources();
    for (const kind of ['accepted', 'rejected', 'completed', 'failed', 'pickup-deadline-missed', 'contact-deadline-missed'] as const) {
      const communication = feedbackCommunication({ kind, id: `com-${kind}`, task: { ...task, statusReason: { text: 'reden' } }, serviceRequest, patient, team, sentAt: new Date() });
      expect(() => expectValidFhir(withMeta(communication))).not.toThrow();
    }
  });

  test('the outbound form of each feedback Communication (logical references, with or without absolute URLs) satisfies the same profile', () => {
    const { task, serviceRequest, patient, practitioner, practice } = exampleResources();
    for (const kind of ['accepted', 'rejected', 'completed', 'failed', 'pickup-deadline-missed', 'contact-deadline-missed'] as const) {
      const communication = feedbackCommunication({ kind, id: `com-${kind}`, task: { ...task, statusReason: { text: 'reden' } }, serviceRequest, patient, team, sentAt: new Date() });
      for (const options of [{}, { externalBase: 'https://wor-bridge.example.nl' }]) {
        const outbound = gpCommunication(communication, { serviceRequest, patient, practitioner, practice, team, taskId: task.id! }, options);
        expect(() => expectValidFhir({ ...outbound, id: 'at-the-gp' })).not.toThrow();
      }
    }
  });

  test('a Communication reference that names nothing (neither reference nor identifier) fails the profile', () => {
    const { task, serviceRequest, patient } = exampleResources();
    const communication = feedbackCommunication({ kind: 'accepted', id: 'com-x', task, serviceRequest, patient, team, sentAt: new Date() });
    expect(validateAgainstProfile(withMeta({ ...communication, subject: { display: 'Johanna van der Berg' } })).join('\n')).toMatch(/wor-reference/);
  });

  test('a Patient without BSN fails the patient profile', () => {
    const { patient } = exampleResources();
    expect(validateAgainstProfile(withMeta({ ...patient, identifier: [{ system: 'http://fhir.nl/fhir/NamingSystem/agb-z', value: '01012345' }] })).join('\n')).toMatch(/Patient\.identifier/);
  });

  test('a Task without owner fails the task profile', () => {
    const { task } = exampleResources();
    const { owner: _owner, ...withoutOwner } = task;
    expect(validateAgainstProfile(withMeta(withoutOwner as Resource)).join('\n')).toMatch(/Task\.owner/);
  });

  test('a ServiceRequest with intent plan fails the referral profile', () => {
    const { serviceRequest } = exampleResources();
    expect(validateAgainstProfile(withMeta({ ...serviceRequest, intent: 'plan' })).join('\n')).toMatch(/ServiceRequest\.intent/);
  });

  test('a resource with a field R4 does not know fails the schema', () => {
    const { patient } = exampleResources();
    expect(validateAgainstR4Schema({ ...patient, favouriteColour: 'blue' })).not.toEqual([]);
  });
});
