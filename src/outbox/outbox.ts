import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type pg from 'pg';
import { BatchWriter } from '../store/batch-writer.js';
import { shiftParameters, transaction, type Db, type Sql } from '../store/postgres.js';
import type { Statement } from '../store/resource-store.js';

/**
 * Work that must follow a write, named by where it goes. Ids only, never patient data. A message
 * whose body is made of its owner's own types is declared next to that owner's code (`declare module`),
 * so the outbox imports no domain.
 */
export interface OutboxMessages {
  /** Put a Task on its team queue. */
  team: { taskId: string; teamId: string; urgent: boolean };
  /** What follows from a Task's change of status (the queue let go, the ServiceRequest, the timers). */
  'task-changed': { taskId: string; from: string; to: string };
  /** Convert a portal document that was stored as received. */
  inbound: { messageId: string; replay?: string };
  /** Deliver a Communication to the practice's FHIR endpoint. */
  delivery: { communicationId: string; practiceAgb: string; requestId?: string };
}
export type OutboxTarget = keyof OutboxMessages;
/** `relayed`: the message is old (a crash or failure came between); the world may have moved on. */
type Handler<K extends OutboxTarget> = (body: OutboxMessages[K], relayed: boolean) => Promise<void>;

/** A message to commit with a write (`write`), then to hand on (`dispatch`). */
export interface OutboxMessage<K extends OutboxTarget = OutboxTarget> {
  id: string;
  to: K;
  body: OutboxMessages[K];
  write: Statement;
}

interface Row {
  id: string;
  target: OutboxTarget;
  body: never;
}

/** The writer hands its message on itself; only after this long does the relay take it over. */
const WRITER_GRACE_SECONDS = 10;
const MAX_BACKOFF_SECONDS = 60;
/** Messages one relay transaction takes. */
const RELAY_PAGE = 100;

export interface OutboxOptions {
  db: Db;
  /** The schema of the outbox table: its trigger wakes the relay on `wor_outbox_<schema>` (migration 014). */
  schema: string;
  log: FastifyBaseLogger;
}

/**
 * The transactional outbox in PostgreSQL: a message is committed in the same transaction as the
 * resources it follows from and handed on by the writer right after the commit; it is deleted only
 * once its handler succeeded. Whatever a crash or failure interrupts, the relay finishes: woken by
 * NOTIFY when a hand-on failed, and sweeping every few seconds. The relay handles a message under a
 * row lock, so two relays never take the same one; handlers are idempotent besides.
 */
export class Outbox {
  private readonly handlers = new Map<OutboxTarget, Handler<never>>();
  private timer: NodeJS.Timeout | undefined;
  private listener: pg.PoolClient | undefined;
  private relaying: Promise<unknown> = Promise.resolve();
  private relayQueued = false;
  /**
   * Messages handed on by their writers, deleted together: one statement for the requests of a
   * moment. Not worth a wait for the disk either: should a crash lose a delete, the relay hands the
   * message on once more, which handlers take in their stride.
   */
  private readonly handed = new BatchWriter<string>(
    async (ids) => {
      await this.options.db.query(`WITH handed AS (DELETE FROM outbox WHERE id = ANY($1::uuid[])) SELECT set_config('synchronous_commit', 'off', true)`, [ids]);
    },
    { windowMs: 0, maxBatch: 500 },
  );

  private readonly channel: string;

  constructor(private readonly options: OutboxOptions) {
    this.channel = `wor_outbox_${options.schema}`;
  }

  handle<K extends OutboxTarget>(target: K, handler: Handler<K>): void {
    this.handlers.set(target, handler as Handler<never>);
  }

  /**
   * The message, to be written in the transaction of the write it follows. `relayed`: no writer
   * hands it on; the relay takes it as soon as the transaction commits (the table's trigger wakes
   * it then). `onlyIf`: a condition (SQL with its own parameters) the database decides in the same
   * statement; when it does not hold, no message is written.
   */
  op<K extends OutboxTarget>(to: K, body: OutboxMessages[K], { relayed = false, onlyIf }: { relayed?: boolean; onlyIf?: Statement } = {}): OutboxMessage<K> {
    const id = randomUUID();
    const grace = relayed ? 0 : WRITER_GRACE_SECONDS;
    const values = [id, to, JSON.stringify(body)];
    const row = `$1, $2, $3, now() + make_interval(secs => ${grace})`;
    return {
      id,
      to,
      body,
      write: onlyIf
        ? { text: `INSERT INTO outbox (id, target, body, available_at) SELECT ${row} WHERE ${shiftParameters(onlyIf.text, values.length)}`, values: [...values, ...onlyIf.values] }
        : { text: `INSERT INTO outbox (id, target, body, available_at) VALUES (${row})`, values },
    };
  }

  /**
   * Hands a committed message on now. No row lock is held meanwhile (the handler may need
   * connections of its own): the relay leaves the message alone for a grace period. On failure the
   * message is released to the relay at once, and the error is thrown.
   */
  async dispatch(message: Omit<OutboxMessage, 'write'>): Promise<void> {
    try {
      await this.handlerFor(message.to)(message.body as never, false);
    } catch (error) {
      await this.options.db
        .query('WITH released AS (UPDATE outbox SET attempts = attempts + 1, available_at = now() WHERE id = $1) SELECT pg_notify($2, $1::text)', [message.id, this.channel])
        .catch(() => undefined);
      throw error;
    }
    await this.handed.add(message.id);
  }

  /** Is a message of this kind, about this Task, still waiting to be handed on? */
  async pendingFor<K extends OutboxTarget>(to: K, taskId: string): Promise<Omit<OutboxMessage<K>, 'write'> | undefined> {
    const { rows } = await this.options.db.query<{ id: string; body: OutboxMessages[K] }>(`SELECT id, body FROM outbox WHERE target = $1 AND body->>'taskId' = $2 LIMIT 1`, [to, taskId]);
    return rows[0] ? { id: rows[0].id, to, body: rows[0].body } : undefined;
  }

  private handlerFor<K extends OutboxTarget>(target: K): Handler<K> {
    const handler = this.handlers.get(target) as Handler<K> | undefined;
    if (!handler) throw new Error(`no outbox handler for ${target}`);
    return handler;
  }

  /** Runs the handler of a locked row; deletes it on success, or backs it off. */
  private async run(sql: Sql, row: Row): Promise<boolean> {
    try {
      await this.handlerFor(row.target)(row.body, true);
      await sql.query('DELETE FROM outbox WHERE id = $1', [row.id]);
      return true;
    } catch (error) {
      await sql.query(
        `UPDATE outbox SET attempts = attempts + 1,
           available_at = now() + make_interval(secs => least(${MAX_BACKOFF_SECONDS}, power(2, attempts)))
         WHERE id = $1`,
        [row.id],
      );
      this.options.log.warn({ to: row.target, err: { type: (error as Error).name } }, 'outbox message not handed on; will retry');
      return false;
    }
  }

  /** How many messages wait to be handled. */
  async backlog(): Promise<number> {
    const { rows } = await this.options.db.query<{ waiting: number }>('SELECT count(*)::int AS waiting FROM outbox');
    return rows[0]!.waiting;
  }

  /**
   * Hands on the messages that are due (`everything`: also those whose writer may still be at it —
   * at start-up, when nothing of this process is in flight); returns how many it handed on.
   */
  async relay(everything = false): Promise<number> {
    return transaction(this.options.db, async (sql) => {
      const { rows } = await sql.query<Row>(
        `SELECT id, target, body FROM outbox ${everything ? '' : 'WHERE available_at <= now()'} ORDER BY available_at, id LIMIT ${RELAY_PAGE} FOR UPDATE SKIP LOCKED`,
      );
      let handed = 0;
      for (const row of rows) {
        if (await this.run(sql, row)) {
          handed += 1;
          this.options.log.info({ to: row.target }, 'outbox message relayed');
        }
      }
      return handed;
    });
  }

  /**
   * One pass after whatever is under way, however many wake-ups arrive meanwhile (a burst of NOTIFYs
   * is one pass, not one each); it goes on while it finds full pages.
   */
  private relaySoon(): void {
    if (this.relayQueued) return;
    this.relayQueued = true;
    this.relaying = this.relaying
      .then(async () => {
        this.relayQueued = false;
        while ((await this.relay()) === RELAY_PAGE);
      })
      .catch((error: Error) => this.options.log.warn({ err: { type: error.name } }, 'outbox relay failed; retrying'));
  }

  async start(intervalMs: number): Promise<void> {
    this.timer = setInterval(() => this.relaySoon(), intervalMs);
    this.timer.unref();
    await this.listen();
  }

  /** LISTEN on a connection of its own; when it breaks (database restarted), the sweep carries on and it is tried again. */
  private async listen(): Promise<void> {
    try {
      const client = await this.options.db.connect();
      this.listener = client;
      client.on('notification', () => this.relaySoon());
      client.on('error', () => {
        client.release(true);
        if (this.listener === client) this.listener = undefined;
        if (this.timer) setTimeout(() => void this.listen(), 2000).unref();
      });
      await client.query(`LISTEN "${this.channel}"`);
    } catch {
      if (this.timer) setTimeout(() => void this.listen(), 2000).unref();
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all([this.relaying, this.handed.flush()]);
    this.listener?.release();
    this.listener = undefined;
  }
}
