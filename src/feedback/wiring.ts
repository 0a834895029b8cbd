import type { Outbox } from '../outbox/outbox.js';
import type { TaskService } from '../tasks/task-service.js';
import { DEADLINE_RUNS, type DeadlineKind, type DeadlineTimers } from './deadline-timers.js';
import { own } from '../own-property.js';
import { FEEDBACK_ON_STATUS } from './feedback-letter.js';
import type { FeedbackService } from './feedback-service.js';

/** Feedback letters follow their outbox messages; a deadline stops once what it warns about can no longer happen. */
export function wireFeedback({ feedback, deadlineTimers, outbox, tasks }: { feedback: FeedbackService; deadlineTimers: DeadlineTimers; outbox: Outbox; tasks: TaskService }): void {
  outbox.handle('feedback', (message) => feedback.writeFeedback(message.taskId, message.kind, message.requestId));
  // The letter a new status calls for is committed with the Task's change.
  tasks.onStatusChange(({ taskId, to, requestId }) => {
    const kind = own(FEEDBACK_ON_STATUS, to);
    return kind ? outbox.op('feedback', { taskId, kind, ...(requestId ? { requestId } : {}) }) : undefined;
  });
  tasks.onChange(async ({ task }) => {
    const stopped = (Object.keys(DEADLINE_RUNS) as DeadlineKind[]).filter((kind) => !DEADLINE_RUNS[kind](task));
    if (stopped.length > 0) await deadlineTimers.clear(task.id!, stopped);
  });
}
