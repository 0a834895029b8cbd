import type { Task } from 'fhir/r4.js';
import type { Directory } from '../directory/directory.js';
import type { Metrics } from '../ops/metrics.js';
import type { Outbox } from '../outbox/outbox.js';
import type { RedisRecovery } from '../store/redis-recovery.js';
import type { ResourceStore } from '../store/resource-store.js';
import type { TaskService } from '../tasks/task-service.js';
import type { LeaseService } from './lease-service.js';
import type { QueueSignal } from './queue-signal.js';
import type { TeamQueues } from './team-queues.js';

export interface QueueWiring {
  queues: TeamQueues;
  leases: LeaseService;
  signal: QueueSignal;
  store: ResourceStore;
  tasks: TaskService;
  outbox: Outbox;
  redisRecovery: RedisRecovery;
  metrics: Metrics;
  directory: Directory;
}

/** The team queues follow every Task change, are filled from the outbox, and are rebuilt after an empty Redis. */
export function wireQueue({ queues, leases, signal, store, tasks, outbox, redisRecovery, metrics, directory }: QueueWiring): void {
  tasks.onChange((change) => leases.followChange(change));
  // A Task committed with its outbox message goes on its queue, unless it left `requested` meanwhile.
  outbox.handle('team', async (entry, relayed) => {
    if (relayed && (await store.read<Task>('Task', entry.taskId))?.resource.status !== 'requested') return;
    await queues.add(entry);
    await signal.publish(entry.teamId);
  });
  redisRecovery.register('team queues', () => leases.rebuild());
  metrics.gauge({
    name: 'wor_queue_depth',
    help: 'Tasks in a team queue, waiting to be claimed or leased to a coach system',
    labelNames: ['team', 'state'],
    read: async () =>
      (await Promise.all(directory.teams.map(async (team) => ({ team: team.id, ...(await queues.counts(team.id)) })))).flatMap(({ team, waiting, leased }) => [
        [{ team, state: 'waiting' }, waiting],
        [{ team, state: 'leased' }, leased],
      ]),
  });
}
