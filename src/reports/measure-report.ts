import type { Extension, MeasureReport, MeasureReportGroup, MeasureReportGroupPopulation, Reference } from 'fhir/r4.js';
import { CANONICAL_BASE, CODE_SYSTEM, PROFILE } from '../fhir/profiles.js';
import { FIGURES, STRATIFIERS, type Figure, type Published } from './outcome-figures.js';
import type { ReportPeriod } from './report-period.js';

export const MEASURE_ID = 'wor-outcomes';
export const MEASURE_URL = `${CANONICAL_BASE}/Measure/${MEASURE_ID}`;
const POPULATION_SYSTEM = 'http://terminology.hl7.org/CodeSystem/measure-population';
const DATA_ABSENT_REASON = 'http://hl7.org/fhir/StructureDefinition/data-absent-reason';
const MASKED: Extension = { url: DATA_ABSENT_REASON, valueCode: 'masked' };

const figureCode = (code: string) => ({ coding: [{ system: CODE_SYSTEM.outcomeFigure, code, display: FIGURES[code as keyof typeof FIGURES] }] });
const population = (code: string, count: Published | undefined): MeasureReportGroupPopulation => ({
  code: { coding: [{ system: POPULATION_SYSTEM, code }] },
  ...(count === 'masked' ? { extension: [MASKED] } : { count: count ?? 0 }),
});

/** A summary MeasureReport of the figures for one subject and period. Pure. */
export function measureReport(input: { figures: Figure[]; subject: Reference; period: ReportPeriod; generatedAt: Date }): MeasureReport {
  return {
    resourceType: 'MeasureReport',
    meta: { profile: [PROFILE.OutcomeReport] },
    status: 'complete',
    type: 'summary',
    measure: MEASURE_URL,
    subject: input.subject,
    date: input.generatedAt.toISOString(),
    period: { start: input.period.start, end: input.period.end },
    group: input.figures.map(reportGroup),
  };
}

function reportGroup(figure: Figure): MeasureReportGroup {
  const group: MeasureReportGroup = { code: figureCode(figure.code) };
  if (figure.count !== undefined) group.population = [population('initial-population', figure.count)];
  if (figure.denominator !== undefined) {
    group.population = [population('denominator', figure.denominator), population('numerator', figure.numerator)];
    if (typeof figure.numerator === 'number' && typeof figure.denominator === 'number' && figure.denominator > 0) {
      group.measureScore = { value: Math.round((figure.numerator / figure.denominator) * 1000) / 1000, unit: '1', system: 'http://unitsofmeasure.org', code: '1' };
    }
  }
  if (figure.days !== undefined) {
    if (figure.days === 'masked') group.extension = [MASKED];
    else group.measureScore = { value: figure.days, unit: 'werkdagen', system: 'http://unitsofmeasure.org', code: 'd' };
  }
  const stratifiers = [...new Set(figure.strata.map((stratum) => stratum.stratifier))];
  if (stratifiers.length > 0) {
    group.stratifier = stratifiers.map((stratifier) => ({
      code: [{ coding: [{ system: CODE_SYSTEM.outcomeStratifier, code: stratifier, display: STRATIFIERS[stratifier] }] }],
      stratum: figure.strata
        .filter((stratum) => stratum.stratifier === stratifier)
        .map((stratum) => ({ value: { text: stratum.value }, population: [population('initial-population', stratum.count)] })),
    }));
  }
  return group;
}
