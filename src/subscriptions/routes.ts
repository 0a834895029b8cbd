import type { FastifyInstance } from 'fastify';
import { ANY_ROLE } from '../auth/route-access.js';
import type { Config } from '../config.js';
import { searchsetBundle } from '../fhir/bundle.js';
import { FHIR_JSON } from '../fhir/media-type.js';
import { badRequest, FhirError, notFound } from '../fhir/operation-outcome.js';
import { onlyParameters } from '../fhir/parameters.js';
import { parseIfMatch, sendResource } from '../fhir/etag.js';
import { notificationBundle, statusBundle } from './notification-bundle.js';
import type { NotificationQueue } from './notification-queue.js';
import type { SubscriptionService } from './subscription-service.js';
import { parseSubscription, subscriptionResource } from './subscription-resource.js';
import { FHIR_TYPES, topicById, topicResource, TOPICS } from './topics.js';

interface IdParams {
  id: string;
}

/**
 * Who may do what with Subscriptions, in one place: gp and coach clients for their own tenancy,
 * with the matching scope; an operator may look (read, search, `$status`, `$events`) but not subscribe.
 */
const look = (interaction: 'r' | 's') => ({ config: { roles: ['gp', 'coach', 'operator'], scope: `Subscription.${interaction}` } }) as const;
const subscribe = (interaction: 'c' | 'u' | 'd') => ({ config: { roles: ['gp', 'coach'], scope: `Subscription.${interaction}` } }) as const;

export interface SubscriptionRouteOptions {
  config: Config;
  subscriptions: SubscriptionService;
  notifications: NotificationQueue;
}

const eventNumber = (value: string | undefined, name: string) => {
  if (value === undefined) return undefined;
  if (!/^[0-9]{1,15}$/.test(value)) throw badRequest(`${name} must be a whole number`, name);
  return Number(value);
};

/**
 * Subscriptions (Subscriptions Backport IG, R4): the topics as Basic resources, Subscription
 * create/read/search/update/delete within the caller's tenancy, `$status` and `$events`.
 */
export default async function subscriptionRoutes(app: FastifyInstance, { config, subscriptions, notifications }: SubscriptionRouteOptions) {
  const base = config.PUBLIC_BASE_URL;

  // The topics hold no patient data: any authenticated caller may read them.
  app.get<{ Querystring: Record<string, string> }>('/fhir/Basic', { config: { roles: ANY_ROLE } }, async (request, reply) => {
    onlyParameters(request.query, ['code']);
    const { code } = request.query;
    const found = code === undefined || code === 'SubscriptionTopic' || code === `${FHIR_TYPES}|SubscriptionTopic` ? TOPICS.map(topicResource) : [];
    return reply.type(FHIR_JSON).send(searchsetBundle(base, found.length, found, [], [{ relation: 'self', url: `${base}/fhir/Basic` }]));
  });
  app.get<{ Params: IdParams }>('/fhir/Basic/:id', { config: { roles: ANY_ROLE } }, async (request, reply) => {
    const topic = topicById(request.params.id);
    if (!topic) throw notFound(`Basic/${request.params.id}`);
    return reply.type(FHIR_JSON).send(topicResource(topic));
  });

  app.post('/fhir/Subscription', subscribe('c'), async (request, reply) => {
    const { caller } = request;
    const subscription = await subscriptions.create(caller, parseSubscription(request.body));
    if (subscription.status === 'requested') await notifications.handshake(subscription);
    reply.header('location', `${base}/fhir/Subscription/${subscription.id}/_history/${subscription.version}`);
    return sendResource(reply, subscriptionResource(subscription), 201);
  });

  app.get<{ Querystring: Record<string, string> }>('/fhir/Subscription', look('s'), async (request, reply) => {
    const { caller } = request;
    onlyParameters(request.query, ['status']);
    const found = (await subscriptions.search(caller, request.query.status)).map(subscriptionResource);
    return reply.type(FHIR_JSON).send(searchsetBundle(base, found.length, found, [], [{ relation: 'self', url: `${base}/fhir/Subscription` }]));
  });

  app.get('/fhir/Subscription/$status', look('r'), async (request, reply) => {
    const { caller } = request;
    return reply.type(FHIR_JSON).send(statusBundle(base, await subscriptions.search(caller)));
  });

  app.get<{ Params: IdParams }>('/fhir/Subscription/:id', look('r'), async (request, reply) => {
    const { caller } = request;
    return sendResource(reply, subscriptionResource(await subscriptions.read(caller, request.params.id)));
  });

  app.put<{ Params: IdParams }>('/fhir/Subscription/:id', subscribe('u'), async (request, reply) => {
    const { caller } = request;
    const body = request.body as { id?: unknown } | undefined;
    if (body?.id !== request.params.id) throw badRequest('The id in the body must match the id in the URL', 'Subscription.id');
    const subscription = await subscriptions.update(caller, request.params.id, parseSubscription(body), parseIfMatch(request.headers['if-match']));
    if (subscription.status === 'requested') await notifications.handshake(subscription);
    return sendResource(reply, subscriptionResource(subscription));
  });

  app.delete<{ Params: IdParams }>('/fhir/Subscription/:id', subscribe('d'), async (request, reply) => {
    const { caller } = request;
    await subscriptions.delete(caller, request.params.id);
    return reply.code(204).send();
  });

  app.get<{ Params: IdParams }>('/fhir/Subscription/:id/$status', look('r'), async (request, reply) => {
    const { caller } = request;
    return reply.type(FHIR_JSON).send(statusBundle(base, [await subscriptions.read(caller, request.params.id)]));
  });

  /** `$events`: the numbered events again, for a receiver that saw a gap (at most 100 per call). */
  app.get<{ Params: IdParams; Querystring: Record<string, string> }>('/fhir/Subscription/:id/$events', look('r'), async (request, reply) => {
    // Another tenant's subscription is missing, whatever was asked of it: found first, then the parameters.
    const subscription = await subscriptions.read(request.caller, request.params.id);
    onlyParameters(request.query, ['eventsSinceNumber', 'eventsUntilNumber', 'content']);
    const { content } = request.query;
    if (content === 'full-resource') throw new FhirError(422, { code: 'not-supported', expression: 'content', diagnostics: 'full-resource is refused: read the resources with your own token' });
    if (content !== undefined && content !== 'empty' && content !== 'id-only') throw badRequest('content must be empty or id-only', 'content');
    const since = eventNumber(request.query.eventsSinceNumber, 'eventsSinceNumber');
    const until = eventNumber(request.query.eventsUntilNumber, 'eventsUntilNumber');
    const events = await subscriptions.events(subscription, since, until);
    return reply.type(FHIR_JSON).send(notificationBundle(base, subscription, 'query-event', events, content ?? subscription.content));
  });
}
