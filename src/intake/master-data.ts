import type { Resource } from 'fhir/r4.js';
import { canonicalJson } from '../canonical-json.js';
import { AGB_SYSTEM, BIG_SYSTEM, BSN_SYSTEM, UZI_SYSTEM } from '../identifiers/dutch-identifiers.js';
import { KeyedHash } from '../store/keyed-hash.js';
import type { Effect, Statement, Stored, Write } from '../store/resource-store.js';
import type { Db, Sql } from '../store/postgres.js';
import type { Referral } from './referral.js';
import type { ReferralIds, ReferralResources } from './referral-to-fhir.js';

/**
 * Master data: the resources a referral points to that are the same person or practice in every
 * referral naming it — one Organization per practice, one Practitioner per practitioner, one
 * PractitionerRole per practitioner × practice, one Patient per BSN within a tenancy.
 */
export type MasterPart = 'patient' | 'practitioner' | 'practitionerRole' | 'practice';
export const MASTER_PARTS: Array<[MasterPart, string]> = [
  ['patient', 'Patient'],
  ['practitioner', 'Practitioner'],
  ['practitionerRole', 'PractitionerRole'],
  ['practice', 'Organization'],
];

type Ref = [type: string, id: string];

/**
 * The ids of a referral's master data, derived from the identifiers that make it the same. Derived
 * rather than looked up: two first referrals for the same patient at the same moment both write the
 * same id, and the primary key lets exactly one create it (the other retries and finds it). Keyed, so
 * that an id — in URLs, logs, references — reveals no BSN or AGB to anyone without WOR_SECRET.
 *
 * The Patient's id includes the tenancy tags (practice, team, portal): one Patient per BSN per
 * tenancy, so a Patient only ever holds what its readers were sent themselves. Practitioners,
 * practices and their roles are professional data shared across tenancies: their tenancy grows with
 * each new party a referral shows them to, so a practice finds all its feedback by one PractitionerRole.
 */
export class MasterDataIds {
  private readonly hash: KeyedHash;

  constructor(secret: string) {
    this.hash = new KeyedHash(secret, 'master-data-id');
  }

  of(referral: Referral, tenants: string[]): Pick<ReferralIds, MasterPart> {
    const practice = ['Organization', AGB_SYSTEM, referral.requester.practice.agb];
    const practitioner = ['Practitioner', ...practitionerIdentifier(referral.requester)];
    return {
      practice: this.id(practice),
      practitioner: this.id(practitioner),
      practitionerRole: this.id(['PractitionerRole', ...practitioner, ...practice]),
      patient: this.id(['Patient', ...[...new Set(tenants)].sort(), BSN_SYSTEM, referral.patient.bsn]),
    };
  }

  /** UUID-shaped (version 8, "custom"), like every other id the service mints. */
  private id(parts: string[]): string {
    const hex = this.hash.full(parts.join('\u001f'));
    const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  }
}

/**
 * The identifier a practitioner is known by: the AGB, else the BIG, else the UZI number (the schema
 * requires one). A practitioner sent once by AGB and once only by BIG is two Practitioners: nothing
 * here says they are the same person.
 */
function practitionerIdentifier({ agb, big, uzi }: Referral['requester']): [system: string, value: string] {
  if (agb) return [AGB_SYSTEM, agb];
  if (big) return [BIG_SYSTEM, big];
  return [UZI_SYSTEM, uzi!];
}

const withoutVersion = ({ meta, ...rest }: Resource) => {
  const { versionId: _v, lastUpdated: _l, ...kept } = meta ?? {};
  return canonicalJson({ ...rest, meta: kept });
};

/**
 * For each part of MASTER_PARTS: whether the referral brings other details than the stored version
 * (false when nothing is stored). Only for these does it matter whether a newer referral uses it.
 */
export function otherDetails(wanted: Pick<ReferralResources, MasterPart>, stored: Array<Stored | undefined>): boolean[] {
  return MASTER_PARTS.map(([part], index) => {
    const previous = stored[index];
    return previous !== undefined && withoutVersion(previous.resource) !== withoutVersion(wanted[part]);
  });
}

/**
 * What a referral writes of its master data, given what is stored (`stored`, and where the referral
 * brings `other` details): a create when there is none; an update (a new version) when the referral
 * brings other details — unless a referral written later (`authoredOn`) already uses it, whose
 * details stay — or shows it to a new tenant; otherwise nothing, and the commit relies on the stored
 * version unchanged.
 */
export function masterDataWrites(
  wanted: Pick<ReferralResources, MasterPart>,
  { stored, other }: { stored: Array<Stored | undefined>; other: boolean[] },
  newerReferralUses: boolean[],
  acl: string[],
): { writes: Write[]; unchanged: Stored[]; created: string[] } {
  const writes: Write[] = [];
  const unchanged: Stored[] = [];
  const created: string[] = [];
  MASTER_PARTS.forEach(([part], index) => {
    const previous = stored[index];
    if (!previous) {
      writes.push({ resource: wanted[part], acl });
      created.push(`${wanted[part].resourceType}/${wanted[part].id}`);
      return;
    }
    const keepsStored = newerReferralUses[index] || !other[index];
    const tenants = [...new Set([...previous.acl, ...acl])];
    if (tenants.length === previous.acl.length && keepsStored) unchanged.push(previous);
    else writes.push({ resource: keepsStored ? previous.resource : wanted[part], previous, acl: tenants });
  });
  return { writes, unchanged, created };
}

/** The master data a referral uses: recorded with the referral, released when it is erased. */
export const masterDataUse = {
  record(serviceRequestId: string, authoredOn: string, refs: Ref[]): Statement {
    return {
      text: 'INSERT INTO referral_master_data (service_request, authored_on, resource_type, id) SELECT $1, $2, t, i FROM unnest($3::text[], $4::text[]) AS w(t, i)',
      values: [serviceRequestId, authoredOn, refs.map(([type]) => type), refs.map(([, id]) => id)],
    };
  },

  /**
   * For each of `refs`: whether a referral written after `authoredOn` uses it. Each probe is one
   * index lookup per ref (`OFFSET 0` keeps it a probe: as a join, a plan made for no values in
   * particular may read the whole table).
   */
  async newerThan(db: Db, authoredOn: string, refs: Ref[]): Promise<boolean[]> {
    const { rows } = await db.query<{ resource_type: string; id: string }>(
      `SELECT w.t AS resource_type, w.i AS id FROM unnest($1::text[], $2::text[]) AS w(t, i)
       WHERE EXISTS (SELECT 1 FROM referral_master_data u WHERE u.resource_type = w.t AND u.id = w.i AND u.authored_on > $3 OFFSET 0)`,
      [refs.map(([type]) => type), refs.map(([, id]) => id), authoredOn],
    );
    const newer = new Set(rows.map((row) => `${row.resource_type}/${row.id}`));
    return refs.map(([type, id]) => newer.has(`${type}/${id}`));
  },

  release(serviceRequestId: string): Effect {
    return { text: 'DELETE FROM referral_master_data WHERE service_request = $1', values: [serviceRequestId] };
  },

  /** Which of `refs` a referral still uses (asked inside the erasing transaction), one probe each as in `newerThan`. */
  inUse(refs: Ref[]): (sql: Sql) => Promise<Ref[]> {
    return async (sql) => {
      const { rows } = await sql.query<{ resource_type: string; id: string }>(
        'SELECT w.t AS resource_type, w.i AS id FROM unnest($1::text[], $2::text[]) AS w(t, i) WHERE EXISTS (SELECT 1 FROM referral_master_data u WHERE u.resource_type = w.t AND u.id = w.i OFFSET 0)',
        [refs.map(([type]) => type), refs.map(([, id]) => id)],
      );
      return rows.map((row): Ref => [row.resource_type, row.id]);
    };
  },
};
