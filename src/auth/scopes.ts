/** SMART on FHIR system scopes (v2 `cruds`, v1 `read`/`write`/`*`), parsed once per token. */
export type Interaction = 'c' | 'r' | 'u' | 'd' | 's';

export interface Grant {
  resourceType: string; // '*' for every type
  interactions: ReadonlySet<Interaction>;
}

const V1_PERMISSIONS = new Map<string, Interaction[]>([
  ['read', ['r', 's']],
  ['write', ['c', 'u', 'd']],
  ['*', ['c', 'r', 'u', 'd', 's']],
]);

/**
 * Only `system/` scopes count for a backend service. A v2 scope with a query restriction
 * (`system/Task.rs?status=...`) is not honoured: it would grant less than it seems, so it grants nothing.
 */
export function parseScopes(scope: string): Grant[] {
  const grants: Grant[] = [];
  for (const token of scope.split(/\s+/)) {
    const match = /^system\/([A-Za-z]+|\*)\.([a-z*]+)$/.exec(token);
    if (!match) continue;
    const [, resourceType, permission] = match as unknown as [string, string, string];
    const interactions = V1_PERMISSIONS.get(permission) ?? (/^c?r?u?d?s?$/.test(permission) ? (permission.split('') as Interaction[]) : []);
    if (interactions.length > 0) grants.push({ resourceType, interactions: new Set(interactions) });
  }
  return grants;
}

export function isGranted(grants: readonly Grant[], resourceType: string, interaction: Interaction): boolean {
  return grants.some(
    (grant) => (grant.resourceType === '*' || grant.resourceType === resourceType) && grant.interactions.has(interaction),
  );
}
