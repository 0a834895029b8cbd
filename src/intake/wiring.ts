import type { ServiceRequest, Task } from 'fhir/r4.js';
import type { ResourceStore } from '../store/resource-store.js';
import type { TaskService } from '../tasks/task-service.js';

/** What a Task's end means for the referral it fulfils. */
const SERVICE_REQUEST_STATUS_AFTER: Partial<Record<Task['status'], ServiceRequest['status']>> = {
  cancelled: 'revoked',
  completed: 'completed',
};

/** The ServiceRequest follows the end of its Task. */
export function wireIntake({ store, tasks }: { store: ResourceStore; tasks: TaskService }): void {
  tasks.onChange(async ({ task }) => {
    const requestId = task.focus?.reference?.split('/')[1];
    const next = SERVICE_REQUEST_STATUS_AFTER[task.status];
    if (!requestId || !next) return;
    await store.update<ServiceRequest>('ServiceRequest', requestId, (current) =>
      current.resource.status === 'active' ? { ...current.resource, status: next } : undefined,
    );
  });
}
