import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { DeadlineSweeper } from './deadline-sweeper.js';
import { FeedbackService } from './feedback-service.js';

declare module 'fastify' {
  interface FastifyInstance {
    feedback: FeedbackService;
    deadlines: DeadlineSweeper;
  }
}

/** Feedback to the GP: the letters, their hand-over to delivery, and the deadline timers. */
export default fp(
  async function feedback(app: FastifyInstance) {
    const service = new FeedbackService(app.store, app.store.keys, app.directory, app.outbox, app.log);
    const sweeper = new DeadlineSweeper(app.redis, app.store.keys, app.store, service, app.directory.teams, app.log);
    app.outbox.handle('feedback', (message) => service.writeFeedback(message.taskId, message.kind, message.requestId));
    app.decorate('feedback', service);
    app.decorate('deadlines', sweeper);
    app.addHook('onReady', async () => sweeper.start(app.config.DEADLINE_CHECK_MS));
    app.addHook('onClose', async () => sweeper.stop());
  },
  { name: 'feedback', dependencies: ['store', 'directory', 'outbox'] },
);
