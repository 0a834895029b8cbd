import { exampleReferral } from '../fixtures/referral.js';
import type { TestService } from './service.js';

let sequence = 0;

/** Submits a referral (the contract example with a fresh referral id) and returns the ids written. */
export async function submitReferral(
  service: TestService,
  token: string,
  overrides: Record<string, unknown> = {},
): Promise<{ serviceRequestId: string; taskId: string; referralId: string }> {
  const referralId = `HIS-T-${process.pid}-${(sequence += 1)}-${Math.random().toString(36).slice(2, 8)}`;
  const response = await service.request('POST', '/referrals', { token, body: exampleReferral({ referralId, ...overrides }) });
  if (response.status !== 201) throw new Error(`referral refused: ${response.status} ${JSON.stringify(response.body)}`);
  const resources = response.body.entry.map((entry: { resource: { resourceType: string; id: string } }) => entry.resource);
  return {
    referralId,
    serviceRequestId: resources.find((resource: { resourceType: string }) => resource.resourceType === 'ServiceRequest').id,
    taskId: resources.find((resource: { resourceType: string }) => resource.resourceType === 'Task').id,
  };
}

/** A patient living in the area of the team with this postcode. */
export const patientAt = (postalCode: string) => ({
  patient: { ...exampleReferral().patient, address: { ...exampleReferral().patient.address, postalCode } },
});

/**
 * Claims from the team queue until this Task comes up and answers its lease; tasks of earlier
 * scenarios that come up first are rejected out of the way.
 */
export async function claimAndAnswer(
  service: TestService,
  coach: string,
  taskId: string,
  answer: { status: 'accepted' | 'rejected'; statusReason?: string } = { status: 'accepted' },
  headers: Record<string, string> = {},
  team = 'leiden-noord',
): Promise<void> {
  for (;;) {
    const claim = await service.request('POST', `/queues/${team}/claim`, { token: coach });
    if (claim.status !== 200) throw new Error(`task ${taskId} is not in the queue`);
    const mine = claim.body.bundle.entry[0].resource.id === taskId;
    await service.request('POST', `/queues/${team}/leases/${claim.body.lease.id}/ack`, {
      token: coach,
      body: mine ? answer : { status: 'rejected', statusReason: 'opruimen tussen scenario’s' },
      headers,
    });
    if (mine) return;
  }
}
