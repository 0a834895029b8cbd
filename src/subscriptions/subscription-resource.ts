import type { Subscription } from 'fhir/r4.js';
import { z } from 'zod';
import { FhirError, unprocessable, type Issue } from '../fhir/operation-outcome.js';
import { parseOrThrow } from '../fhir/validation.js';
import { topicByUrl, type Topic } from './topics.js';

/** The Subscriptions Backport IG's canonical URLs (extensions and profiles for R4). */
export const BACKPORT = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition';
const EXT = {
  filter: `${BACKPORT}/backport-filter-criteria`,
  content: `${BACKPORT}/backport-payload-content`,
  heartbeat: `${BACKPORT}/backport-heartbeat-period`,
  timeout: `${BACKPORT}/backport-timeout`,
  maxCount: `${BACKPORT}/backport-max-count`,
};
export const SUBSCRIPTION_PROFILE = `${BACKPORT}/backport-subscription`;

export type PayloadContent = 'empty' | 'id-only';

/** A subscription as stored (table `subscription`). */
export interface SubscriptionRecord {
  id: string;
  tenant: string;
  version: number;
  topic: string;
  filter: Record<string, string>;
  endpoint: string;
  headers: string[];
  content: PayloadContent;
  heartbeatSeconds: number | null;
  timeoutSeconds: number | null;
  endAt: Date | null;
  reason: string | null;
  status: 'requested' | 'active' | 'error' | 'off';
  error: string | null;
  eventsSinceStart: number;
  updatedAt: Date;
}

/** What a client asks for; the service decides the status and the numbering. */
export type SubscriptionRequest = Pick<SubscriptionRecord, 'topic' | 'filter' | 'endpoint' | 'headers' | 'content' | 'heartbeatSeconds' | 'timeoutSeconds' | 'endAt' | 'reason'> & {
  /** `off` pauses it; anything else asks for (re)activation through a handshake. */
  off: boolean;
};

const valueOf = <K extends string>(extensions: Array<Record<string, unknown>> | undefined, url: string, key: K) =>
  extensions?.find((extension) => extension.url === url)?.[key] as unknown;

const extension = z.object({ url: z.string() }).passthrough();
const RESERVED_HEADERS = /^(host|content-type|content-length|connection|transfer-encoding):/i;

/** Unknown elements are refused rather than ignored: a receiver must not believe it got what it asked for. */
export const subscriptionSchema = z.strictObject({
  resourceType: z.literal('Subscription'),
  id: z.string().optional(),
  meta: z.object({}).passthrough().optional(),
  text: z.object({}).passthrough().optional(),
  contact: z.array(z.object({}).passthrough()).optional(),
  status: z.enum(['requested', 'active', 'error', 'off']),
  reason: z.string().max(500),
  criteria: z.string().url(),
  _criteria: z.object({ extension: z.array(extension).optional() }).passthrough().optional(),
  end: z.string().datetime({ offset: true }).optional(),
  error: z.string().optional(),
  channel: z.strictObject({
    type: z.literal('rest-hook', { error: 'only rest-hook channels are supported' }),
    endpoint: z.string().url(),
    payload: z.enum(['application/fhir+json', 'application/json'], { error: 'payload must be application/fhir+json' }),
    _payload: z.object({ extension: z.array(extension).optional() }).passthrough().optional(),
    header: z
      .array(
        z
          .string()
          .regex(/^[A-Za-z0-9-]{1,64}: ?[^\r\n]{1,2000}$/, 'a header is written as "Name: value"')
          .refine((header) => !RESERVED_HEADERS.test(header), 'the service sets Host, Content-Type, Content-Length, Connection and Transfer-Encoding itself'),
      )
      .max(10)
      .optional(),
    extension: z.array(extension).optional(),
  }),
});

const refuse = (diagnostics: string, expression: string, code: Issue['code'] = 'invalid') => new FhirError(422, { code, diagnostics, expression });

/**
 * Reads a Subscription a client sent: the topic must be one of ours, the content `empty` or
 * `id-only` (a notification never carries patient data), the filter one the topic offers.
 */
export function parseSubscription(body: unknown): SubscriptionRequest {
  const resource = parseOrThrow(subscriptionSchema, body, 'Subscription');
  const topic = topicByUrl(resource.criteria);
  if (!topic) throw refuse(`Unknown topic ${resource.criteria}; see GET /fhir/Basic?code=SubscriptionTopic`, 'Subscription.criteria', 'not-supported');
  const content = valueOf(resource.channel._payload?.extension, EXT.content, 'valueCode') ?? 'id-only';
  if (content === 'full-resource') {
    throw refuse('full-resource is refused: a notification carries no patient data; use id-only and read the resource with your own token', 'Subscription.channel.payload', 'not-supported');
  }
  if (content !== 'empty' && content !== 'id-only') throw refuse('payload content must be empty or id-only', 'Subscription.channel.payload');
  const seconds = (url: string, name: string, max: number) => {
    const value = valueOf(resource.channel.extension, url, 'valueUnsignedInt');
    if (value === undefined) return null;
    if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > max) throw refuse(`${name} must be a whole number of seconds from 1 to ${max}`, 'Subscription.channel.extension');
    return value as number;
  };
  const filters = resource._criteria?.extension?.filter((item) => item.url === EXT.filter).map((item) => item.valueString) ?? [];
  return {
    topic: topic.url,
    filter: parseFilters(topic, filters),
    endpoint: resource.channel.endpoint,
    headers: resource.channel.header ?? [],
    content,
    heartbeatSeconds: seconds(EXT.heartbeat, 'heartbeat period', 86_400),
    timeoutSeconds: seconds(EXT.timeout, 'timeout', 60),
    endAt: resource.end ? new Date(resource.end) : null,
    reason: resource.reason,
    off: resource.status === 'off',
  };
}

/** `Task?owner=Organization/x`: the topic's resource, its one filter parameter, one value. */
function parseFilters(topic: Topic, filters: unknown[]): Record<string, string> {
  const filter: Record<string, string> = {};
  for (const text of filters) {
    const match = typeof text === 'string' ? /^([A-Za-z]+)\?([a-z-]+)=([A-Za-z]+\/[A-Za-z0-9.-]{1,64})$/.exec(text) : null;
    if (!match || match[1] !== topic.filter.resource || match[2] !== topic.filter.parameter || filter[match[2]] !== undefined) {
      throw refuse(`This topic filters on ${topic.filter.resource}?${topic.filter.parameter}={reference}, once`, 'Subscription.criteria.extension');
    }
    filter[match[2]] = match[3]!;
  }
  return filter;
}

/** The Subscription as the service holds it, in the backport's R4 form. */
export function subscriptionResource(record: SubscriptionRecord): Subscription {
  const filters = Object.entries(record.filter).map(([name, value]) => ({ url: EXT.filter, valueString: `${topicByUrl(record.topic)!.filter.resource}?${name}=${value}` }));
  const channelExtensions = [
    ...(record.heartbeatSeconds ? [{ url: EXT.heartbeat, valueUnsignedInt: record.heartbeatSeconds }] : []),
    ...(record.timeoutSeconds ? [{ url: EXT.timeout, valueUnsignedInt: record.timeoutSeconds }] : []),
    { url: EXT.maxCount, valuePositiveInt: 1 },
  ];
  return {
    resourceType: 'Subscription',
    id: record.id,
    meta: { versionId: String(record.version), lastUpdated: record.updatedAt.toISOString(), profile: [SUBSCRIPTION_PROFILE] },
    status: record.status,
    reason: record.reason ?? 'wor-bridge notifications',
    criteria: record.topic,
    ...(filters.length ? { _criteria: { extension: filters } } : {}),
    ...(record.endAt ? { end: record.endAt.toISOString() } : {}),
    ...(record.error ? { error: record.error } : {}),
    channel: {
      type: 'rest-hook',
      endpoint: record.endpoint,
      payload: 'application/fhir+json',
      _payload: { extension: [{ url: EXT.content, valueCode: record.content }] },
      ...(record.headers.length ? { header: record.headers.map(maskHeader) } : {}),
      extension: channelExtensions,
    },
  } as Subscription;
}

/**
 * Header values are the receiver's credentials: a Subscription is read with them masked
 * (`Authorization: ***`), and a masked header sent back in an update keeps the value stored.
 */
const MASK = '***';
const headerName = (header: string) => header.slice(0, header.indexOf(':')).toLowerCase();
const maskHeader = (header: string) => `${header.slice(0, header.indexOf(':'))}: ${MASK}`;

/** The headers of an update, each masked one replaced by the stored header of that name. */
export function unmaskHeaders(asked: string[], stored: string[]): string[] {
  return asked.map((header, index) => {
    if (header.slice(header.indexOf(':') + 1).trim() !== MASK) return header;
    const kept = stored.find((candidate) => headerName(candidate) === headerName(header));
    if (!kept) throw unprocessable(`channel.header[${index}] is masked, but the subscription holds no header of that name`, `Subscription.channel.header[${index}]`);
    return kept;
  });
}
