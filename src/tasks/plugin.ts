import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { TaskService } from './task-service.js';

declare module 'fastify' {
  interface FastifyInstance {
    tasks: TaskService;
  }
}

/** The Task lifecycle: every change goes through one service; other domains listen to its changes. */
export default fp(
  async function tasks(app: FastifyInstance) {
    const service = new TaskService(app.store, app.outbox, app.log);
    app.decorate('tasks', service);
    app.outbox.handle('task-changed', (change) => service.followChange(change));
  },
  { name: 'tasks', dependencies: ['store', 'outbox'] },
);
