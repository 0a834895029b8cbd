import type { FastifyInstance } from 'fastify';
import type { Role } from '../auth/caller.js';
import type { Config } from '../config.js';
import { teamOrganizationId } from '../directory/team-organization.js';
import { FHIR_JSON } from '../fhir/media-type.js';
import { onlyParameters } from '../fhir/parameters.js';
import { badRequest, FhirError } from '../fhir/operation-outcome.js';
import { MEASURE_ID, MEASURE_URL } from './measure-report.js';
import type { OutcomeReports, ReportReader } from './outcome-reports.js';
import { reportCsv, reportPage } from './report-page.js';
import type { ReportLinks } from './report-links.js';
import { currentMonth, parsePeriod, periodBetween } from './report-period.js';

type Query = Record<string, string | undefined>;

/** Who may read figures; which figures is the domain's rule (OutcomeReports.access). */
const READERS: readonly Role[] = ['operator', 'coach', 'gp'];

export interface ReportRouteOptions {
  config: Config;
  reports: OutcomeReports;
  reportLinks: ReportLinks;
}

/** Outcome figures: MeasureReports for API clients, and the report page for WoR coordinators. */
export default async function reportRoutes(app: FastifyInstance, { config, reports, reportLinks: links }: ReportRouteOptions) {
  const base = config.PUBLIC_BASE_URL;

  app.get<{ Querystring: Query }>('/fhir/MeasureReport', { config: { roles: READERS, scope: 'MeasureReport.s' } }, async (request, reply) => {
    onlyParameters(request.query, ['subject', 'period', 'measure']);
    if (request.query.measure !== undefined && request.query.measure !== MEASURE_URL) throw badRequest(`measure must be ${MEASURE_URL}`, 'measure');
    const period = parsePeriod(request.query.period ?? currentMonth());
    const teams = reports.searchedTeams(request.caller, request.query.subject);
    const found = await Promise.all(teams.map((team) => reports.measureReport(request.caller, team, period)));
    return reply.type(FHIR_JSON).send({
      resourceType: 'Bundle',
      type: 'searchset',
      total: found.length,
      link: [{ relation: 'self', url: `${base}${request.url}` }],
      entry: found.map((resource) => ({ resource, search: { mode: 'match' } })),
    });
  });

  app.get<{ Params: { id: string }; Querystring: Query }>(`/fhir/Measure/:id/$evaluate-measure`, { config: { roles: READERS, scope: 'MeasureReport.r' } }, async (request, reply) => {
    if (request.params.id !== MEASURE_ID) throw new FhirError(404, { code: 'not-found', diagnostics: `Measure/${request.params.id} not found` });
    onlyParameters(request.query, ['periodStart', 'periodEnd', 'subject', 'reportType']);
    if (request.query.reportType !== undefined && request.query.reportType !== 'summary') throw badRequest('Only reportType summary is offered', 'reportType');
    const period = periodBetween(request.query.periodStart, request.query.periodEnd);
    const report = await reports.measureReport(request.caller, reports.subjectTeam(request.caller, request.query.subject), period);
    return reply.type(FHIR_JSON).send(report);
  });

  app.post<{ Params: { team: string } }>('/reports/:team/links', { config: { roles: ['operator'] } }, async (request, reply) => {
    const { team } = reports.access(request.caller, request.params.team);
    const { expires, signature } = links.sign(team.id);
    return reply.status(201).send({ url: `${base}/reports/${team.id}?expires=${expires}&signature=${signature}`, expires: new Date(expires * 1000).toISOString() });
  });

  app.get<{ Params: { team: string }; Querystring: Query }>('/reports/:team', { config: { signedLink: true, roles: ['operator', 'coach'], scope: 'MeasureReport.r' } }, async (request, reply) => {
    const { team: teamId } = request.params;
    onlyParameters(request.query, ['period', 'format', 'expires', 'signature']);
    const reader: ReportReader = request.caller ?? links.reader(teamId, request.query.expires, request.query.signature);
    const period = parsePeriod(request.query.period ?? currentMonth());
    const format = request.query.format ?? 'html';
    if (format !== 'html' && format !== 'csv') throw badRequest('format must be html or csv', 'format');
    const linkParams = request.caller ? '' : `&expires=${request.query.expires}&signature=${request.query.signature}`;
    if (format === 'csv') {
      const figures = await reports.figures(reader, teamId, period);
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="wor-${teamId}-${period.label}.csv"`)
        .send(reportCsv({ team: teamOrganizationId(teamId), period, figures, minimumCount: reports.minimumCount }));
    }
    const { team, figures, months } = await reports.withHistory(reader, teamId, period);
    return reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; form-action 'none'")
      .send(
        reportPage({
          teamName: team.name,
          period,
          figures,
          months,
          minimumCount: reports.minimumCount,
          csvHref: `/reports/${team.id}?period=${period.label}&format=csv${linkParams}`,
          generatedAt: new Date(),
        }),
      );
  });
}
