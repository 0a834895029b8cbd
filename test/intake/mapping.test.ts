import { readFileSync } from 'node:fs';
import { describe, expect, test } from '@jest/globals';
import type { Bundle } from 'fhir/r4.js';
import { FhirError } from '../../src/fhir/operation-outcome.js';
import { CODE_SYSTEM, CONTACT_DEADLINE_EXTENSION, NAMING_SYSTEM, PROFILE } from '../../src/fhir/profiles.js';
import { NL_CORE_EXTENSION } from '../../src/fhir/nl-core.js';
import { AGB_SYSTEM, BIG_SYSTEM, BSN_SYSTEM, ICPC_SYSTEM, URA_SYSTEM, UZI_ROLE_SYSTEM } from '../../src/identifiers/dutch-identifiers.js';
import { transactionToReferral } from '../../src/intake/fhir/transaction-to-referral.js';
import { documentToReferral, readEnvelope } from '../../src/intake/portal/document-to-referral.js';
import { referralToFhir, type ReferralResources } from '../../src/intake/referral-to-fhir.js';
import { referralSchema, type Referral } from '../../src/intake/referral.js';
import { exampleTransaction } from '../fixtures/fhir-transaction.js';
import { nlCoreTransaction, type NlCoreParts } from '../fixtures/nl-core/index.js';
import { exampleReferral } from '../fixtures/referral.js';
import { exampleContext, exampleResources } from '../fixtures/referral-resources.js';
import { expectValidFhir } from '../support/fhir-validation.js';

/**
 * The pure mappers of the intake, message in and FHIR (or Referral) out: no service, no store.
 * The integration tests (fhir-transaction, portal, his-referral) show the same through HTTP.
 */

const teamReference = {
  reference: 'Organization/team-leiden-noord',
  identifier: { system: NAMING_SYSTEM.team, value: 'leiden-noord' },
  display: 'Sociaal Wijkteam Leiden Noord',
};
const qualified = (code: 'BR' | 'IN') => ({ extension: [{ url: NL_CORE_EXTENSION.nameQualifier, valueCode: code }] });

const portalDocument = (name: string): any => JSON.parse(readFileSync(`test/fixtures/portal/${name}.json`, 'utf8'));

/** The status and the issues (code, expression) a mapper refuses its input with. */
function refusalOf(read: () => unknown): { status: number; issues: Array<{ code: string; expression?: string }> } {
  try {
    read();
  } catch (error) {
    if (!(error instanceof FhirError)) throw error;
    return { status: error.statusCode, issues: error.issues.map(({ code, expression }) => ({ code, expression })) };
  }
  throw new Error('the input was not refused');
}

/**
 * The example referral as a Bundle carries it: a Bundle writes the address line and country, so
 * reading one back gives them, where the HIS REST example leaves them to the service.
 */
const exampleAsRead = (referralId: string): Referral => {
  const referral = referralSchema.parse(exampleReferral({ referralId }));
  return { ...referral, patient: { ...referral.patient, address: { ...referral.patient.address, line: 'Breestraat 12A', country: 'NL' } } };
};

/** The resources of a referral as a FHIR transaction a HIS could send (the Task is the service's own). */
function asTransaction({ task: _task, ...sent }: ReferralResources): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: Object.values(sent).map((resource) => ({ resource, request: { method: 'POST', url: resource.resourceType } })),
  };
}

describe('referralToFhir: a referral becomes its seven resources', () => {
  test('the contract example becomes the Patient, Practitioner, PractitionerRole, practice, Consent, ServiceRequest and Task, wired to each other by id', () => {
    expect(exampleResources()).toEqual({
      patient: {
        resourceType: 'Patient',
        id: 'p1',
        meta: { profile: [PROFILE.Patient] },
        identifier: [{ system: BSN_SYSTEM, value: '999990019' }],
        name: [
          {
            use: 'official',
            family: 'van der Berg',
            _family: {
              extension: [
                { url: NL_CORE_EXTENSION.ownPrefix, valueString: 'van der' },
                { url: NL_CORE_EXTENSION.ownName, valueString: 'Berg' },
              ],
            },
            given: ['Johanna'],
            _given: [qualified('BR')],
          },
        ],
        telecom: [
          { system: 'phone', value: '+31612345678', use: 'mobile' },
          { system: 'email', value: 'j.vdberg@example.nl' },
        ],
        gender: 'female',
        birthDate: '1948-03-02',
        address: [
          {
            use: 'home',
            line: ['Breestraat 12A'],
            _line: [
              {
                extension: [
                  { url: NL_CORE_EXTENSION.streetName, valueString: 'Breestraat' },
                  { url: NL_CORE_EXTENSION.houseNumber, valueString: '12' },
                  { url: NL_CORE_EXTENSION.buildingNumberSuffix, valueString: 'A' },
                ],
              },
            ],
            city: 'Leiden',
            postalCode: '2311 CS',
            country: 'NL',
          },
        ],
      },
      practitioner: {
        resourceType: 'Practitioner',
        id: 'pr1',
        meta: { profile: [PROFILE.Practitioner] },
        identifier: [{ system: AGB_SYSTEM, value: '01012345' }],
        name: [{ text: 'A. Jansen' }],
      },
      practitionerRole: {
        resourceType: 'PractitionerRole',
        id: 'prr1',
        meta: { profile: [PROFILE.PractitionerRole] },
        practitioner: { reference: 'Practitioner/pr1', display: 'A. Jansen' },
        organization: { reference: 'Organization/o1', display: 'Huisartsenpraktijk De Linde' },
        code: [{ coding: [{ system: UZI_ROLE_SYSTEM, code: '01.015', display: 'Huisarts' }] }],
      },
      practice: {
        resourceType: 'Organization',
        id: 'o1',
        meta: { profile: [PROFILE.PracticeOrganization] },
        identifier: [{ system: AGB_SYSTEM, value: '01054321' }],
        name: 'Huisartsenpraktijk De Linde',
      },
      consent: {
        resourceType: 'Consent',
        id: 'c1',
        meta: { profile: [PROFILE.Consent] },
        status: 'active',
        scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
        category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0', display: 'Patient Consent' }] }],
        patient: { reference: 'Patient/p1' },
        dateTime: '2026-11-20',
        organization: [{ reference: 'Organization/o1' }],
        policyRule: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTIN' }] },
        provision: {
          type: 'permit',
          period: { start: '2026-11-20' },
          actor: [
            {
              role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP' }] },
              reference: { reference: 'Organization/team-leiden-noord' },
            },
          ],
          purpose: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'TREAT' }],
        },
      },
      serviceRequest: {
        resourceType: 'ServiceRequest',
        id: 'sr1',
        meta: { profile: [PROFILE.ServiceRequest] },
        identifier: [{ system: 'https://wor-bridge.nl/fhir/NamingSystem/referral/01054321', value: 'HIS-2026-000123' }],
        status: 'active',
        intent: 'order',
        code: { coding: [{ system: CODE_SYSTEM.service, code: 'welzijn-op-recept', display: 'Welzijn op Recept' }] },
        priority: 'routine',
        subject: { reference: 'Patient/p1' },
        authoredOn: '2026-11-20T10:15:00+01:00',
        requester: { reference: 'PractitionerRole/prr1' },
        performer: [teamReference],
        reasonCode: [
          { coding: [{ system: ICPC_SYSTEM, code: 'Z86' }] },
          { coding: [{ system: ICPC_SYSTEM, code: 'P06', display: 'Slaapstoornis' }] },
          { text: 'Sinds overlijden partner somber, weinig sociale contacten.' },
        ],
        supportingInfo: [{ reference: 'Consent/c1' }],
        note: [{ text: "Liever 's ochtends bellen." }],
      },
      task: {
        resourceType: 'Task',
        id: 't1',
        meta: { profile: [PROFILE.Task] },
        extension: [{ url: CONTACT_DEADLINE_EXTENSION, valueDateTime: '2026-12-04T23:59:59+01:00' }],
        basedOn: [{ reference: 'ServiceRequest/sr1' }],
        status: 'requested',
        intent: 'order',
        priority: 'routine',
        code: { coding: [{ system: 'http://hl7.org/fhir/CodeSystem/task-code', code: 'fulfill' }] },
        focus: { reference: 'ServiceRequest/sr1' },
        for: { reference: 'Patient/p1' },
        authoredOn: '2026-11-20T09:20:00.000Z',
        lastModified: '2026-11-20T09:20:00.000Z',
        requester: { reference: 'PractitionerRole/prr1' },
        owner: teamReference,
        restriction: { period: { end: '2026-11-27T23:59:59+01:00' } },
      },
    });
  });

  test('an urgent referral makes an urgent ServiceRequest and an urgent Task', () => {
    const { serviceRequest, task } = exampleResources({ urgency: 'urgent' });
    expect([serviceRequest.priority, task.priority]).toEqual(['urgent', 'urgent']);
  });

  test('ICPC codes sent under the OID are written under the ICPC-1 NL system, each in a concept of its own, the reason text after them', () => {
    const { serviceRequest } = exampleResources({
      reason: { icpc: [{ code: 'P06.01', system: 'urn:oid:2.16.840.1.113883.2.4.4.31.1' }, { code: 'Z12', display: 'Relatieprobleem partner' }] },
    });
    expect(serviceRequest.reasonCode).toEqual([
      { coding: [{ system: ICPC_SYSTEM, code: 'P06.01' }] },
      { coding: [{ system: ICPC_SYSTEM, code: 'Z12', display: 'Relatieprobleem partner' }] },
    ]);
  });

  test('nl-core content (partner name, initials, call name, BIG, the role in specialty, URA) is written as nl-core writes it', () => {
    const { patient, practitioner, practitionerRole, practice } = exampleResources({
      patient: {
        ...exampleReferral().patient,
        name: { text: 'Johanna (Jo) van Putten-van der Giessen', given: ['Johanna'], initials: ['J.'], callName: 'Jo', prefix: 'van', family: 'Putten', partnerPrefix: 'van der', partnerFamily: 'Giessen', assemblyOrder: 'NL4' },
      },
      requester: { big: '19012345601', role: { code: '01.015', element: 'specialty' }, practice: { agb: '01054321', ura: '87654321' } },
    });
    expect(patient.name).toEqual([
      {
        extension: [{ url: NL_CORE_EXTENSION.assemblyOrder, valueCode: 'NL4' }],
        use: 'official',
        text: 'Johanna (Jo) van Putten-van der Giessen',
        family: 'van Putten-van der Giessen',
        _family: {
          extension: [
            { url: NL_CORE_EXTENSION.ownPrefix, valueString: 'van' },
            { url: NL_CORE_EXTENSION.ownName, valueString: 'Putten' },
            { url: NL_CORE_EXTENSION.partnerPrefix, valueString: 'van der' },
            { url: NL_CORE_EXTENSION.partnerName, valueString: 'Giessen' },
          ],
        },
        given: ['Johanna', 'J.'],
        _given: [qualified('BR'), qualified('IN')],
      },
      { use: 'usual', given: ['Jo'] },
    ]);
    expect(practitioner).toEqual({ resourceType: 'Practitioner', id: 'pr1', meta: { profile: [PROFILE.Practitioner] }, identifier: [{ system: BIG_SYSTEM, value: '19012345601' }] });
    expect(practitionerRole).toEqual({
      resourceType: 'PractitionerRole',
      id: 'prr1',
      meta: { profile: [PROFILE.PractitionerRole] },
      practitioner: { reference: 'Practitioner/pr1' },
      organization: { reference: 'Organization/o1', display: 'Huisartsenpraktijk 01054321' },
      specialty: [{ coding: [{ system: UZI_ROLE_SYSTEM, code: '01.015' }] }],
    });
    expect(practice).toMatchObject({
      identifier: [
        { system: AGB_SYSTEM, value: '01054321' },
        { system: URA_SYSTEM, value: '87654321' },
      ],
      name: 'Huisartsenpraktijk 01054321',
    });
  });

  test('a referral without its optional parts leaves them out; the consent then dates from the referral', () => {
    const { patient, serviceRequest, consent } = exampleResources({
      patient: { bsn: '999990019', name: { family: 'Berg' }, birthDate: '1948-03-02', address: { postalCode: '2311cs' } },
      reason: { icpc: [{ code: 'Z86' }] },
      consent: { shareWithSocialDomain: true },
      note: undefined,
    });
    expect(patient).toEqual({
      resourceType: 'Patient',
      id: 'p1',
      meta: { profile: [PROFILE.Patient] },
      identifier: [{ system: BSN_SYSTEM, value: '999990019' }],
      name: [{ use: 'official', family: 'Berg', _family: { extension: [{ url: NL_CORE_EXTENSION.ownName, valueString: 'Berg' }] } }],
      birthDate: '1948-03-02',
      address: [{ use: 'home', postalCode: '2311 CS', country: 'NL' }],
    });
    expect(serviceRequest.reasonCode).toEqual([{ coding: [{ system: ICPC_SYSTEM, code: 'Z86' }] }]);
    expect(serviceRequest).not.toHaveProperty('note');
    expect(consent).toMatchObject({ dateTime: '2026-11-20T10:15:00+01:00', provision: { period: { start: '2026-11-20T10:15:00+01:00' } } });
  });

  test('a consent that does not permit sharing is written as it was given: provision deny', () => {
    expect(exampleResources({ consent: { shareWithSocialDomain: false, recordedOn: '2026-11-20' } }).consent.provision).toMatchObject({ type: 'deny' });
  });

  test.each(Object.entries(exampleResources()))('the %s written is valid R4 and satisfies its profile', (_name, resource) => {
    expect(() => expectValidFhir(resource)).not.toThrow();
  });
});

describe('transactionToReferral: a FHIR transaction becomes the referral', () => {
  test('the contract example transaction reads as the example referral, with where each part came from', () => {
    const { referral, identifierSystem, entries, locate } = transactionToReferral(exampleTransaction('HIS-2026-000123'));
    expect(referral).toEqual(exampleAsRead('HIS-2026-000123'));
    expect(identifierSystem).toBe('urn:oid:2.16.528.1.1007.3.3.01054321.1');
    expect(entries).toEqual({ serviceRequest: 0, patient: 1, practitioner: 2, practitionerRole: 3, practice: 4, consent: 5 });
    expect(['patient.address.postalCode', 'requester.practice.agb', 'consent.shareWithSocialDomain', 'urgency', 'something.else'].map(locate)).toEqual([
      'Bundle.entry[1].resource.address',
      'Bundle.entry[4].resource.identifier',
      'Bundle.entry[5].resource.provision.type',
      'Bundle.entry[0].resource.priority',
      'Bundle',
    ]);
  });

  const practice = { agb: '01054321', ura: '87654321', name: 'Huisartsenpraktijk De Linde' };
  test.each<[string, NlCoreParts, Referral['patient']['name'], Referral['requester']]>([
    [
      'a partner name with assembly order NL4 and a usual call name, a practitioner by AGB, the UZI role in specialty',
      { patient: 'patient-partner-name', practitioner: 'practitioner-agb', role: 'practitioner-role-specialty', practice: 'practice-agb-ura' },
      { text: 'Johanna Petronella Maria (Jo) van Putten-van der Giessen', given: ['Johanna', 'Petronella', 'Maria'], callName: 'Jo', prefix: 'van', family: 'Putten', partnerPrefix: 'van der', partnerFamily: 'Giessen', assemblyOrder: 'NL4' },
      { agb: '01012345', name: 'A. Jansen', role: { code: '01.015', display: 'Huisarts', element: 'specialty' }, practice },
    ],
    [
      'the partner name only (NL2) with initials, a practitioner by BIG, the UZI role in code',
      { patient: 'patient-partner-name-only', practitioner: 'practitioner-big', role: 'practitioner-role-code', practice: 'practice-agb-ura' },
      { initials: ['H.', 'W.'], family: 'Kortenhoeven', partnerPrefix: 'de', partnerFamily: 'Wit', assemblyOrder: 'NL2' },
      { big: '19012345601', name: 'M. de Boer', role: { code: '01.015', display: 'Huisarts', element: 'code' }, practice },
    ],
    [
      'the own name (NL1) with first names, initials and a call name, a practitioner by UZI',
      { patient: 'patient-own-name-call-name', practitioner: 'practitioner-uzi', role: 'practitioner-role-specialty', practice: 'practice-agb-ura' },
      { text: 'Hendrik Jan (Henk) ter Horst', given: ['Hendrik', 'Jan'], initials: ['H.', 'J.'], callName: 'Henk', prefix: 'ter', family: 'Horst', assemblyOrder: 'NL1' },
      { uzi: '900012345', name: 'S. Öztürk', role: { code: '01.015', display: 'Huisarts', element: 'specialty' }, practice },
    ],
  ])('nl-core resources as HIS vendors send them are read into their parts: %s', (_scenario, parts, name, requester) => {
    const { referral } = transactionToReferral(nlCoreTransaction('NLCORE-1', parts));
    expect({ name: referral.patient.name, requester: referral.requester }).toEqual({ name, requester });
  });

  test.each([
    ['routine', 'routine'],
    ['urgent', 'urgent'],
    ['asap', 'urgent'],
    ['stat', 'urgent'],
  ])('a ServiceRequest with priority %s is read as urgency %s', (priority, urgency) => {
    const transaction = exampleTransaction();
    transaction.entry[0].resource.priority = priority;
    expect(transactionToReferral(transaction).referral.urgency).toBe(urgency);
  });

  test('a Consent that denies sharing is read, not refused here (intake refuses it, pointing at provision.type)', () => {
    const transaction = exampleTransaction();
    transaction.entry[5].resource.provision.type = 'deny';
    const { referral, locate } = transactionToReferral(transaction);
    expect(referral.consent).toEqual({ shareWithSocialDomain: false, recordedOn: '2026-11-20' });
    expect(locate('consent.shareWithSocialDomain')).toBe('Bundle.entry[5].resource.provision.type');
  });

  const changed = (change: (transaction: any) => void) => {
    const transaction = exampleTransaction();
    change(transaction);
    return transaction;
  };
  test.each<[string, unknown, number, string, string]>([
    ['a body that is not a Bundle', { resourceType: 'Patient' }, 400, 'invalid', 'Bundle.resourceType'],
    ['a batch', { ...exampleTransaction(), type: 'batch' }, 400, 'invalid', 'Bundle.type'],
    ['a second ServiceRequest', changed((t) => t.entry.push(structuredClone(t.entry[0]))), 400, 'invalid', 'Bundle.entry'],
    ['no ServiceRequest', changed((t) => t.entry.shift()), 400, 'invalid', 'Bundle.entry'],
    ['an entry without resource', changed((t) => delete t.entry[2].resource), 400, 'invalid', 'Bundle.entry[2].resource'],
    ['a PUT entry', changed((t) => (t.entry[1].request.method = 'PUT')), 400, 'invalid', 'Bundle.entry[1].request.method'],
    ['a request.url that is not the resource type', changed((t) => (t.entry[4].request.url = 'Patient')), 400, 'invalid', 'Bundle.entry[4].request.url'],
    ['a subject that references nothing in the Bundle', changed((t) => (t.entry[0].resource.subject.reference = 'urn:uuid:00000000-0000-4000-8000-000000000099')), 400, 'invalid', 'Bundle.entry[0].resource.subject'],
    ['a PractitionerRole whose practitioner is missing', changed((t) => delete t.entry[3].resource.practitioner), 400, 'invalid', 'Bundle.entry[3].resource.practitioner'],
    ['no Consent', changed((t) => t.entry.pop()), 422, 'business-rule', 'Bundle.entry'],
    ['an Observation the service does not take', changed((t) => t.entry.push({ resource: { resourceType: 'Observation', status: 'final', code: { text: 'Eenzaamheid' } }, request: { method: 'POST', url: 'Observation' } })), 422, 'business-rule', 'Bundle.entry[6]'],
    ['ifNoneExist on the Patient', changed((t) => (t.entry[1].request.ifNoneExist = 'identifier=http://fhir.nl/fhir/NamingSystem/bsn|999990019')), 422, 'business-rule', 'Bundle.entry[1].request.ifNoneExist'],
    ['ifNoneExist on the ServiceRequest that is not its identifier', changed((t) => (t.entry[0].request.ifNoneExist = 'status=active')), 400, 'invalid', 'Bundle.entry[0].request.ifNoneExist'],
    ['a ServiceRequest without identifier', changed((t) => delete t.entry[0].resource.identifier), 400, 'invalid', 'Bundle.entry[0].resource.identifier'],
    ['a BSN that fails the 11-test', changed((t) => (t.entry[1].resource.identifier[0].value = '123456789')), 400, 'value', 'Bundle.entry[1].resource.identifier'],
    ['an ICPC code in no ICPC-1 chapter', changed((t) => (t.entry[0].resource.reasonCode[1].coding[0].code = 'Q99')), 400, 'value', 'Bundle.entry[0].resource.reasonCode'],
    ['a practice without AGB (its profile asks for one)', changed((t) => (t.entry[4].resource.identifier = [{ system: URA_SYSTEM, value: '87654321' }])), 400, 'invalid', 'Bundle.entry[4].resource.identifier'],
  ])('%s is refused with the status, issue code and expression documented', (_name, input, status, code, expression) => {
    expect(refusalOf(() => transactionToReferral(input))).toEqual({ status, issues: [{ code, expression }] });
  });

  test('a Patient that fails its profile (no BSN) is refused pointing into that entry', () => {
    const transaction = changed((t) => (t.entry[1].resource.identifier = [{ system: 'http://example.org/mrn', value: '12345' }]));
    const { status, issues } = refusalOf(() => transactionToReferral(transaction));
    expect(status).toBe(400);
    expect(issues).toContainEqual({ code: 'invalid', expression: expect.stringMatching(/^Bundle\.entry\[1\]\.resource\.identifier/) });
    expect(issues.every((issue) => issue.expression?.startsWith('Bundle.entry[1].resource'))).toBe(true);
  });

  test('a 200 kB string where the identifier belongs is refused with at most 20 issues', () => {
    const { status, issues } = refusalOf(() => transactionToReferral(changed((t) => (t.entry[0].resource.identifier = 'x'.repeat(200_000)))));
    expect(status).toBe(400);
    expect(issues.length).toBeGreaterThan(0);
    expect(issues.length).toBeLessThanOrEqual(20);
  });
});

describe('readEnvelope and documentToReferral: a portal document becomes the referral', () => {
  test.each([
    ['r4-verwijzing', { documentId: 'ZD-DOC-2001', zdNumber: 'ZD-2001', kind: 'referral', fhirVersion: 'R4' }],
    ['stu3-verwijzing', { documentId: 'ZD-DOC-1001', zdNumber: 'ZD-1001', kind: 'referral', fhirVersion: 'STU3' }],
    ['r4-aanvulling', { documentId: 'ZD-DOC-2002', zdNumber: 'ZD-2001', kind: 'supplement', fhirVersion: 'R4' }],
    ['r4-annulering', { documentId: 'ZD-DOC-2003', zdNumber: 'ZD-2001', kind: 'cancellation', fhirVersion: 'R4' }],
    // Only a ReferralRequest marks STU3: a letter on its own reads as R4, which it is read the same as.
    ['stu3-verwijsbrief-pdf', { documentId: 'ZD-DOC-1002', zdNumber: 'ZD-1001', kind: 'letter', fhirVersion: 'R4' }],
  ])('the envelope of %s names the document, the transaction number, the kind and the FHIR version', (name, envelope) => {
    expect(readEnvelope(portalDocument(name))).toEqual(envelope);
  });

  test.each(['r4-verwijzing', 'stu3-verwijzing'])('the %s document reads as the same referral as the FHIR transaction, under its transaction number', (name) => {
    const document = portalDocument(name);
    const envelope = readEnvelope(document);
    expect(documentToReferral(document, envelope).referral).toEqual(exampleAsRead(envelope.zdNumber));
  });

  test('an R4 document is located per part: the patient, the practice, the consent decision', () => {
    const document = portalDocument('r4-verwijzing');
    const { locate } = documentToReferral(document, readEnvelope(document));
    expect(['patient.bsn', 'requester.role', 'requester.practice.agb', 'consent.shareWithSocialDomain'].map(locate)).toEqual([
      'Bundle.entry[1].resource.identifier',
      'Bundle.entry[3].resource',
      'Bundle.entry[4].resource.identifier',
      'Bundle.entry[6].resource.provision.type',
    ]);
  });

  test('an STU3 document without PractitionerRole takes the huisarts role, and its consent decides by status', () => {
    const document = portalDocument('stu3-verwijzing');
    const { referral, locate } = documentToReferral(document, readEnvelope(document));
    expect(referral.requester.role).toEqual({ code: '01.015', display: 'Huisarts', element: 'code' });
    expect([locate('requester.role'), locate('consent.shareWithSocialDomain')]).toEqual(['Bundle', 'Bundle.entry[5].resource.status']);
  });

  test('an STU3 requester agent that is a PractitionerRole leads to its Practitioner and role', () => {
    const document = portalDocument('stu3-verwijzing');
    document.entry.push({
      fullUrl: 'http://portal.example/fhir/PractitionerRole/role-1',
      resource: { resourceType: 'PractitionerRole', id: 'role-1', practitioner: { reference: 'Practitioner/prac-1' }, code: [{ coding: [{ system: UZI_ROLE_SYSTEM, code: '01.016', display: 'Sociaal geriater' }] }] },
    });
    document.entry[4].resource.requester.agent = { reference: 'PractitionerRole/role-1' };
    const { referral } = documentToReferral(document, readEnvelope(document));
    expect(referral.requester).toEqual({ agb: '01012345', name: 'A. Jansen', role: { code: '01.016', display: 'Sociaal geriater', element: 'code' }, practice: { agb: '01054321', name: 'Huisartsenpraktijk De Linde' } });
  });

  test('tussenvoegsels, diacritics and missing optional parts are read as sent; an unknown extension is ignored', () => {
    const document = portalDocument('r4-verwijzing-diacritics-minimal');
    const { referral } = documentToReferral(document, readEnvelope(document));
    expect(referral.patient).toEqual({
      bsn: '999991772',
      name: { given: ['Zoë', 'Ĳsbrand'], prefix: "d'", family: 'Ancona-Müller' },
      birthDate: '1948-03-02',
      address: { line: 'Breestraat 12A', street: 'Breestraat', houseNumber: '12', houseNumberAddition: 'A', postalCode: '2311 CS', city: 'Leiden', country: 'NL', use: 'home' },
    });
    expect(referral).not.toHaveProperty('note');
  });

  const document = (name: string, change: (document: any) => void) => {
    const changedDocument = portalDocument(name);
    change(changedDocument);
    return changedDocument;
  };
  test.each<[string, unknown, string]>([
    ['a body that is not a Bundle', { resourceType: 'Composition' }, 'Bundle.resourceType'],
    ['a collection Bundle', portalDocument('not-a-document'), 'Bundle.type'],
    ['a document whose first entry is not a Composition', document('r4-verwijzing', (d) => d.entry.reverse()), 'Bundle.entry[0].resource'],
    ['a document without identifier or id', document('r4-verwijzing', (d) => ((d.identifier = undefined), (d.id = undefined))), 'Bundle.identifier'],
    ['a Composition without transaction number', document('r4-verwijzing', (d) => delete d.entry[0].resource.identifier), 'Bundle.entry[0].resource.identifier'],
    ['a transaction number with a space', document('r4-verwijzing', (d) => (d.entry[0].resource.identifier.value = 'ZD 2001')), 'Bundle.entry[0].resource.identifier'],
    ['a Composition of an unknown type', document('r4-verwijzing', (d) => (d.entry[0].resource.type.coding[0].code = 'recept')), 'Bundle.entry[0].resource.type'],
  ])('readEnvelope refuses %s with 400 invalid at the element', (_name, input, expression) => {
    expect(refusalOf(() => readEnvelope(input))).toEqual({ status: 400, issues: [{ code: 'invalid', expression }] });
  });

  test.each<[string, unknown, number, string, string]>([
    ['a referral document without ServiceRequest', document('r4-verwijzing', (d) => d.entry.splice(5, 1)), 422, 'business-rule', 'Bundle.entry'],
    ['a referral document without Consent', document('r4-verwijzing', (d) => d.entry.pop()), 422, 'business-rule', 'Bundle.entry'],
    ['a BSN that fails the 11-test', portalDocument('r4-verwijzing-wrong-bsn'), 400, 'value', 'Bundle.entry[1].resource.identifier'],
    ['an STU3 request on behalf of no Organization in the document', document('stu3-verwijzing', (d) => (d.entry[4].resource.requester.onBehalfOf.reference = 'Organization/elsewhere')), 400, 'invalid', 'Bundle.entry[4].resource.requester.onBehalfOf'],
  ])('documentToReferral refuses %s precisely', (_name, input, status, code, expression) => {
    expect(refusalOf(() => documentToReferral(input, readEnvelope(input)))).toEqual({ status, issues: [{ code, expression }] });
  });
});

describe('round trip: a referral written as a transaction reads back as the same referral content', () => {
  test.each<[string, Record<string, unknown>]>([
    ['the contract example', {}],
    ['an urgent referral with the role in specialty and a practitioner by BIG and UZI', { urgency: 'urgent', requester: { big: '19012345601', uzi: '123456789', name: 'dr. P. de Vries', role: { code: '01.015', display: 'Huisarts', element: 'specialty' }, practice: { agb: '01054321', ura: '87654321', name: 'Huisartsenpraktijk De Linde' } } }],
    [
      'a patient with a partner name, initials, a call name and an address with locator',
      {
        patient: {
          ...exampleReferral().patient,
          gender: 'other',
          name: { text: 'J. (Jo) van Putten-van der Giessen', given: ['Johanna'], initials: ['J.'], callName: 'Jo', prefix: 'van', family: 'Putten', partnerPrefix: 'van der', partnerFamily: 'Giessen', assemblyOrder: 'NL4' },
          address: { street: 'Oude Rijn', houseNumber: '33', additionalLocator: 'to', postalCode: '2312 HB', city: 'Leiden', district: 'Leiden', type: 'both' },
        },
      },
    ],
  ])('%s: read back, it writes the same resources', (_name, overrides) => {
    const written = exampleResources(overrides);
    const { referral } = transactionToReferral(asTransaction(written));
    expect(referralToFhir(referral, exampleContext)).toEqual(written);
    // What the written FHIR spells out (line, country) is read back; the rest is the referral as sent.
    const sent = referralSchema.parse(exampleReferral(overrides));
    expect(referral).toEqual({
      ...sent,
      patient: { ...sent.patient, address: { ...sent.patient.address, line: written.patient.address![0]!.line![0], country: 'NL' } },
    });
  });

  test('what the FHIR does not carry comes back as the service wrote it: the practice name it made up, the consent dated by the referral', () => {
    const written = exampleResources({ requester: { agb: '01012345', practice: { agb: '01054321' } }, consent: { shareWithSocialDomain: true } });
    const { referral } = transactionToReferral(asTransaction(written));
    expect(referral.requester).toEqual({ agb: '01012345', role: { code: '01.015', display: 'Huisarts', element: 'code' }, practice: { agb: '01054321', name: 'Huisartsenpraktijk 01054321' } });
    expect(referral.consent).toEqual({ shareWithSocialDomain: true, recordedOn: '2026-11-20' });
    expect(referralToFhir(referral, exampleContext).practice).toEqual(written.practice);
  });
});
