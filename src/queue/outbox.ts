import type { FastifyBaseLogger } from 'fastify';
import type { Task } from 'fhir/r4.js';
import type { Redis } from 'ioredis';
import type { Keys } from '../store/keys.js';
import type { ExtraOp, ResourceStore } from '../store/resource-store.js';
import type { QueueEntry, TeamQueues } from './team-queues.js';

/**
 * The transactional outbox between the resource store and the team queues. A Task and its outbox
 * entry are committed in one atomic step; the entry leaves the outbox only once the queue holds
 * the job. Whatever a crash interrupts, the relay finishes: no Task is ever stored but not queued.
 */
export function outboxEntry(keys: Keys, entry: QueueEntry, at: Date): ExtraOp {
  return ['ZADD', keys.taskOutbox, String(at.getTime()), JSON.stringify(entry)];
}

/** Puts the Task on its queue, then clears its outbox entry and wakes the team's claimers. */
export async function deliverToQueue(redis: Redis, keys: Keys, queues: TeamQueues, entry: QueueEntry): Promise<void> {
  await queues.add(entry);
  await redis.zrem(keys.taskOutbox, JSON.stringify(entry));
  await redis.publish(keys.queueSignal, entry.teamId);
}

/** Is this Task still in the outbox (stored, queue not yet confirmed)? */
export async function isPendingInOutbox(redis: Redis, keys: Keys, entry: QueueEntry): Promise<boolean> {
  return (await redis.zscore(keys.taskOutbox, JSON.stringify(entry))) !== null;
}

/**
 * Queues the outbox entries older than `graceMs` (younger ones belong to requests still in flight).
 * A Task that has meanwhile left `requested` (cancelled) is not queued again.
 */
export async function relayOutbox(
  redis: Redis,
  keys: Keys,
  store: ResourceStore,
  queues: TeamQueues,
  log: FastifyBaseLogger,
  graceMs: number,
): Promise<number> {
  const members = await redis.zrangebyscore(keys.taskOutbox, '-inf', Date.now() - graceMs, 'LIMIT', 0, 500);
  for (const member of members) {
    const entry = JSON.parse(member) as QueueEntry;
    const task = await store.read<Task>('Task', entry.taskId);
    if (task?.resource.status === 'requested') await deliverToQueue(redis, keys, queues, entry);
    else await redis.zrem(keys.taskOutbox, member);
    log.info({ taskId: entry.taskId, team: entry.teamId, queued: task?.resource.status === 'requested' }, 'outbox entry relayed');
  }
  return members.length;
}
