import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, test } from '@jest/globals';
import { exampleTransaction } from '../fixtures/fhir-transaction.js';
import { exampleReferral, PRACTICE_AGB } from '../fixtures/referral.js';
import { submitReferral } from '../support/referrals.js';
import { withService } from '../support/service.js';

const dashboard = JSON.parse(readFileSync('config/grafana/wor-bridge-dashboard.json', 'utf8')) as { panels: Array<{ title: string; targets: Array<{ expr: string }> }> };
/** Metric names in a PromQL expression (functions and label names are not followed by `{`, `[` or a space-separated operator). */
const metricNames = (expr: string) => [...expr.matchAll(/\b(wor_[a-z_]+)/g)].map((match) => match[1]!.replace(/_(bucket|sum|count)$/, ''));

const { service, operator, gp } = await withService({ tokens: { operator: ['operator', 'regio-holland-rijnland'], gp: ['gp', PRACTICE_AGB] } });
let metrics: string;

beforeAll(async () => {
  await submitReferral(service, gp);
  // a FHIR transaction, answered 200 like every transaction, is counted as created; the same again as replayed
  for (let i = 0; i < 2; i += 1) await service.request('POST', '/fhir', { token: gp, body: exampleTransaction('FHIR-METRICS-1') });
  // refused: no consent to share with the social domain
  await service.request('POST', '/referrals', { token: gp, body: exampleReferral({ referralId: 'HIS-REFUSED-1', consent: { shareWithSocialDomain: false, recordedOn: '2026-11-20' } }) });
  await service.request('GET', '/fhir/Task?_count=1', { token: operator });
  metrics = String((await service.request('GET', '/metrics', { token: operator })).body);
});

describe('metrics that carry the dashboard', () => {
  test('every metric a dashboard panel queries is exported by the service', () => {
    const exported = new Set([...metrics.matchAll(/^# TYPE (\S+) /gm)].map((match) => match[1]));
    const queried = dashboard.panels.flatMap((panel) => panel.targets.flatMap((target) => metricNames(target.expr).map((name) => ({ panel: panel.title, name }))));
    expect(queried.length).toBeGreaterThan(10);
    expect(queried.filter(({ name }) => !exported.has(name))).toEqual([]);
  });

  test('the gauges read the truth: the queue holds the two new referrals, nothing waits in the outbox or for an operator', () => {
    expect(metrics).toMatch(/^wor_queue_depth\{team="leiden-noord",state="waiting"\} 2$/m);
    expect(metrics).toMatch(/^wor_outbox_backlog 0$/m);
    expect(metrics).toMatch(/^wor_feedback_deliveries_parked 0$/m);
    expect(metrics).toMatch(/^wor_inbound_documents\{status="failed"\} 0$/m);
    expect(metrics).toMatch(/^wor_referrals_total\{channel="his",outcome="created"\} 1$/m);
    expect(metrics).toMatch(/^wor_referrals_total\{channel="his",outcome="refused"\} 1$/m);
    expect(metrics).toMatch(/^wor_referrals_total\{channel="fhir",outcome="created"\} 1$/m);
    expect(metrics).toMatch(/^wor_referrals_total\{channel="fhir",outcome="replayed"\} 1$/m);
  });

  test('FHIR searches are labelled by type, and a made-up type does not add a series', async () => {
    await service.request('GET', '/fhir/Madeup?_count=1', { token: operator });
    const after = String((await service.request('GET', '/metrics', { token: operator })).body);
    expect(after).toMatch(/wor_http_request_duration_seconds_count\{method="GET",route="\/fhir\/Task",status="200"\} 1/);
    expect(after).not.toContain('Madeup');
  });
});
