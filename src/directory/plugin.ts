import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { PUBLIC_TAG } from '../auth/caller.js';
import { canonicalJson } from '../canonical-json.js';
import { teamOrganization } from './team-organization.js';
import type { Directory } from './directory.js';

declare module 'fastify' {
  interface FastifyInstance {
    directory: Directory;
  }
}

/**
 * Publishes the directory to the app and keeps each team's Organization resource in step with it
 * (written only when it changed, so several processes starting together write it once).
 */
export default fp(
  async function directory(app: FastifyInstance, options: { directory: Directory }) {
    app.decorate('directory', options.directory);
    for (const team of options.directory.teams) {
      const wanted = teamOrganization(team);
      const current = await app.store.read('Organization', wanted.id!);
      const { meta: _meta, ...currentContent } = current?.resource ?? {};
      const { meta: _wantedMeta, ...wantedContent } = wanted;
      if (current && canonicalJson(currentContent) === canonicalJson(wantedContent)) continue;
      await app.store.commit({ writes: [{ resource: wanted, previous: current, acl: [PUBLIC_TAG] }] });
    }
  },
  { name: 'directory', dependencies: ['store'] },
);
