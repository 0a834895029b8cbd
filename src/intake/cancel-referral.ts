import type { ServiceRequest, Task } from 'fhir/r4.js';
import type { Stored } from '../store/resource-store.js';
import { canonicalJson } from '../canonical-json.js';
import { conflict, FhirError } from '../fhir/operation-outcome.js';
import { isFinished, type Party } from '../tasks/state-machine.js';
import type { TaskService } from '../tasks/task-service.js';
import type { ResourceStore } from '../store/resource-store.js';

/**
 * Cancellation by the referrer (contract §5.4), whichever channel it came by: the Task is
 * cancelled with the reason, which revokes the ServiceRequest and takes the Task off the queue. A
 * second cancellation changes nothing; a referral that already ended cannot be cancelled.
 */
export async function cancelReferral(
  store: ResourceStore,
  tasks: TaskService,
  taskId: string,
  reason: string,
  party: Extract<Party, 'referrer' | 'operator'>,
): Promise<{ task: Task; serviceRequest: ServiceRequest | undefined }> {
  const current = await store.read<Task>('Task', taskId);
  let task: Stored<Task> | undefined = current;
  if (current && current.resource.status !== 'cancelled') {
    if (isFinished(current.resource.status)) {
      throw conflict(`The referral has already ended (${current.resource.status}) and cannot be cancelled`, 'Task.status');
    }
    task = await tasks.changeStatus(taskId, party, { status: 'cancelled', statusReason: { text: reason } });
  }
  const [, requestId] = (task?.resource.focus?.reference ?? '').split('/');
  const serviceRequest = requestId ? await store.read<ServiceRequest>('ServiceRequest', requestId) : undefined;
  return { task: task!.resource, serviceRequest: serviceRequest?.resource };
}

/**
 * The referrer's change to its ServiceRequest (a FHIR PATCH or PUT, already applied to a copy): only
 * `status` may change, and only to `revoked`, which cancels the referral as above.
 */
export async function reviseReferral(
  store: ResourceStore,
  tasks: TaskService,
  stored: ServiceRequest,
  revised: ServiceRequest,
  party: Extract<Party, 'referrer' | 'operator'>,
): Promise<void> {
  const { status: _before, meta: _meta, ...restBefore } = stored;
  const { status, meta: _revisedMeta, ...restAfter } = revised;
  if (canonicalJson(restBefore) !== canonicalJson(restAfter) || (status !== 'revoked' && status !== stored.status)) {
    throw new FhirError(422, { code: 'business-rule', expression: 'ServiceRequest', diagnostics: 'Only ServiceRequest.status may change, and only to revoked' });
  }
  if (status !== 'revoked') return;
  const { resources } = await store.search({ type: 'Task', filters: [[['focus', `ServiceRequest/${stored.id}`]]], count: 1 });
  if (resources[0]) await cancelReferral(store, tasks, resources[0].id!, 'Ingetrokken door de verwijzer', party);
}
