import type { Organization, Reference } from 'fhir/r4.js';
import type { Team } from './directory.js';
import { NAMING_SYSTEM, PROFILE } from '../fhir/profiles.js';

export const teamOrganizationId = (teamId: string) => `team-${teamId}`;

/** The Organization of a sociaal wijkteam, as the directory describes it. */
export function teamOrganization(team: Team): Organization {
  return {
    resourceType: 'Organization',
    id: teamOrganizationId(team.id),
    meta: { profile: [PROFILE.TeamOrganization] },
    identifier: [{ system: NAMING_SYSTEM.team, value: team.id }],
    active: true,
    name: team.name,
    address: [{ city: team.municipality, country: 'NL' }],
  };
}

/** A reference to a team that carries the team identifier too (contract §4). */
export function teamReference(team: Team): Reference {
  return {
    reference: `Organization/${teamOrganizationId(team.id)}`,
    identifier: { system: NAMING_SYSTEM.team, value: team.id },
    display: team.name,
  };
}
