import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Task } from 'fhir/r4.js';
import { LeaseService } from './lease-service.js';
import { QueueSignal } from './queue-signal.js';
import { TeamQueues } from './team-queues.js';

declare module 'fastify' {
  interface FastifyInstance {
    queues: TeamQueues;
    leases: LeaseService;
  }
}

/** The team queues in BullMQ: filled from the outbox, emptied by claims, following every Task change. */
export default fp(
  async function queues(app: FastifyInstance) {
    const { config, redis, redisKeys, store } = app;
    const queues = new TeamQueues(config.REDIS_URL, redisKeys.bull, app.directory.teams, config.QUEUE_LEASE_SECONDS * 1000, (team, taskId) => {
      leases.leaseExpired(team, taskId).catch((error: Error) => app.log.warn({ err: { type: error.name }, taskId }, 'could not return an expired task'));
    });
    const signal = new QueueSignal(config.REDIS_URL, redis, redisKeys.queueSignal);
    const leases: LeaseService = new LeaseService(store, redis, redisKeys, queues, app.tasks, signal, app.deadlineTimers, app.log);
    await Promise.all([queues.start(), signal.start()]);
    app.decorate('queues', queues);
    app.decorate('leases', leases);

    app.tasks.onChange((change) => leases.followChange(change));
    // A Task committed with its outbox message goes on its queue, unless it left `requested` meanwhile.
    app.outbox.handle('team', async (entry, relayed) => {
      if (relayed && (await store.read<Task>('Task', entry.taskId))?.resource.status !== 'requested') return;
      await queues.add(entry);
      await signal.publish(entry.teamId);
    });

    app.redisRecovery.register('team queues', () => leases.rebuild());
    app.metrics.gauge({
      name: 'wor_queue_depth',
      help: 'Tasks in a team queue, waiting to be claimed or leased to a coach system',
      labelNames: ['team', 'state'],
      read: async () =>
        (await Promise.all(app.directory.teams.map(async (team) => ({ team: team.id, ...(await queues.counts(team.id)) })))).flatMap(({ team, waiting, leased }) => [
          [{ team, state: 'waiting' }, waiting],
          [{ team, state: 'leased' }, leased],
        ]),
    });

    app.addHook('onClose', async () => {
      await signal.close();
      await queues.close();
    });
  },
  { name: 'queues', dependencies: ['store', 'directory', 'outbox', 'tasks', 'feedback', 'metrics'] },
);
