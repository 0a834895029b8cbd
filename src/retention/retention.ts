import type { FastifyBaseLogger } from 'fastify';
import type { Communication, Reference, ServiceRequest, Task } from 'fhir/r4.js';
import type { Redis } from 'ioredis';
import { NAMING_SYSTEM } from '../fhir/profiles.js';
import type { Keys } from '../store/keys.js';
import type { ResourceStore } from '../store/resource-store.js';
import type { InboundService } from '../intake/portal/inbound-service.js';
import type { TeamQueues } from '../queue/team-queues.js';
import { isFinished, TRANSITIONS } from '../tasks/state-machine.js';
import { teamOfTask } from '../tasks/task-service.js';

const FINISHED = (Object.keys(TRANSITIONS) as Task['status'][]).filter(isFinished);
const refOf = (reference: Reference | undefined): [string, string] | undefined => {
  const [type, id] = reference?.reference?.split('/') ?? [];
  return type && id ? [type, id] : undefined;
};

/**
 * Erases referrals that ended longer ago than the retention period: every resource of the referral
 * with all its versions and index entries, its feedback, its idempotency records, its timers, what
 * the queues still hold of it, and the portal documents it came from. The audit trail stays (it has
 * its own retention).
 */
export class Retention {
  constructor(
    private readonly store: ResourceStore,
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly queues: TeamQueues,
    private readonly inbound: InboundService,
    private readonly log: FastifyBaseLogger,
  ) {}

  /** Erases what ended before `cutoff`; returns how many referrals. */
  async sweep(cutoff: Date): Promise<number> {
    const { resources: ended } = await this.store.search({
      type: 'Task',
      filters: [FINISHED.map((status): [string, string] => ['status', status])],
      lastUpdated: { max: cutoff.getTime() },
      offset: 0,
      count: 100,
    });
    for (const task of ended as Task[]) await this.erase(task);
    if (ended.length > 0) this.log.info({ erased: ended.length }, 'retention: ended referrals erased');
    return ended.length;
  }

  private async erase(task: Task): Promise<void> {
    const serviceRequestRef = refOf(task.focus);
    const request = serviceRequestRef ? await this.store.read<ServiceRequest>(...serviceRequestRef) : undefined;
    const roleRef = refOf(request?.resource.requester);
    const role = roleRef ? await this.store.read<{ resourceType: 'PractitionerRole'; practitioner?: Reference; organization?: Reference }>(...roleRef) : undefined;
    const { resources: feedback } = await this.store.search({
      type: 'Communication',
      filters: [[['based-on', `ServiceRequest/${request?.resource.id}`]]],
      offset: 0,
      count: 100,
    });
    const refs = [
      ['Task', task.id!] as [string, string],
      serviceRequestRef,
      refOf(task.for),
      roleRef,
      refOf(role?.resource.practitioner),
      refOf(role?.resource.organization),
      ...(request?.resource.supportingInfo ?? []).map(refOf),
      ...feedback.map((communication) => ['Communication', communication.id!] as [string, string]),
    ].filter((ref): ref is [string, string] => Boolean(ref));

    const team = teamOfTask(task);
    const identifier = request?.resource.identifier?.[0];
    const recordKey = request ? await this.redis.get(this.keys.referralRecordOf(request.resource.id!)) : null;
    const guards = [
      ...(recordKey ? [recordKey, this.keys.referralRecordOf(request!.resource.id!)] : []),
      ...(feedback as Communication[]).map((communication) => {
        const id = communication.identifier?.[0];
        return this.keys.communication(`${id?.system}|${id?.value}`);
      }),
      this.keys.leaseOfTask(task.id!),
      ...(await this.portalDocuments(identifier?.system, identifier?.value)),
    ];
    await this.redis.multi().zrem(this.keys.pickupDeadlines(team), task.id!).zrem(this.keys.contactDeadlines(team), task.id!).exec();
    if (this.queues.has(team)) await (await this.queues.job(team, task.id!))?.remove().catch(() => undefined);
    await this.store.erase(refs, guards);
  }

  /** The stored portal documents (raw, with patient data) of a portal referral, and their guards. */
  private async portalDocuments(system: string | undefined, zdNumber: string | undefined): Promise<string[]> {
    if (!system?.startsWith(NAMING_SYSTEM.portalReferral('')) || !zdNumber) return [];
    return this.inbound.documentKeys(system.slice(NAMING_SYSTEM.portalReferral('').length), zdNumber);
  }
}
