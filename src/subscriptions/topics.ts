import type { Basic, Communication, Extension, Task } from 'fhir/r4.js';
import { CANONICAL_BASE } from '../fhir/profiles.js';
import type { CommittedWrite } from '../store/resource-store.js';

/** A filter a topic offers (`Task?owner=`), as the subscriber writes it in its filter criteria. */
export interface TopicFilter {
  resource: 'Task' | 'Communication';
  parameter: 'owner' | 'recipient';
  description: string;
}

export interface Topic {
  id: string;
  url: string;
  title: string;
  description: string;
  resource: 'Task' | 'Communication';
  interactions: Array<'create' | 'update'>;
  filter: TopicFilter;
}

const OWNER: TopicFilter = { resource: 'Task', parameter: 'owner', description: 'The team that owns the Task: Organization/{id} (a coach system: its own team, the default)' };
const RECIPIENT: TopicFilter = { resource: 'Communication', parameter: 'recipient', description: 'The referrer the feedback is for: PractitionerRole/{id} (one the subscriber can read)' };

const topic = (id: string, rest: Omit<Topic, 'id' | 'url'>): Topic => ({ id, url: `${CANONICAL_BASE}/SubscriptionTopic/${id}`, ...rest });

/** The topics the service publishes; a notification names its topic by these canonical URLs. */
export const TOPICS: Topic[] = [
  topic('task-created', {
    title: 'Referral Task created for a team',
    description: 'A referral arrived and its Task was created for a sociaal wijkteam (replaces long-polling the team queue).',
    resource: 'Task',
    interactions: ['create'],
    filter: OWNER,
  }),
  topic('task-status-changed', {
    title: 'Task status or businessStatus changed',
    description: 'A Task moved to another status, or its businessStatus (the step in the trajectory) changed.',
    resource: 'Task',
    interactions: ['update'],
    filter: OWNER,
  }),
  topic('feedback-communication', {
    title: 'Feedback Communication written for a practice',
    description: 'The service or a coach system wrote a feedback Communication to the referring GP (replaces polling Communication?_lastUpdated).',
    resource: 'Communication',
    interactions: ['create'],
    filter: RECIPIENT,
  }),
  topic('referral-cancelled', {
    title: 'Referral cancelled',
    description: 'The referrer (or an operator) cancelled a referral: its Task became cancelled.',
    resource: 'Task',
    interactions: ['update'],
    filter: OWNER,
  }),
];

export const topicByUrl = (url: string) => TOPICS.find((candidate) => candidate.url === url);
export const topicById = (id: string) => TOPICS.find((candidate) => candidate.id === id);

/** An event a write gives rise to: ids, tenancy tags and filter values only, never patient data. */
export interface TopicEvent {
  topic: string;
  focus: string;
  created: boolean;
  /** The tenancy tags of the focus: only subscribers among these hear of it. */
  tenants: string[];
  /** The focus's values of the topic's filter parameter (references). */
  filterValues: string[];
}

const references = (items: Array<{ reference?: string }> | undefined) => (items ?? []).flatMap((item) => (item.reference ? [item.reference] : []));
const businessStep = (task: Task | undefined) => task?.businessStatus?.coding?.map((coding) => `${coding.system}|${coding.code}`).join(',') ?? '';

/** Which topics a committed write belongs to: a pure function of the new and previous version. */
export function topicEvents({ resource, previous, acl }: CommittedWrite): TopicEvent[] {
  const focus = `${resource.resourceType}/${resource.id}`;
  const event = (id: string, filterValues: string[]): TopicEvent => ({ topic: topicById(id)!.url, focus, created: !previous, tenants: acl, filterValues });
  if (resource.resourceType === 'Task') {
    const task = resource as Task;
    const before = previous as Task | undefined;
    const owner = references(task.owner ? [task.owner] : []);
    if (!before) return [event('task-created', owner)];
    const events: TopicEvent[] = [];
    if (before.status !== task.status || businessStep(before) !== businessStep(task)) events.push(event('task-status-changed', owner));
    if (task.status === 'cancelled' && before.status !== 'cancelled') events.push(event('referral-cancelled', owner));
    return events;
  }
  if (resource.resourceType === 'Communication' && !previous && acl.some((tag) => tag.startsWith('gp:'))) {
    return [event('feedback-communication', references((resource as Communication).recipient))];
  }
  return [];
}

const R5 = 'http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic';
export const FHIR_TYPES = 'http://hl7.org/fhir/fhir-types';

/**
 * A topic as an R4 `Basic` resource with the cross-version extensions, as the Subscriptions
 * Backport IG describes topics for R4 servers.
 */
export function topicResource(item: Topic): Basic {
  const part = (url: string, extension: Omit<Extension, 'url'>): Extension => ({ url, ...extension });
  return {
    resourceType: 'Basic',
    id: item.id,
    code: { coding: [{ system: FHIR_TYPES, code: 'SubscriptionTopic' }] },
    extension: [
      part(`${R5}.url`, { valueUri: item.url }),
      part(`${R5}.title`, { valueString: item.title }),
      part(`${R5}.status`, { valueCode: 'active' }),
      part(`${R5}.description`, { valueMarkdown: item.description }),
      part(`${R5}.resourceTrigger`, {
        extension: [
          part('resource', { valueUri: `http://hl7.org/fhir/StructureDefinition/${item.resource}` }),
          ...item.interactions.map((interaction) => part('supportedInteraction', { valueCode: interaction })),
        ],
      }),
      part(`${R5}.canFilterBy`, {
        extension: [
          part('resource', { valueUri: `http://hl7.org/fhir/StructureDefinition/${item.filter.resource}` }),
          part('filterParameter', { valueString: item.filter.parameter }),
          part('description', { valueMarkdown: item.filter.description }),
        ],
      }),
    ],
  };
}
