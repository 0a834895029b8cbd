import type { CapabilityStatementRestResource } from 'fhir/r4.js';
import { BACKPORT, SUBSCRIPTION_PROFILE } from './subscription-resource.js';
import { TOPICS } from './topics.js';

const OPERATIONS = 'http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition';

/**
 * What /fhir offers for Subscriptions, as the backport IG asks a server to say: the topics it
 * supports (by canonical URL, on the Subscription resource), `$status` and `$events`, and the
 * topics themselves as Basic resources.
 */
export const SUBSCRIPTION_CAPABILITIES: CapabilityStatementRestResource[] = [
  {
    type: 'Subscription',
    supportedProfile: [SUBSCRIPTION_PROFILE],
    extension: TOPICS.map((topic) => ({ url: `${BACKPORT}/capabilitystatement-subscriptiontopic-canonical`, valueCanonical: topic.url })),
    interaction: [{ code: 'read' }, { code: 'create' }, { code: 'update' }, { code: 'delete' }, { code: 'search-type' }],
    searchParam: [{ name: 'status', type: 'token' }],
    operation: [
      { name: 'status', definition: `${OPERATIONS}/backport-subscription-status` },
      { name: 'events', definition: `${OPERATIONS}/backport-subscription-events` },
    ],
  },
  {
    type: 'Basic',
    documentation: 'The SubscriptionTopics this server publishes (code SubscriptionTopic)',
    interaction: [{ code: 'read' }, { code: 'search-type' }],
    searchParam: [{ name: 'code', type: 'token' }],
  },
];
