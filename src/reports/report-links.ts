import { timingSafeEqual } from 'node:crypto';
import { forbidden } from '../fhir/operation-outcome.js';
import { KeyedHash } from '../store/keyed-hash.js';
import type { ReportReader } from './outcome-reports.js';

/**
 * Short-lived links to a team's report page that an operator hands to a WoR coordinator without an
 * API client: the team and the expiry, signed with the service secret.
 */
export class ReportLinks {
  private readonly hash: KeyedHash;

  constructor(
    secret: string,
    private readonly validDays: number,
  ) {
    this.hash = new KeyedHash(secret, 'report-link');
  }

  sign(teamId: string, now = new Date()): { expires: number; signature: string } {
    const expires = Math.floor(now.getTime() / 1000) + this.validDays * 86_400;
    return { expires, signature: this.hash.of(`${teamId}|${expires}`) };
  }

  /** Who a link lets in: the team's own figures, for an unexpired link signed for this team; else 403. */
  reader(teamId: string, expires: string | undefined, signature: string | undefined, now = new Date()): ReportReader {
    if (!this.verify(teamId, expires, signature, now)) throw forbidden('This report link is not valid (expired, or not for this team)');
    return { role: 'signed-link', org: teamId };
  }

  private verify(teamId: string, expires: string | undefined, signature: string | undefined, now: Date): boolean {
    if (!expires || !/^\d{1,12}$/.test(expires) || !signature || Number(expires) * 1000 < now.getTime()) return false;
    const expected = Buffer.from(this.hash.of(`${teamId}|${expires}`));
    const given = Buffer.from(signature);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}
