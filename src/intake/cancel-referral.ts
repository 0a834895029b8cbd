import type { ServiceRequest, Task } from 'fhir/r4.js';
import type { Stored } from '../store/resource-store.js';
import { conflict } from '../fhir/operation-outcome.js';
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
