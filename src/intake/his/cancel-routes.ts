import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { practiceTag } from '../../auth/caller.js';
import type { Config } from '../../config.js';
import { collectionBundle } from '../../fhir/bundle.js';
import { FHIR_JSON } from '../../fhir/media-type.js';
import { notFound } from '../../fhir/operation-outcome.js';
import { parseOrThrow } from '../../fhir/validation.js';
import type { ResourceStore } from '../../store/resource-store.js';
import type { TaskService } from '../../tasks/task-service.js';
import { cancelReferral } from '../cancel-referral.js';
import { findReferral, type IntakeDependencies } from '../submit-referral.js';

export const cancelBody = z.strictObject({ reason: z.string().trim().min(1, 'a reason is required').max(2000) });

export interface HisCancelRouteOptions {
  config: Config;
  intake: IntakeDependencies;
  store: ResourceStore;
  tasks: TaskService;
}

/** `POST /referrals/{referralId}/cancel`: the practice withdraws its own referral (contract §5.4). */
export default async function hisCancelRoutes(app: FastifyInstance, { config, intake, store, tasks }: HisCancelRouteOptions) {
  app.post<{ Params: { referralId: string } }>('/referrals/:referralId/cancel', { config: { roles: ['gp'], scope: 'ServiceRequest.u' } }, async (request, reply) => {
    const { caller } = request;
    const { reason } = parseOrThrow(cancelBody, request.body);
    const ids = await findReferral(intake, practiceTag(caller.org), request.params.referralId);
    if (!ids) throw notFound('Referral');
    const { task, serviceRequest } = await cancelReferral(store, tasks, ids.task, reason, 'referrer');
    return reply.type(FHIR_JSON).send(collectionBundle(config.PUBLIC_BASE_URL, serviceRequest ? [serviceRequest, task] : [task]));
  });
}
