import type { ServiceRequest, Task } from 'fhir/r4.js';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { MasterDataIds } from './master-data.js';
import type { IntakeDependencies, ReferralChannelName } from './submit-referral.js';

declare module 'fastify' {
  interface FastifyInstance {
    intake: IntakeDependencies;
  }
  interface FastifyContextConfig {
    /** A route that takes referrals: its refusals are counted in `wor_referrals_total` under this channel. */
    referralChannel?: ReferralChannelName;
  }
}

/**
 * Refusals of a referral request: any 4xx but a missing or unfit token (401, 403) or the rate limit
 * (429), which refuse the caller rather than the referral. Written and replayed referrals are counted
 * by submitReferral, whichever channel brought them.
 */
const isRefusal = (status: number) => status >= 400 && status < 500 && ![401, 403, 429].includes(status);

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
      if (channel && isRefusal(reply.statusCode)) app.intake.countReferral(channel, 'refused');
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
