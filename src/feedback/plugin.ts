import { Counter } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { DeadlineSweeper } from './deadline-sweeper.js';
import { DEADLINE_RUNS, DeadlineTimers, type DeadlineKind } from './deadline-timers.js';
import { FeedbackService } from './feedback-service.js';

declare module 'fastify' {
  interface FastifyInstance {
    feedback: FeedbackService;
    deadlines: DeadlineSweeper;
    deadlineTimers: DeadlineTimers;
  }
}

/** Feedback to the GP: the letters, their hand-over to delivery, and the deadline timers. */
export default fp(
  async function feedback(app: FastifyInstance) {
    const timers = new DeadlineTimers(app.db);
    const service = new FeedbackService(app.store, app.directory, app.outbox, app.log);
    const missed = new Counter({
      name: 'wor_deadlines_missed_total',
      help: 'Pick-up and contact deadlines that passed with the Task still waiting (each sends the GP a reminder)',
      labelNames: ['team', 'kind'],
      registers: [app.metrics.registry],
    });
    const sweeper = new DeadlineSweeper(app.db, timers, app.store, service, app.log, missed);
    app.outbox.handle('feedback', (message) => service.writeFeedback(message.taskId, message.kind, message.requestId));
    // A deadline stops once what it warns about can no longer happen.
    app.tasks.onChange(async ({ task }) => {
      const stopped = (Object.keys(DEADLINE_RUNS) as DeadlineKind[]).filter((kind) => !DEADLINE_RUNS[kind](task));
      if (stopped.length > 0) await timers.clear(task.id!, stopped);
    });
    app.decorate('feedback', service);
    app.decorate('deadlines', sweeper);
    app.decorate('deadlineTimers', timers);
    app.addHook('onReady', async () => sweeper.start(app.config.DEADLINE_CHECK_MS));
    app.addHook('onClose', async () => sweeper.stop());
  },
  { name: 'feedback', dependencies: ['store', 'directory', 'outbox', 'tasks', 'metrics'] },
);
