import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { TaskService } from '../tasks/task-service.js';
import { LeaseService } from './lease-service.js';
import { relayOutbox } from './outbox.js';
import { QueueSignal } from './queue-signal.js';
import { TeamQueues } from './team-queues.js';

declare module 'fastify' {
  interface FastifyInstance {
    queues: TeamQueues;
    tasks: TaskService;
    leases: LeaseService;
  }
}

/** Outbox entries younger than this belong to requests still in flight. */
const OUTBOX_GRACE_MS = 10_000;
const OUTBOX_INTERVAL_MS = 5_000;

/** The team queues, the Task lifecycle on top of them, and the outbox relay that feeds them. */
export default fp(
  async function queues(app: FastifyInstance) {
    const { config, redis, store } = app;
    const keys = store.keys;
    const queues = new TeamQueues(config.REDIS_URL, `${config.REDIS_KEY_PREFIX}:bull`, app.directory.teams, config.QUEUE_LEASE_SECONDS * 1000, (team, taskId) => {
      leases.leaseExpired(team, taskId).catch((error: Error) => app.log.warn({ err: { type: error.name }, taskId }, 'could not return an expired task'));
    });
    const signal = new QueueSignal(config.REDIS_URL, keys.queueSignal);
    const tasks = new TaskService(store, redis, keys, queues, app.log);
    const leases: LeaseService = new LeaseService(store, redis, keys, queues, tasks, signal, app.log);
    await Promise.all([queues.start(), signal.start()]);
    app.decorate('queues', queues);
    app.decorate('tasks', tasks);
    app.decorate('leases', leases);

    const relay = () => relayOutbox(redis, keys, store, queues, app.log, OUTBOX_GRACE_MS);
    await relay();
    const timer = setInterval(() => {
      relay().catch((error: Error) => app.log.warn({ err: { type: error.name } }, 'outbox relay failed; retrying'));
    }, OUTBOX_INTERVAL_MS);
    timer.unref();

    app.addHook('onClose', async () => {
      clearInterval(timer);
      await signal.close();
      await queues.close();
    });
  },
  { name: 'queues', dependencies: ['store', 'directory'] },
);
