import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { IntakeDependencies, ReferralChannelName } from './submit-referral.js';

declare module 'fastify' {
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

/** Counts the refused referral requests of every route that declares its `referralChannel`. */
export default fp(
  async function referralRefusals(app: FastifyInstance, { intake }: { intake: IntakeDependencies }) {
    app.addHook('onResponse', async (request, reply) => {
      const channel = request.routeOptions.config?.referralChannel;
      if (channel && isRefusal(reply.statusCode)) intake.countReferral(channel, 'refused');
    });
  },
  { name: 'referral-refusals' },
);
