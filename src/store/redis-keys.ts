/**
 * The Redis keys the service owns besides BullMQ's. Everything here can be rebuilt from PostgreSQL:
 * leases go back to the queue when they are lost, the wake-up channel carries nothing.
 */
export class RedisKeys {
  constructor(readonly prefix: string) {}

  /** A coach system's lease on a queued Task: JSON {team, taskId}. */
  lease(leaseId: string): string {
    return `${this.prefix}:lease:${leaseId}`;
  }

  /** The current lease id of a Task, while one is held. */
  leaseOfTask(taskId: string): string {
    return `${this.prefix}:lease-of:${taskId}`;
  }

  /** Pub/sub channel on which a team id is published when work becomes claimable. */
  get queueSignal(): string {
    return `${this.prefix}:queue-signal`;
  }

  /** Present while Redis holds what the service put there; gone after a flush or an empty restart. */
  get epoch(): string {
    return `${this.prefix}:epoch`;
  }

  /** BullMQ's prefix for the service's queues. */
  get bull(): string {
    return `${this.prefix}:bull`;
  }
}
