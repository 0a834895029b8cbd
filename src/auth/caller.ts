import { forbidden } from '../fhir/operation-outcome.js';
import { isGranted, type Grant, type Interaction } from './scopes.js';

export const ROLES = ['gp', 'portal', 'coach', 'operator'] as const;
export type Role = (typeof ROLES)[number];

/** The user behind a request: `sub`, with a `name` and/or a UZI number (`uzi_nr`) claim. */
export interface ActingPerson {
  id: string;
  name?: string;
  uzi?: string;
}

/** Who is calling, from a verified token. */
export interface Caller {
  role: Role;
  /** Practice AGB (gp), team id (coach), portal id (portal), operator organisation. */
  org: string;
  /** The client that holds the token (`client_id` or `sub`), for the audit trail. */
  clientId: string;
  /** The person acting through the client, when the token names one (NEN 7513 records them). */
  person?: ActingPerson;
  grants: Grant[];
}

/** The tenancy tag of a caller; every stored resource carries the tags of the tenants that may see it. */
export function tenantTag(caller: Pick<Caller, 'role' | 'org'>): string {
  return `${caller.role}:${caller.org}`;
}

export const practiceTag = (agb: string) => `gp:${agb}`;
export const teamTag = (teamId: string) => `coach:${teamId}`;
export const portalTag = (portalId: string) => `portal:${portalId}`;
/** Directory resources (team Organizations) that every authenticated caller may read. */
export const PUBLIC_TAG = '*';

export function canSee(caller: Caller, acl: readonly string[]): boolean {
  return caller.role === 'operator' || acl.includes(PUBLIC_TAG) || acl.includes(tenantTag(caller));
}

/** Throws 403 unless the token's scopes allow this interaction on this resource type. */
export function requireScope(caller: Caller, resourceType: string, interaction: Interaction): void {
  if (!isGranted(caller.grants, resourceType, interaction)) {
    throw forbidden(`The token's scopes do not allow system/${resourceType}.${interaction}`);
  }
}

export function requireRole(caller: Caller, ...roles: Role[]): void {
  if (!roles.includes(caller.role)) {
    throw forbidden(`This interaction is for the role ${roles.join(' or ')}, not ${caller.role}`);
  }
}
