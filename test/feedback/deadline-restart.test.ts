import { expect, test } from '@jest/globals';
import { PRACTICE_AGB } from '../fixtures/referral.js';
import { submitReferral } from '../support/referrals.js';
import { startService } from '../support/service.js';

test('a pick-up deadline that passes while the service restarts gives exactly one reminder, however many processes sweep', async () => {
  const first = await startService();
  const gp = await first.token('gp', PRACTICE_AGB);
  const { taskId, serviceRequestId } = await submitReferral(first, gp);
  const deadline = Date.parse((await first.request('GET', `/fhir/Task/${taskId}`, { token: gp })).body.restriction.period.end);
  const prefix = first.prefix;
  await first.app.close();

  const second = await startService({ prefix });
  const third = await startService({ prefix });
  try {
    await Promise.all([second.app.services.deadlines.sweep(deadline + 1000), third.app.services.deadlines.sweep(deadline + 1000), second.app.services.deadlines.sweep(deadline + 2000)]);
    const feedback = await second.request('GET', `/fhir/Communication?based-on=ServiceRequest/${serviceRequestId}`, { token: gp });
    expect(feedback.body.total).toBe(1);
    expect(feedback.body.entry[0].resource.category[0].coding[0].code).toBe('pickup-deadline-missed');
    expect(await second.redis.zscore(`${prefix}:pickup:leiden-noord`, taskId)).toBeNull();
  } finally {
    await third.close();
    await second.close();
    await first.close().catch(() => undefined);
  }
});
