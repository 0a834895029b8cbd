import { PUBLIC_TAG } from '../auth/caller.js';
import { canonicalJson } from '../canonical-json.js';
import type { ResourceStore } from '../store/resource-store.js';
import type { Directory } from './directory.js';
import { teamOrganization } from './team-organization.js';

/**
 * Keeps each team's Organization resource in step with the directory (written only when it
 * changed, so several processes starting together write it once).
 */
export async function publishTeamOrganizations(store: ResourceStore, directory: Directory): Promise<void> {
  for (const team of directory.teams) {
    const wanted = teamOrganization(team);
    const current = await store.read('Organization', wanted.id!);
    const { meta: _meta, ...currentContent } = current?.resource ?? {};
    const { meta: _wantedMeta, ...wantedContent } = wanted;
    if (current && canonicalJson(currentContent) === canonicalJson(wantedContent)) continue;
    await store.commit({ writes: [{ resource: wanted, previous: current, acl: [PUBLIC_TAG] }] });
  }
}
