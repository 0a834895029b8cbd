import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const pc4 = z.string().regex(/^[1-9][0-9]{3}$/, 'a PC4 code is four digits, not starting with 0');
const postcodeEntry = z.union([
  pc4,
  z
    .string()
    .regex(/^[1-9][0-9]{3}-[1-9][0-9]{3}$/, 'a postcode range is written as 2311-2316')
    .refine((range) => {
      const [from, to] = range.split('-').map(Number);
      return from! <= to!;
    }, 'a postcode range must run from low to high'),
]);

/** Hosts a tenant's Subscriptions may notify (src/subscriptions): host names, no scheme or port. */
const notificationHosts = z
  .array(z.string().regex(/^[a-z0-9.-]+$|^\[[0-9a-f:]+\]$/, 'a notification host is a lower-case host name or address, without scheme or port'))
  .default([]);

const teamSchema = z.object({
  id: z.string().regex(/^[a-z0-9-]+$/, 'a team id is lower-case letters, digits and hyphens'),
  name: z.string().min(1),
  municipality: z.string().min(1),
  postcodes: z.array(postcodeEntry).min(1),
  pickupDeadlineDays: z.number().int().positive().default(5),
  contactDeadlineDays: z.number().int().positive().default(10),
  notificationHosts,
});

const practiceAuth = z.discriminatedUnion('type', [
  z.object({ type: z.literal('bearer'), tokenEnv: z.string().min(1) }),
  z.object({
    type: z.literal('smart-backend'),
    client_id: z.string().min(1),
    tokenUrl: z.string().url(),
    keyFile: z.string().min(1),
  }),
]);

const practiceSchema = z.object({
  agb: z.string().regex(/^[0-9]{8}$/, 'an AGB code is 8 digits'),
  name: z.string().min(1),
  fhirEndpoint: z
    .object({
      url: z.string().url(),
      auth: practiceAuth.optional(),
      // HAPI FHIR refuses absolute references unless configured for them: off unless the GP system says so.
      acceptsExternalReferences: z.boolean().default(false),
    })
    .optional(),
  notificationHosts,
});

const portalSchema = z.object({
  id: z.string().regex(/^[a-z0-9-]+$/),
  hmacSecretEnv: z.string().min(1).optional(),
});

const directorySchema = z
  .object({
    teams: z.array(teamSchema).min(1),
    practices: z.array(practiceSchema).default([]),
    portals: z.array(portalSchema).default([]),
    routing: z.object({ fallbackTeam: z.string().optional() }).default({}),
  })
  .superRefine((directory, ctx) => {
    const unique = (values: string[], path: string) => {
      const seen = new Set<string>();
      values.forEach((value, index) => {
        if (seen.has(value)) ctx.addIssue({ code: 'custom', path: [path, index], message: `duplicate ${value}` });
        seen.add(value);
      });
    };
    unique(directory.teams.map((team) => team.id), 'teams');
    unique(directory.practices.map((practice) => practice.agb), 'practices');
    unique(directory.portals.map((portal) => portal.id), 'portals');
    const fallback = directory.routing.fallbackTeam;
    if (fallback && !directory.teams.some((team) => team.id === fallback)) {
      ctx.addIssue({ code: 'custom', path: ['routing', 'fallbackTeam'], message: `no team with id ${fallback}` });
    }
    const servedBy = new Map<number, string>();
    directory.teams.forEach((team, teamIndex) => {
      for (const code of expandPostcodes(team.postcodes)) {
        const other = servedBy.get(code);
        if (other && other !== team.id) {
          ctx.addIssue({ code: 'custom', path: ['teams', teamIndex, 'postcodes'], message: `PC4 ${code} is also served by ${other}` });
        }
        servedBy.set(code, team.id);
      }
    });
  });

export type Team = z.infer<typeof teamSchema>;
export type Practice = z.infer<typeof practiceSchema>;
export type Portal = z.infer<typeof portalSchema>;
/** A directory file as written (defaults left out). */
export type DirectoryFile = z.input<typeof directorySchema>;

function expandPostcodes(entries: string[]): number[] {
  return entries.flatMap((entry) => {
    const [from, to = from] = entry.split('-').map(Number) as [number, number?];
    return Array.from({ length: to - from + 1 }, (_, offset) => from + offset);
  });
}

export class DirectoryError extends Error {}

/** Who is who in the region (contract §4), with postcode routing precomputed. */
export class Directory {
  private readonly teamsById: Map<string, Team>;
  private readonly teamByPc4 = new Map<number, Team>();
  private readonly practicesByAgb: Map<string, Practice>;
  private readonly portalsById: Map<string, Portal>;
  private readonly fallbackTeam: Team | undefined;

  constructor(
    readonly teams: Team[],
    practices: Practice[],
    readonly portals: Portal[],
    fallbackTeamId?: string,
  ) {
    this.teamsById = new Map(teams.map((team) => [team.id, team]));
    for (const team of teams) for (const code of expandPostcodes(team.postcodes)) this.teamByPc4.set(code, team);
    this.practicesByAgb = new Map(practices.map((practice) => [practice.agb, practice]));
    this.portalsById = new Map(portals.map((portal) => [portal.id, portal]));
    this.fallbackTeam = fallbackTeamId ? this.teamsById.get(fallbackTeamId) : undefined;
  }

  /** The team serving a Dutch postcode ("2311 CS", "2311CS" or "2311"), or the fallback team. */
  teamForPostcode(postalCode: string): Team | undefined {
    const code = Number(postalCode.trim().slice(0, 4));
    return this.teamByPc4.get(code) ?? this.fallbackTeam;
  }

  team(id: string): Team | undefined {
    return this.teamsById.get(id);
  }

  practice(agb: string): Practice | undefined {
    return this.practicesByAgb.get(agb);
  }

  portal(id: string): Portal | undefined {
    return this.portalsById.get(id);
  }

  /** The environment variables this directory names for secrets: portal signature secrets, GP endpoint tokens. */
  secretVariables(): string[] {
    const signatures = this.portals.flatMap((portal) => (portal.hmacSecretEnv ? [portal.hmacSecretEnv] : []));
    const tokens = [...this.practicesByAgb.values()].flatMap(({ fhirEndpoint }) => (fhirEndpoint?.auth?.type === 'bearer' ? [fhirEndpoint.auth.tokenEnv] : []));
    return [...signatures, ...tokens];
  }

  /** The hosts a tenant (`coach:{team}`, `gp:{agb}`) may have notifications sent to. */
  notificationHosts(tenant: string): string[] {
    const [role, org = ''] = tenant.split(':');
    if (role === 'coach') return this.team(org)?.notificationHosts ?? [];
    if (role === 'gp') return this.practice(org)?.notificationHosts ?? [];
    return [];
  }
}

/** Parses and validates a directory document; throws a DirectoryError listing every problem. */
export function parseDirectory(text: string, source = 'directory'): Directory {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new DirectoryError(`${source}: not valid YAML (${(error as Error).message})`);
  }
  const parsed = directorySchema.safeParse(document);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new DirectoryError(`${source} is invalid:\n${lines.join('\n')}`);
  }
  const { teams, practices, portals, routing } = parsed.data;
  return new Directory(teams, practices, portals, routing.fallbackTeam);
}

export function loadDirectory(path: string): Directory {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new DirectoryError(`WOR_DIRECTORY: cannot read ${path}`);
  }
  return parseDirectory(text, path);
}
