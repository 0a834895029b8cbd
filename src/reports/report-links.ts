import { timingSafeEqual } from 'node:crypto';
import { KeyedHash } from '../store/keyed-hash.js';

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

  /** True for an unexpired link signed for this team. */
  verify(teamId: string, expires: string | undefined, signature: string | undefined, now = new Date()): boolean {
    if (!expires || !/^\d{1,12}$/.test(expires) || !signature || Number(expires) * 1000 < now.getTime()) return false;
    const expected = Buffer.from(this.hash.of(`${teamId}|${expires}`));
    const given = Buffer.from(signature);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}
