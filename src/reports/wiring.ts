import type { Directory } from '../directory/directory.js';
import type { Metrics } from '../ops/metrics.js';
import type { OutcomeReports } from './outcome-reports.js';
import { headline } from './report-page.js';
import { currentMonth, parsePeriod } from './report-period.js';

const HEADLINE_SECONDS = 300;

/** The headline figures for a dashboard: this month's, per team, recomputed at most every few minutes. */
export function wireReports({ reports, directory, metrics }: { reports: OutcomeReports; directory: Directory; metrics: Metrics }): void {
  let headlines: { at: number; values: Array<[{ team: string; figure: string }, number]> } | undefined;
  metrics.gauge({
    name: 'wor_outcome_figure',
    help: `This month's outcome figures per team (counts, numerators, working days; masked ones left out), at most ${HEADLINE_SECONDS} s old`,
    labelNames: ['team', 'figure'],
    read: async () => {
      if (!headlines || Date.now() - headlines.at > HEADLINE_SECONDS * 1000) {
        const period = parsePeriod(currentMonth());
        const perTeam = await Promise.all(
          directory.teams.map(async (team) => ({ team: team.id, figures: await reports.figures({ role: 'operator', org: 'metrics' }, team.id, period) })),
        );
        headlines = {
          at: Date.now(),
          values: perTeam.flatMap(({ team, figures }) =>
            figures.flatMap((figure): Array<[{ team: string; figure: string }, number]> => {
              const value = headline(figure);
              return typeof value === 'number' ? [[{ team, figure: figure.code }, value]] : [];
            }),
          ),
        };
      }
      return headlines.values;
    },
  });
}
