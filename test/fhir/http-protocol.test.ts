import { beforeAll, describe, expect, test } from '@jest/globals';
import { exampleReferral, PRACTICE_AGB } from '../fixtures/referral.js';
import { exampleTransaction } from '../fixtures/fhir-transaction.js';
import { expectValidFhir, validateAgainstR4Schema } from '../support/fhir-validation.js';
import { submitReferral } from '../support/referrals.js';
import { startService, withService } from '../support/service.js';

const TOKEN_URL = 'https://idp.example.nl/oauth2/token';
const { service, gp } = await withService({ env: { AUTH_TOKEN_URL: TOKEN_URL }, tokens: { gp: ['gp', PRACTICE_AGB] } });
let referral: Awaited<ReturnType<typeof submitReferral>>;

beforeAll(async () => {
  referral = await submitReferral(service, gp);
});

describe('HTTP as FHIR clients expect', () => {
  test('an interaction the server does not offer answers 405 with Allow and an OperationOutcome; an unknown type stays 404', async () => {
    const cases: Array<[string, string, string]> = [
      ['DELETE', '/fhir/Patient/x', 'GET'],
      ['PUT', '/fhir/Patient/x', 'GET'],
      ['PATCH', '/fhir/Consent/x', 'GET'],
      ['POST', '/fhir/Task', 'GET'],
      ['DELETE', `/fhir/Task/${referral.taskId}`, 'GET, PUT, PATCH'],
      ['PUT', '/fhir/StructureDefinition/wor-task', 'GET'],
      ['DELETE', `/fhir/Task/${referral.taskId}/_history/1`, 'GET'],
    ];
    for (const [method, path, allow] of cases) {
      const response = await service.request(method, path, { token: gp, body: method === 'DELETE' ? undefined : {} });
      expect({ method, path, status: response.status, allow: response.headers.get('allow') }).toEqual({ method, path, status: 405, allow });
      expect(response.body.issue[0]).toMatchObject({ severity: 'error', code: 'not-supported' });
      expectValidFhir(response.body);
    }
    expect((await service.request('DELETE', '/fhir/Medication/x', { token: gp })).status).toBe(404);
    // Nothing was changed by the refused interactions.
    expect((await service.request('GET', `/fhir/Task/${referral.taskId}`, { token: gp })).headers.get('etag')).toBe('W/"1"');
  });

  test('type-level _history is refused with 405; instance history keeps working', async () => {
    const response = await service.request('GET', '/fhir/Task/_history', { token: gp });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('');
    expect(response.body.issue[0].code).toBe('not-supported');
    expect((await service.request('GET', `/fhir/Task/${referral.taskId}/_history`, { token: gp })).status).toBe(200);
    const metadata = (await service.request('GET', '/fhir/metadata')).body;
    for (const resource of metadata.rest[0].resource) expect(resource.interaction.map((interaction: { code: string }) => interaction.code)).not.toContain('history-type');
  });

  test('asking for XML by Accept or _format answers 406; JSON, a wildcard or no preference answers JSON', async () => {
    const search = `/fhir/ServiceRequest?_id=${referral.serviceRequestId}`;
    for (const [path, accept] of [
      [search, 'application/fhir+xml'],
      [search, 'application/xml, text/xml'],
      [`${search}&_format=xml`, ''],
      [`${search}&_format=application/fhir%2Bxml`, ''],
      ['/fhir/metadata?_format=xml', ''],
      [search, 'application/fhir+json;q=0, application/fhir+xml'],
    ]) {
      const response = await service.request('GET', path!, { token: gp, headers: accept ? { accept } : {} });
      expect({ path, accept, status: response.status }).toEqual({ path, accept, status: 406 });
      expect(response.body.issue[0].code).toBe('not-supported');
    }
    for (const [path, accept] of [
      [search, 'application/fhir+json'],
      [search, 'application/fhir+xml;q=0.9, application/json;q=0.5'],
      [search, 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'],
      [`${search}&_format=json`, ''],
      [`${search}&_format=application/fhir%2Bjson`, ''],
    ]) {
      const response = await service.request('GET', path!, { token: gp, headers: accept ? { accept } : {} });
      expect({ path, accept, status: response.status }).toEqual({ path, accept, status: 200 });
      expect(response.headers.get('content-type')).toContain('application/fhir+json');
    }
  });

  test('Location is an absolute URL under PUBLIC_BASE_URL, for referrals through /referrals and through the FHIR transaction', async () => {
    const viaHis = await service.request('POST', '/referrals', { token: gp, body: exampleReferral({ referralId: `HIS-LOC-${Date.now()}` }) });
    expect(viaHis.status).toBe(201);
    expect(viaHis.headers.get('location')).toMatch(/^http:\/\/wor-bridge\.test\/fhir\/ServiceRequest\/[0-9a-f-]{36}$/);
    const viaFhir = await service.request('POST', '/fhir', { token: gp, body: exampleTransaction(`HIS-LOC-FHIR-${Date.now()}`) });
    expect(viaFhir.status).toBe(200);
    expect(viaFhir.headers.get('location')).toMatch(/^http:\/\/wor-bridge\.test\/fhir\/ServiceRequest\/[0-9a-f-]{36}$/);
  });
});

describe('discovery', () => {
  test('/.well-known/smart-configuration names the identity provider’s token endpoint, client credentials with a signed assertion and the scopes offered', async () => {
    for (const path of ['/.well-known/smart-configuration', '/fhir/.well-known/smart-configuration']) {
      const response = await service.request('GET', path);
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({
        token_endpoint: TOKEN_URL,
        grant_types_supported: ['client_credentials'],
        token_endpoint_auth_methods_supported: ['private_key_jwt'],
        capabilities: expect.arrayContaining(['client-confidential-asymmetric', 'permission-v2']),
      });
      expect(response.body.scopes_supported).toEqual(
        expect.arrayContaining(['system/Task.rus', 'system/ServiceRequest.crus', 'system/Communication.crs', 'system/Patient.rs', 'system/Bundle.c']),
      );
    }
  });

  test('without AUTH_TOKEN_URL discovery answers 404 saying what to configure, and the CapabilityStatement names no token endpoint', async () => {
    const bare = await startService();
    try {
      const response = await bare.request('GET', '/.well-known/smart-configuration');
      expect(response.status).toBe(404);
      expect(response.body.issue[0].diagnostics).toContain('AUTH_TOKEN_URL');
      const metadata = (await bare.request('GET', '/fhir/metadata')).body;
      expect(metadata.rest[0].security.extension).toBeUndefined();
      expect(metadata.rest[0].security.service[0].coding[0].code).toBe('SMART-on-FHIR');
    } finally {
      await bare.close();
    }
  });

  test('the CapabilityStatement states patchFormat, conditionalCreate and the SMART security service with its token URI', async () => {
    const metadata = (await service.request('GET', '/fhir/metadata')).body;
    expect(validateAgainstR4Schema(metadata)).toEqual([]);
    expect(metadata.patchFormat).toEqual(['application/json-patch+json']);
    const communication = metadata.rest[0].resource.find((resource: { type: string }) => resource.type === 'Communication');
    expect(communication.conditionalCreate).toBe(true);
    expect(metadata.rest[0].security).toMatchObject({
      service: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' }] }],
      extension: [{ url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris', extension: [{ url: 'token', valueUri: TOKEN_URL }] }],
    });
  });
});
