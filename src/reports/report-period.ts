import { amsterdamIsoDate } from '../calendar/working-days.js';
import { badRequest } from '../fhir/operation-outcome.js';

/** A reporting period in Amsterdam calendar dates, both ends included. */
export interface ReportPeriod {
  /** As written: `2026-10`, `2026-Q3`, `2026` or `2026-01-15..2026-02-14`. */
  label: string;
  start: string;
  end: string;
}

const DATE = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;
const pad = (value: number) => String(value).padStart(2, '0');
const lastDayOf = (year: number, month: number) => new Date(Date.UTC(year, month, 0)).getUTCDate();
const months = (year: number, first: number, last: number, label: string): ReportPeriod => ({
  label,
  start: `${year}-${pad(first)}-01`,
  end: `${year}-${pad(last)}-${pad(lastDayOf(year, last))}`,
});

/** This month in Amsterdam, as a period label (`2026-10`). */
export const currentMonth = () => amsterdamIsoDate(new Date()).slice(0, 7);

/** A month (`2026-10`), quarter (`2026-Q3`) or year (`2026`). Throws 400 naming the parameter otherwise. */
export function parsePeriod(value: string, parameter = 'period'): ReportPeriod {
  const month = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(value);
  if (month) return months(Number(month[1]), Number(month[2]), Number(month[2]), value);
  const quarter = /^(\d{4})-Q([1-4])$/.exec(value);
  if (quarter) return months(Number(quarter[1]), Number(quarter[2]) * 3 - 2, Number(quarter[2]) * 3, value);
  if (/^\d{4}$/.test(value)) return months(Number(value), 1, 12, value);
  throw badRequest(`${parameter} must be a month (2026-10), a quarter (2026-Q3) or a year (2026)`, parameter);
}

/** `$evaluate-measure`'s periodStart and periodEnd (dates, both included). */
export function periodBetween(start: string | undefined, end: string | undefined): ReportPeriod {
  if (!start || !DATE.test(start)) throw badRequest('periodStart must be a date (YYYY-MM-DD)', 'periodStart');
  if (!end || !DATE.test(end)) throw badRequest('periodEnd must be a date (YYYY-MM-DD)', 'periodEnd');
  if (end < start) throw badRequest('periodEnd lies before periodStart', 'periodEnd');
  return { label: `${start}..${end}`, start, end };
}

export const contains = (period: ReportPeriod, date: string) => date >= period.start && date <= period.end;

/** The twelve months up to and including the month a period ends in, oldest first (for the charts). */
export function twelveMonthsTo(period: ReportPeriod): ReportPeriod[] {
  const [year, month] = period.end.split('-').map(Number) as [number, number];
  return Array.from({ length: 12 }, (_, index) => {
    const offset = month - 12 + index;
    const y = year + Math.floor((offset) / 12);
    const m = ((offset % 12) + 12) % 12 + 1;
    return months(y, m, m, `${y}-${pad(m)}`);
  });
}
