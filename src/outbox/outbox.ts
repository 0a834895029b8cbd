import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import type { FeedbackKind } from '../feedback/feedback-letter.js';
import type { Keys } from '../store/keys.js';
import type { ExtraOp } from '../store/resource-store.js';

/** Work that must follow a write, named by where it goes. Ids only, never patient data. */
export interface OutboxMessages {
  /** Put a Task on its team queue. */
  team: { taskId: string; teamId: string; urgent: boolean };
  /** What follows from a Task's change of status (the queue let go, the ServiceRequest, the timers). */
  'task-changed': { taskId: string; from: string; to: string };
  /** Write the feedback Communication for a Task event. */
  feedback: { taskId: string; kind: FeedbackKind; requestId?: string };
  /** Convert a portal document that was stored as received. */
  inbound: { messageId: string; replay?: string };
  /** Deliver a Communication to the practice's FHIR endpoint. */
  delivery: { communicationId: string; practiceAgb: string; requestId?: string };
}
export type OutboxTarget = keyof OutboxMessages;
type Message = { [K in OutboxTarget]: { to: K; body: OutboxMessages[K] } }[OutboxTarget];
/** `relayed`: the message is old (a crash or failure came between); the world may have moved on. */
type Handler<K extends OutboxTarget> = (body: OutboxMessages[K], relayed: boolean) => Promise<void>;

/**
 * The transactional outbox: a message is committed in the same atomic step as the resources it
 * follows from, handed on right after the commit, and removed only once its handler succeeded.
 * Whatever a crash interrupts, the relay finishes; handlers are idempotent, so a message handled
 * twice does no harm, and one never handled cannot happen.
 */
export class Outbox {
  private readonly handlers = new Map<OutboxTarget, Handler<never>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly log: FastifyBaseLogger,
  ) {}

  handle<K extends OutboxTarget>(target: K, handler: Handler<K>): void {
    this.handlers.set(target, handler as Handler<never>);
  }

  /** The Redis command that records the message; pass it to the commit of the write it follows. */
  op<K extends OutboxTarget>(to: K, body: OutboxMessages[K], at = new Date()): ExtraOp {
    return ['ZADD', this.keys.outbox, String(at.getTime()), JSON.stringify({ to, body })];
  }

  /** Hands a committed message on now; on failure it stays for the relay and the error is thrown. */
  async dispatch<K extends OutboxTarget>(to: K, body: OutboxMessages[K]): Promise<void> {
    await this.deliver(JSON.stringify({ to, body }), false);
  }

  async isPending<K extends OutboxTarget>(to: K, body: OutboxMessages[K]): Promise<boolean> {
    return (await this.redis.zscore(this.keys.outbox, JSON.stringify({ to, body }))) !== null;
  }

  private async deliver(member: string, relayed: boolean): Promise<void> {
    const message = JSON.parse(member) as Message;
    const handler = this.handlers.get(message.to) as Handler<typeof message.to> | undefined;
    if (!handler) throw new Error(`no outbox handler for ${message.to}`);
    await handler(message.body as never, relayed);
    await this.redis.zrem(this.keys.outbox, member);
  }

  /**
   * Hands on messages older than `graceMs` (younger ones belong to requests still in flight);
   * returns how many it handed on.
   */
  async relay(graceMs: number): Promise<number> {
    const members = await this.redis.zrangebyscore(this.keys.outbox, '-inf', Date.now() - graceMs, 'LIMIT', 0, 200);
    let handed = 0;
    for (const member of members) {
      try {
        await this.deliver(member, true);
        handed += 1;
        this.log.info({ to: (JSON.parse(member) as Message).to }, 'outbox message relayed');
      } catch (error) {
        this.log.warn({ err: { type: (error as Error).name } }, 'outbox message not relayed; will retry');
      }
    }
    return handed;
  }

  start(intervalMs: number, graceMs: number): void {
    this.timer = setInterval(() => {
      this.relay(graceMs).catch((error: Error) => this.log.warn({ err: { type: error.name } }, 'outbox relay failed; retrying'));
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
