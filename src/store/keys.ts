import { createHash } from 'node:crypto';

const digests = new Map<string, string>();

/**
 * Every Redis key the service owns. Values that come from requests (identifiers, BSNs, codes) are
 * hashed before they become part of a key name: key names show up in operator tooling, and a BSN
 * must not.
 */
export class Keys {
  constructor(readonly prefix: string) {}

  static digest(value: string): string {
    let digest = digests.get(value);
    if (!digest) {
      digest = createHash('sha256').update(value).digest('base64url').slice(0, 22);
      // Index values repeat (statuses, teams, references of busy referrals): remember recent ones.
      if (digests.size >= 50_000) digests.clear();
      digests.set(value, digest);
    }
    return digest;
  }

  /** Hash: `v` (current version), `acl` (JSON tenancy tags), and one field per version with its JSON. */
  resource(type: string, id: string): string {
    return `${this.prefix}:res:${type}:${id}`;
  }

  /**
   * Sorted set (score: lastUpdated in ms) of the ids of `type` that a tenant may see and whose
   * search parameter `param` has `value`. Kept per tenant, so that a search reads one page of
   * one set instead of intersecting a tenant's whole history: its cost does not grow with the store.
   */
  index(type: string, param: string, value: string, tag: string): string {
    return `${this.prefix}:idx:${type}:${param}:${Keys.digest(value)}:${tag}`;
  }

  /** Sorted set (score: lastUpdated in ms) of the ids of `type` a tenant may see. */
  tenancy(type: string, tag: string): string {
    return `${this.prefix}:ten:${type}:${tag}`;
  }

  /** Idempotency record of a referral, per referring party and its own referral id. */
  referral(party: string, referralId: string): string {
    return `${this.prefix}:referral:${party}:${Keys.digest(referralId)}`;
  }

  /** Which idempotency record (key) belongs to a ServiceRequest, so that erasure finds it. */
  referralRecordOf(serviceRequestId: string): string {
    return `${this.prefix}:referral-of:${serviceRequestId}`;
  }

  /** Messages committed with a write and not yet handed on (score: time written, ms). */
  get outbox(): string {
    return `${this.prefix}:outbox`;
  }

  /** Idempotency guard of a Communication, by its business identifier. */
  communication(identifier: string): string {
    return `${this.prefix}:communication:${Keys.digest(identifier)}`;
  }

  /** Sorted set of the team's Tasks whose patient has not been contacted yet (score: contact deadline, ms). */
  contactDeadlines(teamId: string): string {
    return `${this.prefix}:contact:${teamId}`;
  }

  /** A coach system's lease on a queued Task: JSON {team, taskId}. */
  lease(leaseId: string): string {
    return `${this.prefix}:lease:${leaseId}`;
  }

  /** The current lease id of a Task, while one is held. */
  leaseOfTask(taskId: string): string {
    return `${this.prefix}:lease-of:${taskId}`;
  }

  /** Sorted set of the team's Tasks not yet accepted (score: pick-up deadline, ms). */
  pickupDeadlines(teamId: string): string {
    return `${this.prefix}:pickup:${teamId}`;
  }

  /** Pub/sub channel on which a team id is published when work becomes claimable. */
  get queueSignal(): string {
    return `${this.prefix}:queue-signal`;
  }

  /** A portal document as received: raw text, envelope and conversion status (hash). */
  inboundMessage(messageId: string): string {
    return `${this.prefix}:inbound:msg:${messageId}`;
  }

  /** The message id of a portal's document id (duplicate pushes answer with the first). */
  inboundDocument(portalId: string, documentId: string): string {
    return `${this.prefix}:inbound:doc:${portalId}:${Keys.digest(documentId)}`;
  }

  /** Guard that a document's attachments were stored once, whatever retries follow. */
  inboundAttached(messageId: string): string {
    return `${this.prefix}:inbound:attached:${messageId}`;
  }

  get scratch(): string {
    return `${this.prefix}:tmp`;
  }
}
