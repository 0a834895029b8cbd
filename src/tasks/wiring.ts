import type { Outbox } from '../outbox/outbox.js';
import type { TaskService } from './task-service.js';

/** A committed Task change reaches every domain that listens to it (`TaskService.onChange`). */
export function wireTasks({ tasks, outbox }: { tasks: TaskService; outbox: Outbox }): void {
  outbox.handle('task-changed', (change) => tasks.followChange(change));
}
