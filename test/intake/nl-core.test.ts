import { describe, expect, test } from '@jest/globals';
import type { HumanName } from 'fhir/r4.js';
import { exampleReferral, PRACTICE_AGB } from '../fixtures/referral.js';
import { nlCore, nlCoreTransaction, type NlCoreParts } from '../fixtures/nl-core/index.js';
import { expectValidFhir } from '../support/fhir-validation.js';
import { claimAndAnswer } from '../support/referrals.js';
import { withService } from '../support/service.js';
import { addressedName, assembledSurname, nlCoreNames } from '../../src/fhir/nl-core.js';

const { service, gp } = await withService({ tokens: { gp: ['gp', PRACTICE_AGB] } });

let sequence = 0;
const post = (parts: NlCoreParts) => {
  const referralId = `NLCORE-${(sequence += 1)}-${Math.random().toString(36).slice(2, 8)}`;
  const transaction = nlCoreTransaction(referralId, parts);
  return service.request('POST', '/fhir', { token: gp, body: transaction }).then((response) => ({ response, transaction, referralId }));
};
const stored = async (type: string, id: string) => (await service.request('GET', `/fhir/${type}/${id}`, { token: gp })).body;
const entryOf = (bundle: any, type: string) => bundle.entry.find((entry: any) => entry.resource.resourceType === type).resource;

/**
 * The parts of each resource the service keeps (README, "How a document becomes the referral"):
 * what is stored must equal what was sent for these. Not kept: meta (the service writes its own
 * profile), the address-type and code-specification extensions, telecom use, a practitioner's
 * name parts other than its text.
 */
const keptParts: Record<string, (resource: any) => unknown> = {
  Patient: (patient) => ({
    identifier: patient.identifier,
    name: patient.name,
    gender: patient.gender,
    birthDate: patient.birthDate,
    telecom: patient.telecom?.map(({ system, value }: any) => ({ system, value })),
    address: patient.address.map(({ extension: _addressType, ...address }: any) => address),
  }),
  Practitioner: (practitioner) => ({ identifier: practitioner.identifier, name: practitioner.name.map(({ text }: any) => ({ text })) }),
  PractitionerRole: (role) => ({ code: role.code, specialty: role.specialty }),
  Organization: (organization) => ({ identifier: organization.identifier, name: organization.name }),
};

describe('nl-core resources as HIS vendors send them', () => {
  test.each<[string, NlCoreParts]>([
    [
      'a patient with a partner name, assembly order NL4 and a usual call name, a practitioner by AGB, the UZI role in specialty',
      { patient: 'patient-partner-name', practitioner: 'practitioner-agb', role: 'practitioner-role-specialty', practice: 'practice-agb-ura' },
    ],
    [
      'a patient known by the partner name only (NL2) with initials, a practitioner by BIG, the UZI role in code',
      { patient: 'patient-partner-name-only', practitioner: 'practitioner-big', role: 'practitioner-role-code', practice: 'practice-agb-ura' },
    ],
    [
      'a patient with own name (NL1), first names, initials and a call name, an address with locator, a practitioner by UZI',
      { patient: 'patient-own-name-call-name', practitioner: 'practitioner-uzi', role: 'practitioner-role-specialty', practice: 'practice-agb-ura' },
    ],
  ])('%s: accepted through the FHIR transaction and stored as sent', async (_scenario, parts) => {
    const { response, transaction } = await post(parts);
    expect(response.status).toBe(200);
    // Every scenario's practice is the same: its Organization is master data the first one created.
    const { Organization: practiceStatus, ...others } = Object.fromEntries(response.body.entry.map((entry: any) => [entry.resource.resourceType, entry.response.status]));
    expect(Object.values(others)).toEqual(Array(5).fill('201 Created'));
    expect(['201 Created', '200 OK']).toContain(practiceStatus);
    expectValidFhir(response.body);
    for (const type of ['Patient', 'Practitioner', 'PractitionerRole', 'Organization']) {
      const sent = entryOf(transaction, type);
      const written = await stored(type, entryOf(response.body, type).id);
      expect({ type, ...(keptParts[type]!(written) as object) }).toEqual({ type, ...(keptParts[type]!(sent) as object) });
    }
  }, 120_000); // the first transaction of a process loads the profiles

  test('a HIS REST referral with the same zib name and address fields writes the same Patient name and address as the nl-core transaction', async () => {
    const { response } = await post({ patient: 'patient-partner-name', practitioner: 'practitioner-agb', role: 'practitioner-role-specialty', practice: 'practice-agb-ura' });
    const viaFhir = entryOf(response.body, 'Patient');
    const viaRest = await service.request('POST', '/referrals', {
      token: gp,
      body: exampleReferral({
        referralId: 'NLCORE-REST-1',
        patient: {
          bsn: '999990032',
          name: { text: 'Johanna Petronella Maria (Jo) van Putten-van der Giessen', given: ['Johanna', 'Petronella', 'Maria'], callName: 'Jo', prefix: 'van', family: 'Putten', partnerPrefix: 'van der', partnerFamily: 'Giessen', assemblyOrder: 'NL4' },
          birthDate: '1934-04-28',
          gender: 'female',
          address: { line: '1e Jacob van Campenstraat 15', street: '1e Jacob van Campenstraat', houseNumber: '15', city: 'Leiden', district: 'Leiden', postalCode: '2312 NX', country: 'Nederland', use: 'home', type: 'both' },
          phone: '+31611234567',
          email: 'giesput@example.nl',
        },
      }),
    });
    expect(viaRest.status).toBe(201);
    const restPatient = entryOf(viaRest.body, 'Patient');
    expect({ name: restPatient.name, address: restPatient.address, telecom: restPatient.telecom }).toEqual({ name: viaFhir.name, address: viaFhir.address, telecom: viaFhir.telecom });
  });

  test('an official name without a family name is refused naming the constraint, and nothing is stored', async () => {
    const patient = nlCore('patient-partner-name');
    delete patient.name[0].family;
    delete patient.name[0]._family;
    const transaction = nlCoreTransaction('NLCORE-NO-FAMILY', { patient: 'patient-partner-name', practitioner: 'practitioner-agb', role: 'practitioner-role-specialty', practice: 'practice-agb-ura' });
    transaction.entry[1].resource = patient;
    const response = await service.request('POST', '/fhir', { token: gp, body: transaction });
    expect(response.status).toBe(400);
    expect(response.body.issue[0]).toMatchObject({ expression: ['Bundle.entry[1].resource'], diagnostics: expect.stringContaining('wor-pat-1') });
    expect((await service.request('GET', '/fhir/ServiceRequest?identifier=NLCORE-NO-FAMILY', { token: gp })).body.total).toBe(0);
  });

  test('a PractitionerRole without a UZI role code in code or specialty is refused naming the constraint', async () => {
    const transaction = nlCoreTransaction('NLCORE-NO-ROLE', { patient: 'patient-partner-name', practitioner: 'practitioner-agb', role: 'practitioner-role-specialty', practice: 'practice-agb-ura' });
    transaction.entry[3].resource.specialty = [{ coding: [{ system: 'urn:oid:2.16.840.1.113883.2.4.6.7', code: '0100' }] }];
    const response = await service.request('POST', '/fhir', { token: gp, body: transaction });
    expect(response.status).toBe(400);
    expect(response.body.issue[0]).toMatchObject({ expression: ['Bundle.entry[3].resource'], diagnostics: expect.stringContaining('wor-role-1') });
  });

  test('a malformed UZI role code is refused pointing at the PractitionerRole', async () => {
    const transaction = nlCoreTransaction('NLCORE-BAD-ROLE', { patient: 'patient-partner-name', practitioner: 'practitioner-agb', role: 'practitioner-role-specialty', practice: 'practice-agb-ura' });
    transaction.entry[3].resource.specialty[0].coding[0].code = 'huisarts';
    const response = await service.request('POST', '/fhir', { token: gp, body: transaction });
    expect(response.status).toBe(400);
    expect(response.body.issue[0]).toMatchObject({ expression: ['Bundle.entry[3].resource'], diagnostics: expect.stringContaining('UZI role code') });
  });

  test('a Practitioner with only a local employee number is refused: AGB, BIG or UZI identifies the referrer', async () => {
    const transaction = nlCoreTransaction('NLCORE-LOCAL-ID', { patient: 'patient-partner-name', practitioner: 'practitioner-agb', role: 'practitioner-role-specialty', practice: 'practice-agb-ura' });
    transaction.entry[2].resource.identifier = [{ system: 'https://his.example.nl/employees', value: '42' }];
    const response = await service.request('POST', '/fhir', { token: gp, body: transaction });
    expect(response.status).toBe(400);
    expect(response.body.issue[0]).toMatchObject({ expression: ['Bundle.entry[2].resource'], diagnostics: expect.stringContaining('wor-prac-1') });
  });

  test('the feedback letter greets the patient by the name the assembly order composes', async () => {
    const { response } = await post({ patient: 'patient-partner-name', practitioner: 'practitioner-agb', role: 'practitioner-role-specialty', practice: 'practice-agb-ura' });
    const serviceRequest = entryOf(response.body, 'ServiceRequest');
    const tasks = await service.request('GET', `/fhir/Task?focus=ServiceRequest/${serviceRequest.id}`, { token: gp });
    await claimAndAnswer(service, await service.token('coach', 'leiden-noord'), tasks.body.entry[0].resource.id);
    const letters = await service.request('GET', `/fhir/Communication?based-on=ServiceRequest/${serviceRequest.id}`, { token: gp });
    expect(letters.body.entry[0].resource.payload[0].contentString).toContain('Betreft: Johanna Petronella Maria van Putten-van der Giessen, geboren 28-04-1934');
  });
});

describe('Dutch names (zib NameInformation)', () => {
  const parts = { prefix: 'van', family: 'Putten', partnerPrefix: 'van der', partnerFamily: 'Giessen' };
  test.each([
    ['NL1', 'van Putten'],
    ['NL2', 'van der Giessen'],
    ['NL3', 'van der Giessen-van Putten'],
    ['NL4', 'van Putten-van der Giessen'],
  ] as const)('assembly order %s gives the surname %s, and the letter uses it', (assemblyOrder, surname) => {
    expect(assembledSurname({ ...parts, assemblyOrder })).toBe(surname);
    expect(addressedName(nlCoreNames({ ...parts, assemblyOrder, given: ['Johanna'], callName: 'Jo' }))).toBe(`Johanna ${surname}`);
  });

  test('with only initials the letter writes them together before the surname', () => {
    expect(addressedName(nlCoreNames({ family: 'Wit', prefix: 'de', initials: ['H.', 'W.'] }))).toBe('H.W. de Wit');
  });

  test('a name without extensions is taken as written', () => {
    const names: HumanName[] = [{ use: 'usual', given: ['Jo'] }, { use: 'official', family: 'van der Berg', given: ['Johanna'] }];
    expect(addressedName(names)).toBe('Johanna van der Berg');
  });
});
