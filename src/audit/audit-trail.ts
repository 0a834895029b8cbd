import { randomUUID } from 'node:crypto';
import type { AuditEvent } from 'fhir/r4.js';
import { canonicalJson } from '../canonical-json.js';
import { BatchWriter } from '../store/batch-writer.js';
import { transaction, type Db } from '../store/postgres.js';
import { KeyedHash } from '../store/keyed-hash.js';
import type { ActingPerson } from '../auth/caller.js';
import { auditEvent, type AuditRecord } from './audit-event.js';

export interface ChainCheck {
  valid: boolean;
  events: number;
  /** Sequence number of the first event that is missing or does not follow from its predecessor. */
  brokenAt?: number;
}

/** Events that arrive within this window are written in one transaction. */
const BATCH_WINDOW_MS = 2;
const MAX_BATCH = 500;
const VERIFY_PAGE = 1000;
const BEFORE_ANY_SEQ = '-9223372036854775808';

const COLUMNS = 'seq, recorded, id, action, subtype, outcome, method, route, status, client_id, role, org, request_id, patients, resources, previous, hash, person';

interface Row {
  seq: string;
  recorded: Date;
  id: string;
  action: AuditRecord['action'];
  subtype: string;
  outcome: AuditRecord['outcome'];
  method: string;
  route: string;
  status: number;
  client_id: string;
  role: string;
  org: string;
  request_id: string;
  patients: string[];
  resources: string[];
  previous: string;
  hash: string;
  person: ActingPerson | null;
}

const recordOf = (row: Row): AuditRecord => ({
  id: row.id,
  recorded: row.recorded,
  action: row.action,
  subtype: row.subtype,
  outcome: row.outcome,
  method: row.method,
  route: row.route,
  status: row.status,
  clientId: row.client_id,
  // Absent rather than null, as when it was hashed.
  ...(row.person ? { person: row.person } : {}),
  role: row.role,
  org: row.org,
  requestId: row.request_id,
  patients: row.patients,
  resources: row.resources,
});

/** The UTC month of a time, as the partitions are cut: `2025-01`. */
const monthOf = (time: Date) => time.toISOString().slice(0, 7);

/**
 * The NEN 7513 audit trail in PostgreSQL: compact rows, append-only (enforced by the database),
 * partitioned by month, and hash-chained with HMAC-SHA256 under a key derived from WOR_SECRET, so
 * that whoever can write to the database but does not hold the secret cannot rewrite the chain.
 */
export class AuditTrail {
  private readonly key: KeyedHash;
  private readonly months = new Set<string>();
  // One batch at a time per process (the head lock would serialise them anyway).
  private readonly batches = new BatchWriter<AuditRecord>((records) => this.write(records), { windowMs: BATCH_WINDOW_MS, maxBatch: MAX_BATCH });

  constructor(
    private readonly db: Db,
    secret: string,
  ) {
    this.key = new KeyedHash(secret, 'audit-chain');
  }

  static newId(): string {
    return randomUUID();
  }

  /** Creates this month's and next month's partitions, so that appends rarely wait for DDL. */
  async prepare(now = new Date()): Promise<void> {
    await this.ensurePartitions([now, new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1))]);
  }

  /**
   * Resolves once the event is committed. Events of concurrent requests are written together: one
   * transaction locks the head, inserts the chained rows and moves the head.
   */
  append(record: AuditRecord): Promise<void> {
    return this.batches.add(record);
  }

  private async write(records: AuditRecord[]): Promise<void> {
    await this.ensurePartitions(records.map((record) => record.recorded));
    await transaction(this.db, async (sql) => {
      const { rows } = await sql.query<{ seq: string; hash: string; recorded: Date }>('SELECT seq, hash, recorded FROM audit_chain_head FOR UPDATE');
      let seq = Number(rows[0]!.seq);
      let previous = rows[0]!.hash;
      // Another process may have written a later time (clocks differ by a little): never go back,
      // so the chain stays in month order. That time's partition exists, it holds the head's row.
      let last = rows[0]!.recorded;
      const chained = records.map((event) => {
        const record = event.recorded < last ? { ...event, recorded: last } : event;
        seq += 1;
        const hash = this.hash(previous, seq, record);
        const row = {
          seq,
          recorded: record.recorded.toISOString(),
          id: record.id,
          action: record.action,
          subtype: record.subtype,
          outcome: record.outcome,
          method: record.method,
          route: record.route,
          status: record.status,
          client_id: record.clientId,
          role: record.role,
          org: record.org,
          request_id: record.requestId,
          patients: record.patients,
          resources: record.resources,
          previous,
          hash,
          person: record.person ?? null,
        };
        previous = hash;
        last = record.recorded;
        return row;
      });
      await sql.query('INSERT INTO audit_event SELECT * FROM json_populate_recordset(NULL::audit_event, $1)', [JSON.stringify(chained)]);
      await sql.query('UPDATE audit_chain_head SET seq = $1, hash = $2, recorded = $3', [seq, previous, last]);
    });
  }

  private async ensurePartitions(times: Date[]): Promise<void> {
    for (const time of times) {
      const month = monthOf(time);
      if (this.months.has(month)) continue;
      await this.db.query('SELECT audit_event_partition($1)', [time]);
      this.months.add(month);
    }
  }

  /** HMAC of the previous hash and the row's facts (sequence number included), full hex. */
  private hash(previous: string, seq: number, record: AuditRecord): string {
    const facts = canonicalJson({ ...record, seq, recorded: record.recorded.toISOString() });
    return this.key.full(previous, facts);
  }

  /**
   * Events about any of these patients or by this client, oldest first. Only the conditions asked
   * are sent. A client's events come in order from their index; a patient's come from the GIN index,
   * which has no order, so they are found first and then sorted (`OFFSET 0`): otherwise a plan may
   * walk the whole trail in sequence order, filtering, until it has found enough.
   */
  async find(query: { patients?: string[]; client?: string }, limit = 1000): Promise<AuditEvent[]> {
    const values: unknown[] = [];
    const conditions = [
      ...(query.patients?.length ? [`patients && $${values.push(query.patients)}::text[]`] : []),
      ...(query.client ? [`client_id = $${values.push(query.client)}`] : []),
    ];
    if (conditions.length === 0) return [];
    const where = conditions.join(' OR ');
    const found = query.patients?.length ? `(SELECT ${COLUMNS} FROM audit_event WHERE ${where} OFFSET 0) AS found` : `audit_event WHERE ${where}`;
    const { rows } = await this.db.query<Row>(`SELECT ${COLUMNS} FROM ${found} ORDER BY seq LIMIT $${values.push(limit)}`, values);
    return rows.map((row) => auditEvent(recordOf(row)));
  }

  /**
   * Recomputes the chain over every kept row in sequence order, from the start that retention
   * recorded, and checks that it ends at the head: a row changed, inserted or removed anywhere,
   * the tail included, is reported. One snapshot, so that concurrent appends do not interfere.
   */
  async verify(): Promise<ChainCheck> {
    return transaction(this.db, async (sql) => {
      const { rows: heads } = await sql.query<{ seq: string; hash: string; first_seq: string; first_previous: string }>('SELECT seq, hash, first_seq, first_previous FROM audit_chain_head');
      const head = heads[0]!;
      let expectedSeq = Number(head.first_seq);
      let expectedPrevious = head.first_previous;
      let after = BEFORE_ANY_SEQ;
      for (;;) {
        const { rows } = await sql.query<Row>(`SELECT ${COLUMNS} FROM audit_event WHERE seq > $1 ORDER BY seq LIMIT ${VERIFY_PAGE}`, [after]);
        for (const row of rows) {
          if (Number(row.seq) !== expectedSeq || row.previous !== expectedPrevious || this.hash(row.previous, expectedSeq, recordOf(row)) !== row.hash) {
            return { valid: false, events: expectedSeq - Number(head.first_seq), brokenAt: expectedSeq };
          }
          expectedSeq += 1;
          expectedPrevious = row.hash;
        }
        if (rows.length < VERIFY_PAGE) break;
        after = rows[rows.length - 1]!.seq;
      }
      const events = expectedSeq - Number(head.first_seq);
      if (expectedSeq - 1 !== Number(head.seq) || expectedPrevious !== head.hash) return { valid: false, events, brokenAt: expectedSeq };
      return { valid: true, events };
    }, 'snapshot');
  }

  /** Drops every month that ended more than `retentionDays` ago; the chain then starts at the oldest row kept. */
  async trim(retentionDays: number, now = Date.now()): Promise<number> {
    const { rows } = await this.db.query<{ dropped: number }>('SELECT audit_event_drop_before($1) AS dropped', [new Date(now - retentionDays * 86_400_000)]);
    return rows[0]!.dropped;
  }
}
