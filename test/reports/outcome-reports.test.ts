import { mkdirSync } from 'node:fs';
import { beforeAll, describe, expect, test } from '@jest/globals';
import { chromium } from 'playwright-core';
import { OTHER_PRACTICE_AGB, PRACTICE_AGB } from '../fixtures/referral.js';
import { expectValidFhir } from '../support/fhir-validation.js';
import { claimAndAnswer, submitReferral } from '../support/referrals.js';
import { withService } from '../support/service.js';

const TEAM = 'leiden-noord';
const STEP = 'https://wor-bridge.nl/fhir/CodeSystem/wor-business-step';
const ARRANGEMENT = 'https://wor-bridge.nl/fhir/StructureDefinition/wor-arrangement';
const FIGURE = 'https://wor-bridge.nl/fhir/CodeSystem/wor-outcome-figure';
const MINIMUM = 3;

const { service, gp, otherGp, coach, operator } = await withService({
  env: { REPORT_MINIMUM_COUNT: String(MINIMUM) },
  tokens: { gp: ['gp', PRACTICE_AGB], otherGp: ['gp', OTHER_PRACTICE_AGB], coach: ['coach', TEAM], operator: ['operator', 'regio-holland-rijnland'] },
});

/** Amsterdam calendar months of now and the month before, and the quarter(s) they fall in. */
const amsterdamMonth = (date: Date) => new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Amsterdam', year: 'numeric', month: '2-digit' }).format(date).slice(0, 7);
const THIS_MONTH = amsterdamMonth(new Date());
const LAST_MONTH = amsterdamMonth(new Date(Date.parse(`${THIS_MONTH}-01T12:00:00Z`) - 5 * 86_400_000));
const [year, month] = THIS_MONTH.split('-').map(Number) as [number, number];
const END_OF_THIS_MONTH = `${THIS_MONTH}-${new Date(Date.UTC(year, month, 0)).getUTCDate()}`;
/** Both months, whatever month the suite runs in. */
const SPAN = `periodStart=${LAST_MONTH}-01&periodEnd=${END_OF_THIS_MONTH}`;
const evaluate = (token: string, query = SPAN, team = TEAM) =>
  service.request('GET', `/fhir/Measure/wor-outcomes/$evaluate-measure?${query}&subject=Organization/team-${team}`, { token });

const patch = (taskId: string, operations: unknown) =>
  service.request('PATCH', `/fhir/Task/${taskId}`, { token: coach, rawBody: JSON.stringify(operations), headers: { 'content-type': 'application/json-patch+json' } });
const contactMade = (taskId: string) =>
  patch(taskId, [
    { op: 'replace', path: '/status', value: 'in-progress' },
    { op: 'add', path: '/businessStatus', value: { coding: [{ system: STEP, code: 'contact-made' }] } },
  ]);
const reportArrangements = (taskId: string, codes: string[]) =>
  service.request('POST', '/fhir/Communication', {
    token: coach,
    body: {
      resourceType: 'Communication',
      about: [{ reference: `Task/${taskId}` }],
      payload: [{ contentString: 'Intakegesprek gehouden; activiteiten gekozen.' }],
      extension: codes.map((code) => ({ url: ARRANGEMENT, valueCodeableConcept: { coding: [{ system: 'https://wor-bridge.nl/fhir/CodeSystem/wor-arrangement', code }] } })),
    },
  });
const otherPracticeReferral = () => ({ requester: { agb: '01019999', name: 'B. de Vries', practice: { agb: OTHER_PRACTICE_AGB, name: 'Praktijk Oost' } } });

/** Moves a referral to the same day of last month, as if it had been received then (its Task, every version). */
async function receivedLastMonth(taskId: string): Promise<void> {
  const day = `${LAST_MONTH}-15T10:00:00+01:00`;
  for (const table of ['resource', 'resource_version']) {
    await service.db.query(`UPDATE ${table} SET content = jsonb_set(content::jsonb, '{authoredOn}', to_jsonb($2::text))::json WHERE resource_type = 'Task' AND id = $1`, [taskId, day]);
  }
}

beforeAll(async () => {
  // Each referral is answered before the next is sent: the queue hands them out one by one.
  const answered = async (token: string, answer: Parameters<typeof claimAndAnswer>[3], overrides = {}) => {
    const referral = await submitReferral(service, token, overrides);
    await claimAndAnswer(service, coach, referral.taskId, answer);
    return referral.taskId;
  };
  // This month, practice A: five referrals. Completed with an arrangement; failed; contact only; rejected; accepted only.
  const completed = await answered(gp, { status: 'accepted' });
  const failed = await answered(gp, { status: 'accepted' });
  const contacted = await answered(gp, { status: 'accepted' });
  await answered(gp, { status: 'rejected', statusReason: 'Buiten ons werkgebied' });
  await answered(gp, { status: 'accepted' });
  for (const taskId of [completed, failed, contacted]) expect((await contactMade(taskId)).status).toBe(200);
  expect((await reportArrangements(completed, ['zingeving'])).status).toBe(201);
  expect((await patch(completed, [{ op: 'replace', path: '/status', value: 'completed' }])).status).toBe(200);
  expect((await patch(failed, [{ op: 'replace', path: '/status', value: 'failed' }, { op: 'add', path: '/statusReason', value: { text: 'Niet bereikt' } }])).status).toBe(200);

  // Last month, practice B: one accepted with contact and two arrangements, one rejected.
  const bAccepted = await answered(otherGp, { status: 'accepted' }, otherPracticeReferral());
  const bRejected = await answered(otherGp, { status: 'rejected', statusReason: 'Andere hulp passender' }, otherPracticeReferral());
  expect((await contactMade(bAccepted)).status).toBe(200);
  expect((await reportArrangements(bAccepted, ['interactie', 'zingeving'])).status).toBe(201);
  for (const taskId of [bAccepted, bRejected]) await receivedLastMonth(taskId);
}, 120_000);

const group = (report: any, code: string) => report.group.find((candidate: any) => candidate.code.coding[0].code === code);
const count = (report: any, code: string, population = 'initial-population') => {
  const found = group(report, code).population.find((candidate: any) => candidate.code.coding[0].code === population);
  return found.count ?? (found.extension?.[0]?.valueCode === 'masked' ? 'masked' : undefined);
};
const strata = (report: any, code: string, stratifier: string) =>
  Object.fromEntries(
    (group(report, code).stratifier ?? [])
      .find((candidate: any) => candidate.code[0].coding[0].code === stratifier)
      ?.stratum.map((stratum: any) => [stratum.value.text, stratum.population[0].count ?? 'masked']) ?? [],
  );

async function measureReport(token: string, period: string, team = TEAM) {
  return service.request('GET', `/fhir/MeasureReport?subject=Organization/team-${team}&period=${period}`, { token });
}

describe('outcome figures for those who fund Welzijn op Recept', () => {
  test('the team’s month shows exactly what happened to its referrals, with small counts masked', async () => {
    const response = await measureReport(coach, THIS_MONTH);
    expect(response.status).toBe(200);
    expectValidFhir(response.body);
    const report = response.body.entry[0].resource;
    expect(report).toMatchObject({ type: 'summary', status: 'complete', measure: 'https://wor-bridge.nl/fhir/Measure/wor-outcomes', subject: { reference: `Organization/team-${TEAM}` } });
    expect(count(report, 'received')).toBe(5);
    expect(count(report, 'accepted')).toBe(4);
    expect(count(report, 'rejected')).toBe('masked');
    expect(count(report, 'completed')).toBe('masked');
    expect(count(report, 'failed')).toBe('masked');
    expect(count(report, 'arrangements-started')).toBe('masked');
    expect(count(report, 'contact-in-time', 'numerator')).toBe(3);
    expect(count(report, 'contact-in-time', 'denominator')).toBe(4);
    expect(count(report, 'picked-up-in-time', 'numerator')).toBe(5);
    expect(group(report, 'days-to-contact-median').measureScore).toMatchObject({ value: 0, code: 'd' });
    expect(strata(report, 'received', 'practice')).toEqual({ [PRACTICE_AGB]: 5 });
    expect(strata(report, 'received', 'icpc-chapter')).toEqual({ Z: 5 });
  });

  test('over both months the practice that referred twice is masked, and so is the other, which would give it away', async () => {
    const response = await evaluate(operator);
    expect(response.status).toBe(200);
    expectValidFhir(response.body);
    const report = response.body;
    expect(count(report, 'received')).toBe(7);
    expect(count(report, 'accepted')).toBe(5);
    expect(count(report, 'arrangements-started')).toBe('masked');
    expect(strata(report, 'received', 'practice')).toEqual({ [PRACTICE_AGB]: 'masked', [OTHER_PRACTICE_AGB]: 'masked' });
    expect(strata(report, 'arrangements-started', 'arrangement')).toEqual({ interactie: 'masked', zingeving: 'masked' });

    const lastMonth = (await measureReport(operator, LAST_MONTH)).body.entry[0].resource;
    expect(count(lastMonth, 'received')).toBe('masked');
  });

  test('the Measure names the figures every report carries, in the same order', async () => {
    const response = await evaluate(operator);
    expect(response.body.period).toEqual({ start: `${LAST_MONTH}-01`, end: END_OF_THIS_MONTH });
    const measure = await service.request('GET', '/fhir/Measure/wor-outcomes', { token: coach });
    expect(measure.status).toBe(200);
    expect(measure.body.group.map((item: any) => item.code.coding[0].code)).toEqual(response.body.group.map((item: any) => item.code.coding[0].code));
    expect(measure.body.group[0].code.coding[0].system).toBe(FIGURE);
    const metadata = await service.request('GET', '/fhir/metadata');
    const resources = metadata.body.rest[0].resource;
    expect(resources.find((resource: any) => resource.type === 'MeasureReport').searchParam.map((param: any) => param.name)).toEqual(['subject', 'period', 'measure']);
    expect(resources.find((resource: any) => resource.type === 'Measure').operation[0].name).toBe('evaluate-measure');
  });

  test('a practice sees only its own referrals’ figures; another team, a portal or a token without the scope sees nothing', async () => {
    const practiceB = (await evaluate(otherGp)).body;
    expect(count(practiceB, 'received')).toBe('masked');
    expect(Object.keys(strata(practiceB, 'received', 'practice'))).toEqual([OTHER_PRACTICE_AGB]);

    const otherTeam = await evaluate(await service.token('coach', 'leiden-zuid'));
    expect(otherTeam.status).toBe(403);
    expect(otherTeam.body.resourceType).toBe('OperationOutcome');
    expect((await measureReport(await service.token('portal', 'zorgdomein', { scope: 'system/MeasureReport.rs' }), THIS_MONTH)).status).toBe(403);
    expect((await measureReport(await service.token('coach', TEAM, { scope: 'system/Task.rs' }), THIS_MONTH)).status).toBe(403);
    expect((await service.request('GET', `/reports/${TEAM}?period=${THIS_MONTH}`, { token: await service.token('coach', 'leiden-zuid') })).status).toBe(403);
  });

  test('bad periods and unknown parameters are refused with a precise OperationOutcome', async () => {
    const badPeriod = await measureReport(coach, '2026-13');
    expect(badPeriod.status).toBe(400);
    expect(badPeriod.body.issue[0]).toMatchObject({ code: 'invalid', expression: ['period'] });
    const unknown = await service.request('GET', `/fhir/MeasureReport?subject=Organization/team-${TEAM}&period=${THIS_MONTH}&_include=x`, { token: coach });
    expect(unknown.status).toBe(400);
    expect(unknown.body.issue[0]).toMatchObject({ code: 'not-supported', expression: ['_include'] });
    const backwards = await service.request('GET', `/fhir/Measure/wor-outcomes/$evaluate-measure?periodStart=2026-02-01&periodEnd=2026-01-01`, { token: coach });
    expect(backwards.body.issue[0]).toMatchObject({ expression: ['periodEnd'] });
  });

  test('the CSV download carries the same numbers, masked ones as "<3"', async () => {
    const response = await service.request('GET', `/reports/${TEAM}?period=${THIS_MONTH}&format=csv`, { token: coach });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/csv/);
    const lines = String(response.body).trimEnd().split('\r\n');
    expect(lines).toContain(`team-${TEAM},${THIS_MONTH},received,,,5,,,`);
    expect(lines).toContain(`team-${TEAM},${THIS_MONTH},rejected,,,<3,,,`);
    expect(lines).toContain(`team-${TEAM},${THIS_MONTH},contact-in-time,,,,3,4,`);
  });

  test('an operator hands out a signed link to the page; a forged, foreign or expired link is refused', async () => {
    const link = await service.request('POST', `/reports/${TEAM}/links`, { token: operator });
    expect(link.status).toBe(201);
    const path = new URL(link.body.url).pathname + new URL(link.body.url).search;
    const page = await service.request('GET', `${path}&period=${THIS_MONTH}`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(String(page.body)).not.toMatch(/<script/i);
    expect((await service.request('GET', path.replace(/signature=[^&]+/, `signature=${'A'.repeat(22)}`))).status).toBe(403);
    expect((await service.request('GET', path.replace(`/reports/${TEAM}`, '/reports/leiden-zuid'))).status).toBe(403);
    expect((await service.request('GET', path.replace(/expires=\d+/, 'expires=1000'))).status).toBe(403);
    expect((await service.request('POST', `/reports/${TEAM}/links`, { token: coach })).status).toBe(403);
  });

  test('the page renders in a real browser: its figures and chart bars match the report, and it prints on A4', async () => {
    const link = await service.request('POST', `/reports/${TEAM}/links`, { token: operator });
    const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage({ viewport: { width: 900, height: 1200 } });
      const scripts: string[] = [];
      page.on('request', (request) => {
        if (!request.url().startsWith(service.baseUrl)) scripts.push(request.url());
      });
      const response = await page.goto(`${link.body.url.replace(service.config.PUBLIC_BASE_URL, service.baseUrl)}&period=${THIS_MONTH}`);
      expect(response?.status()).toBe(200);
      expect(scripts).toEqual([]); // nothing fetched from elsewhere

      const received = page.locator('section[data-figure="received"]');
      expect(await received.locator('.value').textContent()).toBe('5');
      expect(await page.locator('section[data-figure="rejected"] .value').textContent()).toBe('< 3');
      expect(await page.locator('section[data-figure="contact-in-time"] .value').textContent()).toBe('3 van 4');
      const bars = await received.locator('g.bar').evaluateAll((groups) =>
        groups.map((group) => ({ month: group.getAttribute('data-month'), value: group.getAttribute('data-value'), height: group.querySelector('rect')!.getBoundingClientRect().height })),
      );
      expect(bars).toHaveLength(12);
      expect(bars[11]).toMatchObject({ month: THIS_MONTH, value: '5' });
      expect(bars[11]!.height).toBeGreaterThan(0);
      expect(bars[10]).toMatchObject({ month: LAST_MONTH, value: 'masked', height: 0 });
      expect(bars.slice(0, 10).every((bar) => bar.value === '0' && bar.height === 0)).toBe(true);

      mkdirSync('test/.artifacts', { recursive: true });
      await page.screenshot({ path: 'test/.artifacts/report-page.png', fullPage: true });
      const pdf = await page.pdf({ format: 'A4', printBackground: true });
      expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
      expect((pdf.toString('latin1').match(/\/Type\s*\/Page[^s]/g) ?? []).length).toBeLessThanOrEqual(2);
    } finally {
      await browser.close();
    }
  });
});
