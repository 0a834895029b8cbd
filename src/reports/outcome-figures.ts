import { workingDaysBetween } from '../calendar/working-days.js';
import type { ReferralFacts } from './referral-facts.js';

/** A count as published: the number, or `masked` when it is small enough to single a patient out. */
export type Published = number | 'masked';

export type StratifierCode = 'practice' | 'icpc-chapter' | 'rejection-reason' | 'arrangement';

export interface Stratum {
  stratifier: StratifierCode;
  value: string;
  count: Published;
}

export interface Figure {
  code: FigureCode;
  count?: Published;
  /** Proportions: how many of how many. */
  numerator?: Published;
  denominator?: Published;
  /** Working days (median, 90th percentile), masked when too few referrals lie behind it. */
  days?: number | 'masked';
  strata: Stratum[];
}

/** The figures those who fund WoR ask for, in the order the report shows them. */
export const FIGURES = {
  received: 'Verwijzingen ontvangen',
  accepted: 'Aangenomen',
  rejected: 'Afgewezen',
  'picked-up-in-time': 'Binnen de oppaktermijn beantwoord',
  'contact-in-time': 'Eerste contact binnen de WoR-belofte',
  completed: 'Traject afgerond',
  failed: 'Traject mislukt',
  'days-to-contact-median': 'Werkdagen tot eerste contact (mediaan)',
  'days-to-contact-p90': 'Werkdagen tot eerste contact (90e percentiel)',
  'arrangements-started': 'Arrangementen gestart',
} as const;
export type FigureCode = keyof typeof FIGURES;

export const STRATIFIERS: Record<StratifierCode, string> = {
  practice: 'Verwijzende praktijk (AGB)',
  'icpc-chapter': 'ICPC-hoofdstuk van de reden',
  'rejection-reason': 'Reden van afwijzing (code)',
  arrangement: 'Arrangement',
};

/** The ICPC stratum of a referral whose reasons carry no ICPC code. */
export const NO_ICPC = 'geen ICPC';

export interface FigureOptions {
  /** Counts from 1 up to (not including) this are masked. */
  minimumCount: number;
}

/**
 * The outcome figures of a set of referrals (those received in the period, already limited to what
 * the reader may see). Small counts are masked here, once, so no renderer can forget. Pure.
 */
export function outcomeFigures(referrals: ReferralFacts[], { minimumCount }: FigureOptions): Figure[] {
  const publish = (count: number): Published => (count > 0 && count < minimumCount ? 'masked' : count);
  const byPracticeAndChapter = (subset: ReferralFacts[]) => [
    ...strata(subset, 'practice', (referral) => [referral.practice], publish),
    // Referrals without an ICPC code are a stratum too, so their count is masked like the others.
    ...strata(subset, 'icpc-chapter', (referral) => [referral.icpcChapter ?? NO_ICPC], publish),
  ];
  const count = (code: FigureCode, subset: ReferralFacts[], extra: Stratum[] = []): Figure => ({
    code,
    count: publish(subset.length),
    strata: [...byPracticeAndChapter(subset), ...extra],
  });
  const proportion = (code: FigureCode, denominator: ReferralFacts[], inTime: (referral: ReferralFacts) => boolean): Figure => ({
    code,
    numerator: publish(denominator.filter(inTime).length),
    denominator: publish(denominator.length),
    strata: [],
  });

  const accepted = referrals.filter((referral) => referral.accepted);
  const rejected = referrals.filter((referral) => referral.rejected);
  const contactDays = referrals
    .filter((referral) => referral.firstContactAt)
    .map((referral) => workingDaysBetween(new Date(referral.receivedAt), new Date(referral.firstContactAt!)))
    .sort((a, b) => a - b);
  const withArrangements = referrals.filter((referral) => referral.arrangements.length > 0);
  // No first contact at all: nothing to show (and nobody to single out).
  const days = (code: FigureCode, value: number | undefined): Figure =>
    value === undefined ? { code, strata: [] } : { code, days: contactDays.length < minimumCount ? 'masked' : value, strata: [] };

  return [
    count('received', referrals),
    count('accepted', accepted),
    count('rejected', rejected, strata(rejected, 'rejection-reason', (referral) => [referral.rejectionReason ?? 'uncoded'], publish)),
    proportion('picked-up-in-time', referrals.filter((referral) => referral.pickupDeadline), (referral) => before(referral.answeredAt, referral.pickupDeadline)),
    proportion('contact-in-time', accepted.filter((referral) => referral.contactDeadline), (referral) => before(referral.firstContactAt, referral.contactDeadline)),
    count('completed', referrals.filter((referral) => referral.status === 'completed')),
    count('failed', referrals.filter((referral) => referral.status === 'failed')),
    days('days-to-contact-median', median(contactDays)),
    days('days-to-contact-p90', percentile(contactDays, 90)),
    count('arrangements-started', withArrangements, strata(withArrangements, 'arrangement', (referral) => referral.arrangements, publish)),
  ];
}

function strata(subset: ReferralFacts[], stratifier: StratifierCode, valuesOf: (referral: ReferralFacts) => string[], publish: (count: number) => Published): Stratum[] {
  const counts = new Map<string, number>();
  for (const referral of subset) for (const value of valuesOf(referral)) counts.set(value, (counts.get(value) ?? 0) + 1);
  const published = [...counts.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([value, count]) => ({ stratifier, value, count: publish(count), raw: count }));
  // One masked stratum beside a published total could be worked out by subtraction: mask the next smallest too.
  if (published.filter((stratum) => stratum.count === 'masked').length === 1) {
    const nextSmallest = published.filter((stratum) => stratum.count !== 'masked').sort((a, b) => a.raw - b.raw)[0];
    if (nextSmallest) nextSmallest.count = 'masked';
  }
  return published.map(({ raw: _raw, ...stratum }) => stratum);
}

const before = (instant: string | undefined, deadline: string | undefined) =>
  instant !== undefined && deadline !== undefined && new Date(instant).getTime() <= new Date(deadline).getTime();

/** The middle value (the mean of the two middle ones for an even count) of sorted numbers. */
export function median(sorted: number[]): number | undefined {
  if (sorted.length === 0) return undefined;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** The nearest-rank percentile of sorted numbers. */
export function percentile(sorted: number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}
