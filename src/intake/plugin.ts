import type { ServiceRequest, Task } from 'fhir/r4.js';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { MasterDataIds } from './master-data.js';
import type { IntakeDependencies, ReferralChannelName, ReferralOutcome } from './submit-referral.js';

declare module 'fastify' {
  interface FastifyInstance {
    intake: IntakeDependencies;
  }
  interface FastifyContextConfig {
    /** A route that takes referrals: its answers are counted in `wor_referrals_total` under this channel. */
    referralChannel?: ReferralChannelName;
  }
}

/** How a referral request ended, by its answer: written, answered again, or refused (any 4xx). */
const outcomeOf = (status: number): ReferralOutcome | undefined =>
  status === 201 ? 'created' : status === 200 ? 'replayed' : status >= 400 && status < 500 ? 'refused' : undefined;

/** What a Task's end means for the referral it fulfils. */
const SERVICE_REQUEST_STATUS_AFTER: Partial<Record<Task['status'], ServiceRequest['status']>> = {
  cancelled: 'revoked',
  completed: 'completed',
};

/** The referral intake's shared services, and the ServiceRequest following the end of its Task. */
export default fp(
  async function intake(app: FastifyInstance) {
    app.decorate('intake', {
      store: app.store,
      outbox: app.outbox,
      timers: app.deadlineTimers,
      directory: app.directory,
      masterDataIds: new MasterDataIds(app.config.WOR_SECRET),
      db: app.db,
      countReferral: (channel, outcome) => app.metrics.referrals.inc({ channel, outcome }),
    });
    app.addHook('onResponse', async (request, reply) => {
      const channel = request.routeOptions.config?.referralChannel;
      const outcome = outcomeOf(reply.statusCode);
      if (channel && outcome) app.intake.countReferral(channel, outcome);
    });
    app.tasks.onChange(async ({ task }) => {
      const requestId = task.focus?.reference?.split('/')[1];
      const next = SERVICE_REQUEST_STATUS_AFTER[task.status];
      if (!requestId || !next) return;
      await app.store.update<ServiceRequest>('ServiceRequest', requestId, (current) =>
        current.resource.status === 'active' ? { ...current.resource, status: next } : undefined,
      );
    });
  },
  { name: 'intake', dependencies: ['store', 'outbox', 'feedback', 'directory', 'tasks', 'metrics'] },
);
