import { describe, expect, test } from '@jest/globals';
import type { Communication, Task } from 'fhir/r4.js';
import { gpCommunication, type ReferralParties } from '../../src/feedback/delivery/gp-communication.js';
import { FEEDBACK_KINDS, feedbackCommunication, type FeedbackKind } from '../../src/feedback/feedback-letter.js';
import { CODE_SYSTEM, NAMING_SYSTEM, PROFILE } from '../../src/fhir/profiles.js';
import { AGB_SYSTEM, BIG_SYSTEM, BSN_SYSTEM } from '../../src/identifiers/dutch-identifiers.js';
import { exampleResources, exampleTeam } from '../fixtures/referral-resources.js';
import { expectValidFhir } from '../support/fhir-validation.js';

/**
 * The pure mappers of the feedback to the GP, FHIR in and FHIR out: the letter a moment in the
 * Task's life becomes, and the form a GP's FHIR server can store it in. No service, no store.
 */

const referral = exampleResources();
const sentAt = new Date('2026-11-23T09:30:00Z');
const teamReference = {
  reference: 'Organization/team-leiden-noord',
  identifier: { system: NAMING_SYSTEM.team, value: 'leiden-noord' },
  display: 'Sociaal Wijkteam Leiden Noord',
};
const statusReason = { text: 'Patiënt wil geen begeleiding' };

/** The Task as it stands when each kind of letter is written. */
const taskAt: Record<FeedbackKind, Partial<Task>> = {
  accepted: { status: 'accepted' },
  rejected: { status: 'rejected', statusReason },
  completed: { status: 'completed', businessStatus: { coding: [{ system: CODE_SYSTEM.businessStep, code: 'trajectory-completed', display: 'Traject afgerond' }] } },
  failed: { status: 'failed', statusReason: { coding: [{ system: 'http://example.org/reden', code: 'onbereikbaar', display: 'Patiënt onbereikbaar' }] } },
  'pickup-deadline-missed': { status: 'requested' },
  'contact-deadline-missed': { status: 'accepted' },
};
const letterFor = (kind: FeedbackKind) => feedbackCommunication({ kind, id: `com-${kind}`, task: { ...referral.task, ...taskAt[kind] }, serviceRequest: referral.serviceRequest, patient: referral.patient, team: exampleTeam, sentAt });

const parties = (overrides: Partial<ReferralParties> = {}): ReferralParties => ({
  serviceRequest: referral.serviceRequest,
  patient: referral.patient,
  practitioner: referral.practitioner,
  practice: referral.practice,
  team: exampleTeam,
  taskId: 't1',
  ...overrides,
});
/** A letter as the store gives it back: with the version and tags the service adds. */
const stored = (communication: Communication): Communication => ({
  ...communication,
  meta: { ...communication.meta, versionId: '3', lastUpdated: '2026-11-23T09:30:01.000Z', security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'PSY' }] },
});

describe('feedbackCommunication: a moment in the Task’s life becomes a letter to the GP', () => {
  test('the acceptance letter is a Communication about the Task, to the requesting PractitionerRole, from the team, once per Task and kind', () => {
    expect(letterFor('accepted')).toEqual({
      resourceType: 'Communication',
      id: 'com-accepted',
      meta: { profile: [PROFILE.Communication] },
      identifier: [{ system: NAMING_SYSTEM.communication, value: 't1/accepted' }],
      basedOn: [{ reference: 'ServiceRequest/sr1' }],
      status: 'completed',
      category: [{ coding: [{ system: CODE_SYSTEM.feedbackKind, code: 'accepted', display: 'Verwijzing aangenomen' }] }],
      subject: { reference: 'Patient/p1' },
      about: [{ reference: 'Task/t1' }],
      sent: '2026-11-23T09:30:00.000Z',
      recipient: [{ reference: 'PractitionerRole/prr1' }],
      sender: teamReference,
      payload: [
        {
          contentString: [
            'Terugkoppeling Welzijn op Recept: Verwijzing aangenomen',
            'Betreft: Johanna van der Berg, geboren 02-03-1948',
            'Uw verwijzing van 20-11-2026 (uw kenmerk HIS-2026-000123)',
            '',
            'Sociaal Wijkteam Leiden Noord heeft uw verwijzing aangenomen. Een welzijnscoach neemt contact op met de patiënt, uiterlijk op 04-12-2026.',
            '',
            'Status: accepted',
            '',
            'Met vriendelijke groet,',
            'Sociaal Wijkteam Leiden Noord',
          ].join('\n'),
        },
      ],
    });
  });

  test.each<[FeedbackKind, string, string]>([
    ['accepted', 'Sociaal Wijkteam Leiden Noord heeft uw verwijzing aangenomen. Een welzijnscoach neemt contact op met de patiënt, uiterlijk op 04-12-2026.', 'Status: accepted'],
    ['rejected', 'Sociaal Wijkteam Leiden Noord heeft uw verwijzing niet aangenomen. Reden: Patiënt wil geen begeleiding.', 'Status: rejected'],
    ['completed', 'Het traject Welzijn op Recept bij Sociaal Wijkteam Leiden Noord is afgerond.', 'Status: completed (Traject afgerond)'],
    ['failed', 'Het traject Welzijn op Recept bij Sociaal Wijkteam Leiden Noord kon niet worden uitgevoerd. Reden: Patiënt onbereikbaar.', 'Status: failed'],
    ['pickup-deadline-missed', 'Uw verwijzing is bij het verstrijken van de termijn (27-11-2026) nog niet door Sociaal Wijkteam Leiden Noord opgepakt. Neem zo nodig contact op met het wijkteam.', 'Status: requested'],
    ['contact-deadline-missed', 'De welzijnscoach van Sociaal Wijkteam Leiden Noord heeft de patiënt niet binnen de afgesproken termijn (04-12-2026) gesproken. Neem zo nodig contact op met het wijkteam.', 'Status: accepted'],
  ])('the %s letter says so in Dutch, under its title, with the Task status', (kind, body, status) => {
    const letter = letterFor(kind);
    expect(letter.payload).toEqual([
      {
        contentString: [
          `Terugkoppeling Welzijn op Recept: ${FEEDBACK_KINDS[kind]}`,
          'Betreft: Johanna van der Berg, geboren 02-03-1948',
          'Uw verwijzing van 20-11-2026 (uw kenmerk HIS-2026-000123)',
          '',
          body,
          '',
          status,
          '',
          'Met vriendelijke groet,',
          'Sociaal Wijkteam Leiden Noord',
        ].join('\n'),
      },
    ]);
    expect(letter).toMatchObject({ identifier: [{ value: `t1/${kind}` }], category: [{ coding: [{ code: kind, display: FEEDBACK_KINDS[kind] }] }] });
  });

  test.each<FeedbackKind>(['rejected', 'failed'])('the %s letter carries the Task’s status reason as reasonCode; the other letters carry none', (kind) => {
    expect(letterFor(kind).reasonCode).toEqual([taskAt[kind].statusReason]);
    expect(letterFor('accepted')).not.toHaveProperty('reasonCode');
  });

  test('a letter names the patient by the assembled surname and the referral by its id when it has no identifier; what is missing reads "onbekend"', () => {
    const patient = { ...referral.patient, name: [{ use: 'official' as const, family: 'Putten', _family: { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/humanname-own-prefix', valueString: 'van' }, { url: 'http://hl7.org/fhir/StructureDefinition/humanname-own-name', valueString: 'Putten' }, { url: 'http://hl7.org/fhir/StructureDefinition/humanname-partner-name', valueString: 'Giessen' }] }, extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/humanname-assembly-order', valueCode: 'NL3' }] }] };
    const { birthDate: _birthDate, ...withoutBirthDate } = patient;
    const { identifier: _identifier, ...serviceRequest } = referral.serviceRequest;
    const letter = feedbackCommunication({ kind: 'accepted', id: 'com-x', task: referral.task, serviceRequest, patient: withoutBirthDate, team: exampleTeam, sentAt });
    expect(letter.payload![0]!.contentString!.split('\n').slice(1, 3)).toEqual(['Betreft: Giessen-van Putten, geboren onbekend', 'Uw verwijzing van 20-11-2026 (uw kenmerk sr1)']);
  });

  test.each(Object.keys(FEEDBACK_KINDS) as FeedbackKind[])('the %s letter is valid R4 and satisfies the Communication profile', (kind) => {
    expect(() => expectValidFhir(letterFor(kind))).not.toThrow();
  });
});

describe('gpCommunication: the letter as a GP’s FHIR server can store it', () => {
  test('every reference is logical, by an identifier the GP system knows, with a display; no id, only meta.profile kept, the Task left out', () => {
    const letter = letterFor('rejected');
    const { id: _id, meta: _meta, basedOn: _basedOn, subject: _subject, about: _about, recipient: _recipient, sender: _sender, ...content } = letter;
    expect(gpCommunication(stored(letter), parties())).toEqual({
      ...content,
      resourceType: 'Communication',
      meta: { profile: [PROFILE.Communication] },
      basedOn: [{ type: 'ServiceRequest', identifier: { system: 'https://wor-bridge.nl/fhir/NamingSystem/referral/01054321', value: 'HIS-2026-000123' }, display: 'Verwijzing HIS-2026-000123' }],
      subject: { type: 'Patient', identifier: { system: BSN_SYSTEM, value: '999990019' }, display: 'Johanna van der Berg' },
      recipient: [
        { type: 'Practitioner', identifier: { system: AGB_SYSTEM, value: '01012345' }, display: 'A. Jansen' },
        { type: 'Organization', identifier: { system: AGB_SYSTEM, value: '01054321' }, display: 'Huisartsenpraktijk De Linde' },
      ],
      sender: { type: 'Organization', identifier: { system: NAMING_SYSTEM.team, value: 'leiden-noord' }, display: 'Sociaal Wijkteam Leiden Noord' },
    });
  });

  test('when the receiver accepts external references, each reference also carries the absolute URL here, and the Task is named by it', () => {
    const outbound = gpCommunication(stored(letterFor('accepted')), parties(), { externalBase: 'https://wor-bridge.example.nl' });
    expect(outbound).toMatchObject({
      basedOn: [{ reference: 'https://wor-bridge.example.nl/fhir/ServiceRequest/sr1', type: 'ServiceRequest', identifier: { value: 'HIS-2026-000123' } }],
      subject: { reference: 'https://wor-bridge.example.nl/fhir/Patient/p1', type: 'Patient', identifier: { system: BSN_SYSTEM } },
      about: [{ reference: 'https://wor-bridge.example.nl/fhir/Task/t1', type: 'Task' }],
      recipient: [
        { reference: 'https://wor-bridge.example.nl/fhir/Practitioner/pr1', type: 'Practitioner' },
        { reference: 'https://wor-bridge.example.nl/fhir/Organization/o1', type: 'Organization' },
      ],
      sender: { reference: 'https://wor-bridge.example.nl/fhir/Organization/team-leiden-noord', type: 'Organization' },
    });
    expect(outbound).not.toHaveProperty('id');
  });

  test('a party the referral no longer has is left out of the recipients, never referred to by an id that is not there', () => {
    const { practitioner: _practitioner, ...withoutPractitioner } = parties();
    for (const options of [{}, { externalBase: 'https://wor-bridge.example.nl' }]) {
      expect(gpCommunication(stored(letterFor('accepted')), withoutPractitioner, options).recipient).toEqual([
        expect.objectContaining({ type: 'Organization', identifier: { system: AGB_SYSTEM, value: '01054321' } }),
      ]);
    }
  });

  test('a practitioner known by BIG only is addressed by BIG; the identifiers carry system and value only', () => {
    const practitioner = { ...referral.practitioner, identifier: [{ use: 'official' as const, system: BIG_SYSTEM, value: '19012345601' }] };
    expect(gpCommunication(letterFor('accepted'), parties({ practitioner })).recipient![0]).toEqual({
      type: 'Practitioner',
      identifier: { system: BIG_SYSTEM, value: '19012345601' },
      display: 'A. Jansen',
    });
  });

  test.each(Object.keys(FEEDBACK_KINDS) as FeedbackKind[])('the outbound %s letter, with and without absolute URLs, satisfies the Communication profile', (kind) => {
    for (const options of [{}, { externalBase: 'https://wor-bridge.example.nl' }]) {
      expect(() => expectValidFhir({ ...gpCommunication(stored(letterFor(kind)), parties(), options), id: 'at-the-gp' })).not.toThrow();
    }
  });
});
