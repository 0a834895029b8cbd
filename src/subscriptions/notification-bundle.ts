import { randomUUID } from 'node:crypto';
import type { Bundle, BundleEntry, Parameters, ParametersParameter } from 'fhir/r4.js';
import { BACKPORT, type PayloadContent, type SubscriptionRecord } from './subscription-resource.js';

export type NotificationType = 'handshake' | 'heartbeat' | 'event-notification' | 'query-status' | 'query-event';

/** One numbered event of a subscription (table `subscription_event`). */
export interface NumberedEvent {
  number: number;
  focus: string;
  created: boolean;
  occurredAt: Date;
}

const STATUS_PROFILE = `${BACKPORT}/backport-subscription-status-r4`;
const NOTIFICATION_PROFILE = `${BACKPORT}/backport-subscription-notification-r4`;

/**
 * The SubscriptionStatus in the backport's R4 form (a Parameters resource): the subscription, its
 * topic and status, how many events it has had, and the events this notification is about. With
 * `empty` content an event carries its number and time only; with `id-only` also its focus.
 */
export function subscriptionStatus(baseUrl: string, subscription: SubscriptionRecord, type: NotificationType, events: NumberedEvent[], content: PayloadContent): Parameters {
  const parameter: ParametersParameter[] = [
    { name: 'subscription', valueReference: { reference: `${baseUrl}/fhir/Subscription/${subscription.id}` } },
    { name: 'topic', valueCanonical: subscription.topic },
    { name: 'status', valueCode: subscription.status },
    { name: 'type', valueCode: type },
    { name: 'events-since-subscription-start', valueString: String(subscription.eventsSinceStart) },
    ...events.map((event) => ({
      name: 'notification-event',
      part: [
        { name: 'event-number', valueString: String(event.number) },
        { name: 'timestamp', valueInstant: event.occurredAt.toISOString() },
        ...(content === 'id-only' ? [{ name: 'focus', valueReference: { reference: `${baseUrl}/fhir/${event.focus}` } }] : []),
      ],
    })),
    ...(subscription.error ? [{ name: 'error', valueCodeableConcept: { text: subscription.error } }] : []),
  ];
  return { resourceType: 'Parameters', id: randomUUID(), meta: { profile: [STATUS_PROFILE] }, parameter };
}

/**
 * A notification Bundle (type `history`): the SubscriptionStatus first, then — with `id-only` —
 * one entry per focus naming it by its full URL, without its content.
 */
export function notificationBundle(baseUrl: string, subscription: SubscriptionRecord, type: NotificationType, events: NumberedEvent[], content = subscription.content): Bundle {
  const status = subscriptionStatus(baseUrl, subscription, type, events, content);
  const focusEntries: BundleEntry[] =
    content === 'id-only'
      ? events.map((event) => ({
          fullUrl: `${baseUrl}/fhir/${event.focus}`,
          request: { method: event.created ? 'POST' : 'PUT', url: event.created ? event.focus.split('/')[0]! : event.focus },
          response: { status: event.created ? '201' : '200' },
        }))
      : [];
  return {
    resourceType: 'Bundle',
    id: randomUUID(),
    meta: { profile: [NOTIFICATION_PROFILE] },
    type: 'history',
    timestamp: new Date().toISOString(),
    entry: [
      {
        fullUrl: `urn:uuid:${status.id}`,
        resource: status,
        request: { method: 'GET', url: `Subscription/${subscription.id}/$status` },
        response: { status: '200' },
      },
      ...focusEntries,
    ],
  };
}

/** `$status`: a searchset of SubscriptionStatus Parameters, one per subscription. */
export function statusBundle(baseUrl: string, subscriptions: SubscriptionRecord[]): Bundle {
  return {
    resourceType: 'Bundle',
    id: randomUUID(),
    type: 'searchset',
    total: subscriptions.length,
    entry: subscriptions.map((subscription) => {
      const status = subscriptionStatus(baseUrl, subscription, 'query-status', [], subscription.content);
      return { fullUrl: `urn:uuid:${status.id}`, resource: status, search: { mode: 'match' } };
    }),
  };
}
