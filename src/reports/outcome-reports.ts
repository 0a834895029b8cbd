import type { MeasureReport } from 'fhir/r4.js';
import type { Caller } from '../auth/caller.js';
import { amsterdamIsoDate } from '../calendar/working-days.js';
import type { Directory, Team } from '../directory/directory.js';
import { teamReference } from '../directory/team-organization.js';
import { badRequest, forbidden, notFound } from '../fhir/operation-outcome.js';
import type { ResourceStore } from '../store/resource-store.js';
import { measureReport } from './measure-report.js';
import { outcomeFigures, type Figure } from './outcome-figures.js';
import { readReferralFacts } from './referral-facts-reader.js';
import { contains, twelveMonthsTo, type ReportPeriod } from './report-period.js';

/**
 * Who may see which figures: an operator every team's; a coach system its own team's; a practice
 * only the figures of its own referrals (to any team); a portal none.
 */
export interface ReportReader {
  role: Caller['role'] | 'signed-link';
  org: string;
}

export interface OutcomeReportsOptions {
  store: ResourceStore;
  directory: Directory;
  /** A count above zero but below this is masked. */
  minimumCount: number;
}

const TEAM_SUBJECT = /^Organization\/team-([A-Za-z0-9-]{1,64})$/;

export class OutcomeReports {
  readonly minimumCount: number;

  constructor(private readonly options: OutcomeReportsOptions) {
    this.minimumCount = options.minimumCount;
  }

  /** The team, if this reader may see its figures; which practice's referrals they are limited to. */
  access(reader: ReportReader, teamId: string): { team: Team; practice?: string } {
    const team = this.options.directory.team(teamId);
    if (!team) throw notFound(`Team ${teamId}`);
    switch (reader.role) {
      case 'operator':
        return { team };
      case 'signed-link':
      case 'coach':
        if (reader.org !== team.id) throw forbidden('Reports of another team are not disclosed to this caller');
        return { team };
      case 'gp':
        return { team, practice: reader.org };
      default:
        throw forbidden(`Outcome reports are not for the role ${reader.role}`);
    }
  }

  /** The team `subject` names (`Organization/team-{id}`); left out, a coach system's own team. */
  subjectTeam(reader: ReportReader, subject: string | undefined): string {
    const match = subject === undefined ? undefined : TEAM_SUBJECT.exec(subject);
    if (match) return match[1]!;
    if (subject === undefined && reader.role === 'coach') return reader.org;
    throw badRequest('subject must be a team Organization (Organization/team-{id})', 'subject');
  }

  /** The teams a search covers: the subject's; without one, every team the reader may see figures of (a coach system: its own). */
  searchedTeams(reader: ReportReader, subject: string | undefined): string[] {
    if (subject !== undefined || reader.role === 'coach') return [this.subjectTeam(reader, subject)];
    return this.options.directory.teams.map((team) => team.id);
  }

  async figures(reader: ReportReader, teamId: string, period: ReportPeriod): Promise<Figure[]> {
    return (await this.teamFigures(reader, teamId, period)).figures;
  }

  async measureReport(reader: ReportReader, teamId: string, period: ReportPeriod): Promise<MeasureReport> {
    const { team, figures } = await this.teamFigures(reader, teamId, period);
    return measureReport({ figures, subject: teamReference(team), period, generatedAt: new Date() });
  }

  private async teamFigures(reader: ReportReader, teamId: string, period: ReportPeriod): Promise<{ team: Team; figures: Figure[] }> {
    const { team, practice } = this.access(reader, teamId);
    const facts = await readReferralFacts(this.options.store, { team: team.id, period, ...(practice ? { practice } : {}) });
    return { team, figures: outcomeFigures(facts, { minimumCount: this.minimumCount }) };
  }

  /** The period's figures and those of each of the twelve months up to its end, from one read. */
  async withHistory(reader: ReportReader, teamId: string, period: ReportPeriod): Promise<{ team: Team; figures: Figure[]; months: Array<{ period: ReportPeriod; figures: Figure[] }> }> {
    const { team, practice } = this.access(reader, teamId);
    const months = twelveMonthsTo(period);
    const span: ReportPeriod = { label: 'span', start: [months[0]!.start, period.start].sort()[0]!, end: period.end };
    const facts = await readReferralFacts(this.options.store, { team: team.id, period: span, ...(practice ? { practice } : {}) });
    const within = (range: ReportPeriod) => facts.filter((fact) => contains(range, amsterdamIsoDate(new Date(fact.receivedAt))));
    const options = { minimumCount: this.minimumCount };
    return {
      team,
      figures: outcomeFigures(within(period), options),
      months: months.map((month) => ({ period: month, figures: outcomeFigures(within(month), options) })),
    };
  }
}
