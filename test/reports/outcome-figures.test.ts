import { describe, expect, test } from '@jest/globals';
import { workingDaysBetween } from '../../src/calendar/working-days.js';
import { outcomeFigures, type Figure } from '../../src/reports/outcome-figures.js';
import type { ReferralFacts } from '../../src/reports/referral-facts.js';
import { parsePeriod, periodBetween, twelveMonthsTo } from '../../src/reports/report-period.js';
import { reportCsv } from '../../src/reports/report-page.js';

const PRACTICE_A = '01234567';
const PRACTICE_B = '07654321';

/** A referral received on a day in October or November 2026, with what became of it. */
const referral = (overrides: Partial<ReferralFacts>): ReferralFacts => ({
  team: 'leiden-noord',
  practice: PRACTICE_A,
  receivedAt: '2026-10-05T09:00:00+02:00',
  pickupDeadline: '2026-10-07T23:59:59+02:00',
  contactDeadline: '2026-10-19T23:59:59+02:00',
  accepted: false,
  rejected: false,
  status: 'requested',
  icpcChapter: 'P',
  arrangements: [],
  ...overrides,
});
const accepted = (overrides: Partial<ReferralFacts> = {}) => referral({ accepted: true, status: 'accepted', answeredAt: '2026-10-06T10:00:00+02:00', ...overrides });

/** Two months, two practices: what a team of a small town sees in an autumn. */
const AUTUMN: ReferralFacts[] = [
  // October, practice A: six accepted (two completed with arrangements, one failed), two rejected
  accepted({ firstContactAt: '2026-10-07T10:00:00+02:00', status: 'completed', arrangements: ['zingeving', 'interactie'] }),
  accepted({ firstContactAt: '2026-10-08T10:00:00+02:00', status: 'completed', arrangements: ['zingeving'] }),
  accepted({ firstContactAt: '2026-10-09T10:00:00+02:00', status: 'failed' }),
  accepted({ firstContactAt: '2026-10-12T10:00:00+02:00', status: 'in-progress', icpcChapter: 'Z' }),
  accepted({ firstContactAt: '2026-10-26T10:00:00+01:00', status: 'in-progress' }), // late: after the contact deadline
  accepted({ answeredAt: '2026-10-09T10:00:00+02:00', status: 'accepted' }), // picked up late, no contact yet
  referral({ rejected: true, rejectionReason: 'uncoded', status: 'rejected', answeredAt: '2026-10-06T11:00:00+02:00' }),
  referral({ rejected: true, rejectionReason: 'uncoded', status: 'rejected', answeredAt: '2026-10-06T12:00:00+02:00', practice: PRACTICE_B }),
  // November, practice B: two accepted
  accepted({ practice: PRACTICE_B, receivedAt: '2026-11-02T09:00:00+01:00', pickupDeadline: '2026-11-04T23:59:59+01:00', contactDeadline: '2026-11-16T23:59:59+01:00', answeredAt: '2026-11-03T09:00:00+01:00', firstContactAt: '2026-11-05T09:00:00+01:00' }),
  accepted({ practice: PRACTICE_B, receivedAt: '2026-11-02T09:00:00+01:00', pickupDeadline: '2026-11-04T23:59:59+01:00', contactDeadline: '2026-11-16T23:59:59+01:00', answeredAt: '2026-11-03T09:00:00+01:00' }),
];

const figure = (figures: Figure[], code: Figure['code']) => figures.find((candidate) => candidate.code === code)!;
const stratum = (found: Figure, stratifier: string, value: string) => found.strata.find((candidate) => candidate.stratifier === stratifier && candidate.value === value)?.count;

describe('outcome figures', () => {
  test('October and November of one team give exactly the expected counts, proportions and working days', () => {
    const all = outcomeFigures(AUTUMN, { minimumCount: 1 });
    expect(figure(all, 'received').count).toBe(10);
    expect(figure(all, 'accepted').count).toBe(8);
    expect(figure(all, 'rejected').count).toBe(2);
    expect(stratum(figure(all, 'rejected'), 'rejection-reason', 'uncoded')).toBe(2);
    // answered by the pick-up deadline: everything but the one answered on the 9th
    expect(figure(all, 'picked-up-in-time')).toMatchObject({ numerator: 9, denominator: 10 });
    // of eight accepted, six have a first contact; one of those came after the deadline
    expect(figure(all, 'contact-in-time')).toMatchObject({ numerator: 5, denominator: 8 });
    expect(figure(all, 'completed').count).toBe(2);
    expect(figure(all, 'failed').count).toBe(1);
    // working days to contact: 2, 3, 4, 5, 15 (Oct 5 → Oct 26), 3 (Nov 2 → Nov 5): sorted 2 3 3 4 5 15
    expect(figure(all, 'days-to-contact-median').days).toBe(3.5);
    expect(figure(all, 'days-to-contact-p90').days).toBe(15);
    expect(figure(all, 'arrangements-started').count).toBe(2);
    expect(stratum(figure(all, 'arrangements-started'), 'arrangement', 'zingeving')).toBe(2);
    expect(stratum(figure(all, 'arrangements-started'), 'arrangement', 'interactie')).toBe(1);
    expect(stratum(figure(all, 'received'), 'practice', PRACTICE_A)).toBe(7);
    expect(stratum(figure(all, 'received'), 'practice', PRACTICE_B)).toBe(3);
    expect(stratum(figure(all, 'received'), 'icpc-chapter', 'P')).toBe(9);
    expect(stratum(figure(all, 'received'), 'icpc-chapter', 'Z')).toBe(1);
  });

  test('counts below the minimum are masked, and the next smallest stratum with them so none can be worked out by subtraction', () => {
    const all = outcomeFigures(AUTUMN, { minimumCount: 5 });
    expect(figure(all, 'received').count).toBe(10);
    expect(figure(all, 'rejected').count).toBe('masked');
    expect(figure(all, 'failed').count).toBe('masked');
    expect(figure(all, 'completed').count).toBe('masked');
    // practice B's 3 is masked; practice A's 7 would give it away (10 − 7), so it is masked too
    expect(stratum(figure(all, 'received'), 'practice', PRACTICE_B)).toBe('masked');
    expect(stratum(figure(all, 'received'), 'practice', PRACTICE_A)).toBe('masked');
    expect(figure(all, 'contact-in-time')).toMatchObject({ numerator: 5, denominator: 8 });
    expect(figure(all, 'days-to-contact-median').days).toBe(3.5);
    // only November: two referrals, too few for any figure in working days
    const november = outcomeFigures(AUTUMN.filter((fact) => fact.receivedAt.startsWith('2026-11')), { minimumCount: 5 });
    expect(figure(november, 'received').count).toBe('masked');
    expect(figure(november, 'days-to-contact-median').days).toBe('masked');
    // a month without any first contact has no figure in working days at all
    expect(figure(outcomeFigures([referral({})], { minimumCount: 5 }), 'days-to-contact-median').days).toBeUndefined();
    // zero is not masked: it singles nobody out
    expect(figure(november, 'failed').count).toBe(0);
  });

  test('the CSV carries every figure and stratum, masked counts as "<n", and defuses spreadsheet formulas', () => {
    const figures = outcomeFigures([...AUTUMN, referral({ rejected: true, status: 'rejected', rejectionReason: '=HYPERLINK("x")' })], { minimumCount: 5 });
    const csv = reportCsv({ team: 'team-leiden-noord', period: parsePeriod('2026-Q4'), figures, minimumCount: 5 });
    const lines = csv.trimEnd().split('\r\n');
    expect(lines[0]).toBe('team,period,figure,stratifier,stratum,count,numerator,denominator,working_days');
    expect(lines).toContain('team-leiden-noord,2026-Q4,received,,,11,,,');
    expect(lines).toContain('team-leiden-noord,2026-Q4,contact-in-time,,,,5,8,');
    expect(lines).toContain('team-leiden-noord,2026-Q4,failed,,,<5,,,');
    expect(csv).toContain(`"'=HYPERLINK(""x"")"`);
  });
});

describe('report periods and working days', () => {
  test('months, quarters and years parse to Amsterdam dates; anything else is refused naming the parameter', () => {
    expect(parsePeriod('2026-02')).toEqual({ label: '2026-02', start: '2026-02-01', end: '2026-02-28' });
    expect(parsePeriod('2026-Q4')).toEqual({ label: '2026-Q4', start: '2026-10-01', end: '2026-12-31' });
    expect(parsePeriod('2028')).toEqual({ label: '2028', start: '2028-01-01', end: '2028-12-31' });
    expect(() => parsePeriod('2026-13')).toThrow('period must be a month');
    expect(() => periodBetween('2026-02-01', '2026-01-01')).toThrow('periodEnd lies before periodStart');
    expect(twelveMonthsTo(parsePeriod('2026-Q1')).map((month) => month.label)).toEqual([
      '2025-04', '2025-05', '2025-06', '2025-07', '2025-08', '2025-09', '2025-10', '2025-11', '2025-12', '2026-01', '2026-02', '2026-03',
    ]);
  });

  test('working days skip weekends and Dutch public holidays', () => {
    expect(workingDaysBetween(new Date('2026-10-09T15:00:00+02:00'), new Date('2026-10-12T09:00:00+02:00'))).toBe(1); // Friday → Monday
    expect(workingDaysBetween(new Date('2026-04-24T09:00:00+02:00'), new Date('2026-04-28T09:00:00+02:00'))).toBe(1); // over King's Day (Mon 27 April)
    expect(workingDaysBetween(new Date('2026-10-05T09:00:00+02:00'), new Date('2026-10-05T17:00:00+02:00'))).toBe(0);
  });
});
