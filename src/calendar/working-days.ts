/**
 * Working days in the Netherlands: Monday to Friday, except the public holidays most employers
 * observe (Algemene termijnenwet plus Koningsdag). Bevrijdingsdag counts only in lustrum years, when
 * it is a day off for most; Goede Vrijdag is not a general day off and counts as a working day.
 */
const TIME_ZONE = 'Europe/Amsterdam';

/** Easter Sunday (Gregorian, anonymous algorithm), as [month 1-12, day]. */
function easterSunday(year: number): [number, number] {
  const a = year % 19;
  const b = Math.floor(year / 100);
  const c = year % 100;
  const d = Math.floor(b / 4);
  const e = b % 4;
  const f = Math.floor((b + 8) / 25);
  const g = Math.floor((b - f + 1) / 3);
  const h = (19 * a + b - d - g + 15) % 30;
  const i = Math.floor(c / 4);
  const k = c % 4;
  const l = (32 + 2 * e + 2 * i - h - k) % 7;
  const m = Math.floor((a + 11 * h + 22 * l) / 451);
  const month = Math.floor((h + l - 7 * m + 114) / 31);
  const day = ((h + l - 7 * m + 114) % 31) + 1;
  return [month, day];
}

const isoDate = (date: Date) => date.toISOString().slice(0, 10);
const utcDate = (year: number, month: number, day: number) => new Date(Date.UTC(year, month - 1, day));
const addDays = (date: Date, days: number) => new Date(date.getTime() + days * 86_400_000);

const holidayCache = new Map<number, Set<string>>();

export function dutchPublicHolidays(year: number): Set<string> {
  const cached = holidayCache.get(year);
  if (cached) return cached;
  const easter = utcDate(year, ...easterSunday(year));
  const kingsDay = utcDate(year, 4, 27).getUTCDay() === 0 ? utcDate(year, 4, 26) : utcDate(year, 4, 27);
  const days = [
    utcDate(year, 1, 1), // Nieuwjaarsdag
    easter,
    addDays(easter, 1), // Tweede Paasdag
    kingsDay,
    addDays(easter, 39), // Hemelvaartsdag
    addDays(easter, 49), // Eerste Pinksterdag
    addDays(easter, 50), // Tweede Pinksterdag
    utcDate(year, 12, 25),
    utcDate(year, 12, 26),
    ...(year % 5 === 0 ? [utcDate(year, 5, 5)] : []), // Bevrijdingsdag in lustrum years
  ];
  const holidays = new Set(days.map(isoDate));
  holidayCache.set(year, holidays);
  return holidays;
}

export function isWorkingDay(date: Date): boolean {
  const weekday = date.getUTCDay();
  return weekday !== 0 && weekday !== 6 && !dutchPublicHolidays(date.getUTCFullYear()).has(isoDate(date));
}

// Building an Intl.DateTimeFormat is expensive; these two serve every call.
const dateInAmsterdam = new Intl.DateTimeFormat('en-CA', { timeZone: TIME_ZONE, year: 'numeric', month: '2-digit', day: '2-digit' });
const offsetInAmsterdam = new Intl.DateTimeFormat('en-US', { timeZone: TIME_ZONE, timeZoneName: 'longOffset' });

/** The calendar date in Amsterdam of an instant, as a UTC-midnight Date. */
function amsterdamDate(instant: Date): Date {
  const [year, month, day] = dateInAmsterdam
    .format(instant)
    .split('-')
    .map(Number) as [number, number, number];
  return utcDate(year, month, day);
}

/** The calendar date in Amsterdam of an instant, as YYYY-MM-DD. */
export const amsterdamIsoDate = (instant: Date): string => dateInAmsterdam.format(instant);

/**
 * Working days from one instant to a later one, by Amsterdam calendar dates: the working days after
 * the first date up to and including the second (a reply the next working day took 1). Zero when the
 * second is on the same date or earlier.
 */
export function workingDaysBetween(from: Date, to: Date): number {
  const last = amsterdamDate(to);
  let counted = 0;
  for (let date = addDays(amsterdamDate(from), 1); date <= last; date = addDays(date, 1)) {
    if (isWorkingDay(date)) counted += 1;
  }
  return counted;
}

/** The UTC offset of Amsterdam on a date, as "+01:00" or "+02:00". */
function amsterdamOffset(date: Date): string {
  const noon = new Date(date.getTime() + 12 * 3_600_000);
  const name = offsetInAmsterdam
    .formatToParts(noon)
    .find((part) => part.type === 'timeZoneName')?.value;
  return name?.replace('GMT', '') || '+00:00';
}

/**
 * The deadline that lies `workingDays` working days after the instant: the end (23:59:59,
 * Amsterdam time) of that working day, as a FHIR dateTime with offset.
 */
export function deadlineAfterWorkingDays(from: Date, workingDays: number): string {
  let date = amsterdamDate(from);
  for (let counted = 0; counted < workingDays; ) {
    date = addDays(date, 1);
    if (isWorkingDay(date)) counted += 1;
  }
  return `${isoDate(date)}T23:59:59${amsterdamOffset(date)}`;
}
