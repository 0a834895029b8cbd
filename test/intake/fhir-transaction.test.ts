import { describe, expect, test } from '@jest/globals';
import { exampleReferral, PRACTICE_AGB } from '../fixtures/referral.js';
import { exampleTransaction } from '../fixtures/fhir-transaction.js';
import { expectValidFhir } from '../support/fhir-validation.js';
import { withService } from '../support/service.js';


const { service, gp } = await withService({ tokens: { gp: ['gp', PRACTICE_AGB] } });

/** A resource with what legitimately differs between two referrals (ids, times, the referral's identifier) taken out. */
function comparable(resource: any): any {
  const text = JSON.stringify(resource)
    .replace(/"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"/g, '"<id>"')
    .replace(/\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"/g, '/<id>"');
  const { meta: _meta, identifier, authoredOn: _a, lastModified: _l, restriction: _r, extension: _e, ...rest } = JSON.parse(text);
  return resource.resourceType === 'ServiceRequest' ? rest : { identifier, ...rest };
}

const post = (body: unknown, token = gp) => service.request('POST', '/fhir', { token, body });

describe('POST /fhir transaction', () => {
  test('a transaction becomes the same ServiceRequest, Task, Patient and Consent as the equivalent HIS REST referral (under another referral id), and is queued', async () => {
    const viaFhir = await post(exampleTransaction('FHIR-SAME-1'));
    expect(viaFhir.status).toBe(200);
    expect(viaFhir.body.type).toBe('transaction-response');
    expect(viaFhir.body.entry.map((entry: any) => entry.response.status)).toEqual(Array(6).fill('201 Created'));
    expect(viaFhir.body.entry[0].response.location).toMatch(/^ServiceRequest\/[0-9a-f-]{36}\/_history\/1$/);
    expectValidFhir(viaFhir.body);
    const viaRest = await service.request('POST', '/referrals', { token: gp, body: exampleReferral({ referralId: 'FHIR-SAME-1-REST' }) });
    const byType = (bundle: any) => Object.fromEntries(bundle.entry.map((entry: any) => [entry.resource.resourceType, entry.resource]));
    const fhir = byType(viaFhir.body);
    const rest = byType(viaRest.body);
    for (const type of ['ServiceRequest', 'Patient', 'Consent', 'Practitioner', 'PractitionerRole', 'Organization']) {
      expect({ type, ...comparable(fhir[type]) }).toEqual({ type, ...comparable(rest[type]) });
    }
    const serviceRequestId = fhir.ServiceRequest.id;
    const tasks = await service.request('GET', `/fhir/Task?focus=ServiceRequest/${serviceRequestId}`, { token: gp });
    expect(tasks.body.total).toBe(1);
    const restTask = (await service.request('GET', `/fhir/Task?focus=ServiceRequest/${rest.ServiceRequest.id}`, { token: gp })).body.entry[0].resource;
    expect(comparable(tasks.body.entry[0].resource)).toEqual(comparable(restTask));
    const coach = await service.token('coach', 'leiden-noord');
    const counts = (await service.request('GET', '/queues/leiden-noord', { token: coach })).body;
    expect(counts.waiting).toBe(2);
  });

  test('the same transaction again creates nothing and answers 200 OK per entry with the same resources', async () => {
    const first = await post(exampleTransaction('FHIR-IDEM-1'));
    const second = await post(exampleTransaction('FHIR-IDEM-1'));
    expect(second.status).toBe(200);
    expect(second.body.entry.map((entry: any) => entry.response.status)).toEqual(Array(6).fill('200 OK'));
    expect(second.body.entry[0].resource.id).toBe(first.body.entry[0].resource.id);
    const found = await service.request('GET', `/fhir/ServiceRequest?identifier=FHIR-IDEM-1`, { token: gp });
    expect(found.body.total).toBe(1);
  });

  test('a Patient that fails its profile (no BSN) is refused with the entry named, and nothing is stored', async () => {
    const transaction = exampleTransaction('FHIR-BAD-1');
    transaction.entry[1].resource.identifier = [{ system: 'http://example.org/mrn', value: '12345' }];
    const response = await post(transaction);
    expect(response.status).toBe(400);
    expect(response.body.issue[0].expression[0]).toMatch(/^Bundle\.entry\[1\]\.resource\.identifier/);
    expect((await service.request('GET', `/fhir/ServiceRequest?identifier=FHIR-BAD-1`, { token: gp })).body.total).toBe(0);
  });

  test('an invalid BSN is refused and points at the Patient identifier', async () => {
    const transaction = exampleTransaction('FHIR-BAD-2');
    transaction.entry[1].resource.identifier[0].value = '123456789';
    const response = await post(transaction);
    expect(response.status).toBe(400);
    expect(response.body.issue[0].expression).toEqual(['Bundle.entry[1].resource.identifier']);
    expect(JSON.stringify(response.body)).not.toContain('123456789');
  });

  test('a Consent that does not permit sharing is refused with 422 and nothing is stored', async () => {
    const transaction = exampleTransaction('FHIR-BAD-3');
    transaction.entry[5].resource.provision.type = 'deny';
    const response = await post(transaction);
    expect(response.status).toBe(422);
    expect(response.body.issue[0].expression).toEqual(['Bundle.entry[5].resource.provision.type']);
  });

  test('a batch, a dangling reference or a second ServiceRequest are refused precisely', async () => {
    expect((await post({ ...exampleTransaction('X'), type: 'batch' })).body.issue[0].expression).toEqual(['Bundle.type']);
    const dangling = exampleTransaction('FHIR-BAD-4');
    dangling.entry[0].resource.subject.reference = 'urn:uuid:00000000-0000-4000-8000-000000000099';
    expect((await post(dangling)).body.issue[0].expression).toEqual(['Bundle.entry[0].resource.subject']);
    const two = exampleTransaction('FHIR-BAD-5');
    two.entry.push(two.entry[0]);
    expect((await post(two)).body.issue[0].expression).toEqual(['Bundle.entry']);
  });

  test('a 200 kB string where the ServiceRequest.identifier belongs answers 400 with a few issues, not a 500', async () => {
    const transaction = exampleTransaction('FHIR-BAD-7');
    transaction.entry[0].resource.identifier = 'x'.repeat(200_000);
    const response = await post(transaction);
    expect(response.status).toBe(400);
    expect(response.body.issue.length).toBeLessThanOrEqual(20);
  });

  test('an entry the service does not take (an Observation) is refused with 422 naming it, and nothing is stored', async () => {
    const transaction = exampleTransaction('FHIR-EXTRA-1');
    transaction.entry.push({
      fullUrl: 'urn:uuid:6f1c0000-0000-4000-8000-000000000007',
      resource: { resourceType: 'Observation', status: 'final', code: { text: 'Eenzaamheid' }, subject: { reference: 'urn:uuid:6f1c0000-0000-4000-8000-000000000002' } },
      request: { method: 'POST', url: 'Observation' },
    });
    const response = await post(transaction);
    expect(response.status).toBe(422);
    expect(response.body.issue[0]).toMatchObject({ code: 'business-rule', expression: ['Bundle.entry[6]'], diagnostics: expect.stringContaining('does not take this Observation') });
    expect((await service.request('GET', '/fhir/ServiceRequest?identifier=FHIR-EXTRA-1', { token: gp })).body.total).toBe(0);
  });

  test('a second Patient the ServiceRequest does not reference is refused with 422 naming it', async () => {
    const transaction = exampleTransaction('FHIR-EXTRA-2');
    transaction.entry.push({ ...structuredClone(transaction.entry[1]), fullUrl: 'urn:uuid:6f1c0000-0000-4000-8000-000000000008' });
    const response = await post(transaction);
    expect(response.status).toBe(422);
    expect(response.body.issue[0].expression).toEqual(['Bundle.entry[6]']);
  });

  test('ifNoneExist the service cannot honour (on the Patient) is refused with 422 naming it, never ignored', async () => {
    const transaction = exampleTransaction('FHIR-IFNONE-1');
    transaction.entry[1].request.ifNoneExist = 'identifier=http://fhir.nl/fhir/NamingSystem/bsn|999990019';
    const response = await post(transaction);
    expect(response.status).toBe(422);
    expect(response.body.issue[0].expression).toEqual(['Bundle.entry[1].request.ifNoneExist']);
    expect(JSON.stringify(response.body)).not.toContain('999990019');
    expect((await service.request('GET', '/fhir/ServiceRequest?identifier=FHIR-IFNONE-1', { token: gp })).body.total).toBe(0);
  });

  test('ifNoneExist on the ServiceRequest that is not its own identifier is refused naming it', async () => {
    const transaction = exampleTransaction('FHIR-IFNONE-2');
    transaction.entry[0].request.ifNoneExist = 'status=active';
    const response = await post(transaction);
    expect(response.status).toBe(400);
    expect(response.body.issue[0].expression).toEqual(['Bundle.entry[0].request.ifNoneExist']);
  });

  test('an entry whose request.url is not its resource type is refused naming it', async () => {
    const transaction = exampleTransaction('FHIR-URL-1');
    transaction.entry[4].request.url = 'Patient';
    const response = await post(transaction);
    expect(response.status).toBe(400);
    expect(response.body.issue[0].expression).toEqual(['Bundle.entry[4].request.url']);
  });

  test('an ICPC code in no ICPC-1 chapter (Q99) is refused pointing at the reasonCode', async () => {
    const transaction = exampleTransaction('FHIR-ICPC-1');
    transaction.entry[0].resource.reasonCode[1].coding[0].code = 'Q99';
    const response = await post(transaction);
    expect(response.status).toBe(400);
    expect(response.body.issue[0]).toMatchObject({ expression: ['Bundle.entry[0].resource.reasonCode'], diagnostics: expect.stringContaining('chapter letter') });
  });

  test("another practice's AGB is refused with 403", async () => {
    const response = await post(exampleTransaction('FHIR-BAD-6', '01067890'));
    expect(response.status).toBe(403);
    expect(response.body.issue[0].expression).toEqual(['Bundle.entry[4].resource.identifier']);
  });
});

describe('identifier systems a channel mints itself cannot be claimed by a FHIR transaction', () => {
  const BASE = 'https://wor-bridge.nl/fhir/NamingSystem';
  const withRequestSystem = (referralId: string, system: string) => {
    const bundle = exampleTransaction(referralId);
    bundle.entry[0].resource.identifier = [{ system, value: referralId }];
    bundle.entry[0].request.ifNoneExist = `identifier=${system}|${referralId}`;
    return bundle;
  };
  const stored = async (referralId: string) =>
    (await service.request('GET', `/fhir/ServiceRequest?identifier=${referralId}&_count=0`, { token: await service.token('operator', 'regio') })).body.total;

  test.each([
    ['the portal’s transaction-number system', `${BASE}/portal-referral/zorgdomein`],
    ['another portal’s system', `${BASE}/portal-referral/some-other-portal`],
    ['another practice’s referral system', `${BASE}/referral/01099999`],
    ['the team system', `${BASE}/team`],
  ])('a ServiceRequest identifier under %s is refused with 422 naming the element, nothing stored', async (_name, system) => {
    const referralId = `ZD-CLAIM-${Math.random().toString(36).slice(2, 8)}`;
    const response = await post(withRequestSystem(referralId, system));
    expect(response.status).toBe(422);
    expect(response.body.issue[0]).toMatchObject({ code: 'business-rule', expression: ['Bundle.entry[0].resource.identifier[0].system'] });
    expect(await stored(referralId)).toBe(0);
  });

  test('a channel-owned system on another resource of the transaction is refused too', async () => {
    const referralId = 'FHIR-CLAIM-PATIENT-1';
    const bundle = exampleTransaction(referralId);
    bundle.entry[1].resource.identifier.push({ system: `${BASE}/communication`, value: 'x' });
    const response = await post(bundle);
    expect(response.status).toBe(422);
    expect(response.body.issue[0].expression).toEqual([`Bundle.entry[1].resource.identifier[${bundle.entry[1].resource.identifier.length - 1}].system`]);
    expect(await stored(referralId)).toBe(0);
  });

  test('the practice’s own referral system of the service stays usable', async () => {
    const referralId = 'FHIR-OWN-SYSTEM-1';
    const response = await post(withRequestSystem(referralId, `${BASE}/referral/${PRACTICE_AGB}`));
    expect(response.status).toBe(200);
    expect(await stored(referralId)).toBe(1);
  });
});
