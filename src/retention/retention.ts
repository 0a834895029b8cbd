import type { FastifyBaseLogger } from 'fastify';
import type { Reference, ServiceRequest, Task } from 'fhir/r4.js';
import { portalTag } from '../auth/caller.js';
import type { DeadlineTimers } from '../feedback/deadline-timers.js';
import { NAMING_SYSTEM } from '../fhir/profiles.js';
import { masterDataUse } from '../intake/master-data.js';
import type { InboundService } from '../intake/portal/inbound-service.js';
import type { LeaseService } from '../queue/lease-service.js';
import type { ResourceStore } from '../store/resource-store.js';
import { isFinished, TRANSITIONS } from '../tasks/state-machine.js';
import { teamOfTask } from '../tasks/task-service.js';

const FINISHED = (Object.keys(TRANSITIONS) as Task['status'][]).filter(isFinished);
const refOf = (reference: Reference | undefined): [string, string] | undefined => {
  const [type, id] = reference?.reference?.split('/') ?? [];
  return type && id ? [type, id] : undefined;
};

export interface RetentionOptions {
  store: ResourceStore;
  timers: DeadlineTimers;
  leases: LeaseService;
  inbound: InboundService;
  log: FastifyBaseLogger;
}

/**
 * Erases referrals that ended longer ago than the retention period: every resource of the referral
 * with all its versions and index entries (its Patient, Practitioner, PractitionerRole and practice
 * Organization only when no other referral uses them), its feedback, the idempotency records it owns, its timers,
 * what the queue still holds of it, and the portal documents it came from — in one transaction,
 * each domain erasing its own tables. The audit trail stays (it has its own retention).
 */
export class Retention {
  constructor(private readonly options: RetentionOptions) {}

  /** Erases what ended before `cutoff`; returns how many referrals. */
  async sweep(cutoff: Date): Promise<number> {
    const { resources: ended } = await this.options.store.search({
      type: 'Task',
      filters: [FINISHED.map((status): [string, string] => ['status', status])],
      lastUpdated: { max: cutoff.getTime() },
      count: 100,
    });
    for (const task of ended as Task[]) await this.erase(task);
    if (ended.length > 0) this.options.log.info({ erased: ended.length }, 'retention: ended referrals erased');
    return ended.length;
  }

  private async erase(task: Task): Promise<void> {
    const serviceRequestRef = refOf(task.focus);
    const request = serviceRequestRef ? await this.options.store.read<ServiceRequest>(...serviceRequestRef) : undefined;
    const roleRef = refOf(request?.resource.requester);
    const role = roleRef ? await this.options.store.read<{ resourceType: 'PractitionerRole'; practitioner?: Reference; organization?: Reference }>(...roleRef) : undefined;
    const { resources: feedback } = await this.options.store.search({
      type: 'Communication',
      filters: [[['based-on', `ServiceRequest/${request?.resource.id}`]]],
      count: 100,
    });
    const own = [
      ['Task', task.id!] as [string, string],
      serviceRequestRef,
      ...(request?.resource.supportingInfo ?? []).map(refOf),
      ...feedback.map((communication) => ['Communication', communication.id!] as [string, string]),
    ].filter((ref): ref is [string, string] => Boolean(ref));
    // Master data is shared by every referral naming the same patient or practitioner: it goes with
    // the last referral that uses it.
    const master = [refOf(task.for), roleRef, refOf(role?.resource.practitioner), refOf(role?.resource.organization)].filter(
      (ref): ref is [string, string] => Boolean(ref),
    );

    await this.options.leases.erase(teamOfTask(task), task.id!);
    await this.options.store.erase(own, [
      this.options.timers.erase(task.id!),
      ...(request ? [this.options.inbound.erase(request.resource.id!, submittingPortal(request.resource, request.acl)), masterDataUse.release(request.resource.id!)] : []),
      this.options.store.eraseUnused(master, masterDataUse.inUse(master)),
    ]);
  }
}

/**
 * The portal that submitted a referral, if one did: its identifier is under that portal's own system
 * and the portal is in its tenancy. A GP cannot make a portal's documents its own by using that system.
 */
function submittingPortal(request: ServiceRequest, acl: string[]): { portal: string; zdNumber: string } | undefined {
  const prefix = NAMING_SYSTEM.portalReferral('');
  const identifier = request.identifier?.find((candidate) => candidate.system?.startsWith(prefix));
  const portal = identifier?.system?.slice(prefix.length);
  return portal && identifier?.value && acl.includes(portalTag(portal)) ? { portal, zdNumber: identifier.value } : undefined;
}
