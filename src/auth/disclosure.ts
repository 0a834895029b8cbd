import type { Resource } from 'fhir/r4.js';
import type { Stored } from '../store/resource-store.js';
import { canSee, tenantTag, type Caller } from './caller.js';
import { isGranted } from './scopes.js';

/**
 * The one gate for everything a response discloses: read, vread, history, search matches, `_include`d
 * resources and claim Bundles. A resource leaves only if the token's scopes cover its type (`.r` for a
 * resource reached by id or reference, `.s` for a search match) and it lies in the caller's tenancy.
 */
type Disclosed = 'r' | 's';

export function mayDisclose(caller: Caller, stored: Pick<Stored, 'resource' | 'acl'>, interaction: Disclosed = 'r'): boolean {
  return isGranted(caller.grants, stored.resource.resourceType, interaction) && canSee(caller, stored.acl);
}

/** What of these a caller may see by reference; the rest is left out, as if it did not exist. */
export function disclosable(caller: Caller, items: ReadonlyArray<Stored | undefined>): Resource[] {
  return items.flatMap((item) => (item && mayDisclose(caller, item) ? [item.resource] : []));
}

/** The tenancy a search runs in: its index holds only what this tag may see (every tag for an operator). */
export function searchTenant(caller: Caller): string | undefined {
  return caller.role === 'operator' ? undefined : tenantTag(caller);
}
