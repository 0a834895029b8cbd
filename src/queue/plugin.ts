import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { TaskService } from '../tasks/task-service.js';
import { LeaseService } from './lease-service.js';
import type { Task } from 'fhir/r4.js';
import { QueueSignal } from './queue-signal.js';
import { TeamQueues } from './team-queues.js';

declare module 'fastify' {
  interface FastifyInstance {
    queues: TeamQueues;
    tasks: TaskService;
    leases: LeaseService;
  }
}

/** The team queues and the Task lifecycle on top of them. */
export default fp(
  async function queues(app: FastifyInstance) {
    const { config, redis, store } = app;
    const keys = store.keys;
    const queues = new TeamQueues(config.REDIS_URL, `${config.REDIS_KEY_PREFIX}:bull`, app.directory.teams, config.QUEUE_LEASE_SECONDS * 1000, (team, taskId) => {
      leases.leaseExpired(team, taskId).catch((error: Error) => app.log.warn({ err: { type: error.name }, taskId }, 'could not return an expired task'));
    });
    const signal = new QueueSignal(config.REDIS_URL, keys.queueSignal);
    const tasks = new TaskService(store, redis, keys, queues, app.outbox, app.log);
    const leases: LeaseService = new LeaseService(store, redis, keys, queues, tasks, signal, app.log);
    await Promise.all([queues.start(), signal.start()]);
    app.decorate('queues', queues);
    app.decorate('tasks', tasks);
    app.decorate('leases', leases);

    app.outbox.handle('task-changed', (change) => tasks.followChange(change));
    // A Task committed with its outbox message goes on its queue, unless it left `requested` meanwhile.
    app.outbox.handle('team', async (entry, relayed) => {
      if (relayed && (await store.read<Task>('Task', entry.taskId))?.resource.status !== 'requested') return;
      await queues.add(entry);
      await redis.publish(keys.queueSignal, entry.teamId);
    });

    app.addHook('onClose', async () => {
      await signal.close();
      await queues.close();
    });
  },
  { name: 'queues', dependencies: ['store', 'directory', 'outbox'] },
);
