import { describe, expect, test } from '@jest/globals';
import { PRACTICE_AGB } from '../fixtures/referral.js';
import { withService } from '../support/service.js';

const { service } = await withService({ env: { RATE_LIMIT_PER_MINUTE: '5' } });

describe('API hardening', () => {
  test('a client over its request budget gets 429 with Retry-After as an OperationOutcome; another client is not affected', async () => {
    const greedy = await service.token('gp', PRACTICE_AGB, { clientId: 'greedy-his' });
    const statuses = [];
    for (let i = 0; i < 6; i += 1) statuses.push((await service.request('GET', '/auth/whoami', { token: greedy })).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    const refused = await service.request('GET', '/auth/whoami', { token: greedy });
    expect(refused.headers.get('retry-after')).toMatch(/^[0-9]+$/);
    expect(refused.body).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'throttled' }] });
    const other = await service.token('gp', PRACTICE_AGB, { clientId: 'calm-his' });
    expect((await service.request('GET', '/auth/whoami', { token: other })).status).toBe(200);
  });

  test('responses carry API security headers and are not cached', async () => {
    const response = await service.request('GET', '/healthz');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('strict-transport-security')).toMatch(/max-age=/);
    expect(response.headers.get('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none'");
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  test('a request id sent by the caller is echoed, a malformed one replaced', async () => {
    expect((await service.request('GET', '/healthz', { headers: { 'x-request-id': 'his-abc-123' } })).headers.get('x-request-id')).toBe('his-abc-123');
    expect((await service.request('GET', '/healthz', { headers: { 'x-request-id': 'bad id with spaces' } })).headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  test('whoami tells an integrator what the service makes of its token', async () => {
    const token = await service.token('coach', 'leiden-noord', { scope: 'system/Task.rus system/Patient.r', clientId: 'coach-app' });
    const response = await service.request('GET', '/auth/whoami', { token });
    expect(response.body).toEqual({ role: 'coach', org: 'leiden-noord', clientId: 'coach-app', scopes: ['system/Task.rus', 'system/Patient.r'] });
  });
});
