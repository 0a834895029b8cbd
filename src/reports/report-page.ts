import { FIGURES, STRATIFIERS, type Figure, type FigureCode, type Published } from './outcome-figures.js';
import type { ReportPeriod } from './report-period.js';

export interface ReportView {
  teamName: string;
  period: ReportPeriod;
  figures: Figure[];
  /** The same figures for each of the twelve months up to the period's end, oldest first. */
  months: Array<{ period: ReportPeriod; figures: Figure[] }>;
  minimumCount: number;
  csvHref: string;
  generatedAt: Date;
}

const escape = (text: string) => text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);

/** The number a figure is drawn and listed by: its count, its numerator, or its working days. */
export function headline(figure: Figure): Published | undefined {
  return figure.count ?? figure.numerator ?? figure.days;
}

const shown = (value: Published | undefined, minimumCount: number) => (value === 'masked' ? `&lt; ${minimumCount}` : value === undefined ? '–' : String(value));

function figureText(figure: Figure, minimumCount: number): string {
  if (figure.denominator !== undefined) return `${shown(figure.numerator, minimumCount)} van ${shown(figure.denominator, minimumCount)}`;
  return shown(headline(figure), minimumCount);
}

/** A bar per month with its number above it; a masked month has no bar, only the label "< n". */
function chart(code: FigureCode, months: ReportView['months'], minimumCount: number): string {
  const width = 360;
  const height = 100;
  const values = months.map((month) => headline(month.figures.find((figure) => figure.code === code)!));
  const top = Math.max(1, ...values.map((value) => (typeof value === 'number' ? value : 0)));
  const slot = width / months.length;
  const bars = months
    .map((month, index) => {
      const value = values[index];
      const barHeight = typeof value === 'number' ? Math.round((value / top) * (height - 30)) : 0;
      const x = Math.round(index * slot + 3);
      const label = value === 'masked' ? `< ${minimumCount}` : String(value ?? 0);
      return (
        `<g class="bar" data-month="${month.period.label}" data-value="${value === 'masked' ? 'masked' : (value ?? 0)}">` +
        `<title>${month.period.label}: ${escape(label)}</title>` +
        `<rect x="${x}" y="${height - 12 - barHeight}" width="${Math.round(slot - 6)}" height="${barHeight}"${value === 'masked' ? ' class="masked"' : ''}/>` +
        (value === 'masked' || (typeof value === 'number' && value > 0)
          ? `<text class="label" x="${Math.round(x + (slot - 6) / 2)}" y="${height - 15 - barHeight}">${escape(label)}</text>`
          : '') +
        `<text x="${Math.round(x + (slot - 6) / 2)}" y="${height - 1}">${month.period.label.slice(5)}</text></g>`
      );
    })
    .join('');
  return `<svg role="img" aria-label="${escape(FIGURES[code])} per maand" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">${bars}</svg>`;
}

function strataTable(figure: Figure, minimumCount: number): string {
  if (figure.strata.length === 0) return '';
  const rows = figure.strata
    .map((stratum) => `<tr><td>${escape(STRATIFIERS[stratum.stratifier])}</td><td>${escape(stratum.value)}</td><td class="n">${shown(stratum.count, minimumCount)}</td></tr>`)
    .join('');
  return `<details><summary>Uitsplitsing</summary><table class="strata">${rows}</table></details>`;
}

/** The report page for WoR coordinators: one team, one period, no scripts, printable on A4. Pure. */
export function reportPage(view: ReportView): string {
  const sections = view.figures
    .map(
      (figure) => `<section class="figure" data-figure="${figure.code}">
<h2>${escape(FIGURES[figure.code])}</h2>
<p class="value">${figureText(figure, view.minimumCount)}</p>
${chart(figure.code, view.months, view.minimumCount)}
${strataTable(figure, view.minimumCount)}
</section>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="nl"><head><meta charset="utf-8"><title>Welzijn op Recept — ${escape(view.teamName)} — ${escape(view.period.label)}</title>
<style>
@page { size: A4; margin: 15mm; }
body { font-family: system-ui, sans-serif; color: #1b1b1b; max-width: 180mm; margin: 0 auto; }
h1 { font-size: 1.4em; } h2 { font-size: 1em; margin: 0 0 .2em; }
.figures { display: grid; grid-template-columns: 1fr 1fr; gap: 6mm 8mm; }
.figure { break-inside: avoid; border-top: 1px solid #ccc; padding-top: 2mm; }
.value { font-size: 1.6em; margin: 0 0 .2em; }
svg rect { fill: #2a6f97; } svg text { font-size: 9px; text-anchor: middle; fill: #555; } svg text.label { fill: #1b1b1b; }
table.strata td { padding: 0 .5em; font-size: .85em; } td.n { text-align: right; }
footer { margin-top: 8mm; font-size: .8em; color: #555; }
@media print { details { display: none; } a.csv { display: none; } }
</style></head>
<body>
<h1>Welzijn op Recept — ${escape(view.teamName)}</h1>
<p>Periode ${escape(view.period.label)} (${view.period.start} t/m ${view.period.end}), verwijzingen naar de datum van ontvangst. <a class="csv" href="${escape(view.csvHref)}">Download als CSV</a></p>
<div class="figures">
${sections}
</div>
<footer>Aantallen van 1 tot ${view.minimumCount} worden niet getoond (&lt; ${view.minimumCount}), zodat geen patiënt herkenbaar is. Werkdagen volgens de Nederlandse feestdagen. Gemaakt ${view.generatedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC.</footer>
</body></html>
`;
}

/** Quoted where needed; a cell a spreadsheet would run as a formula is defused with a leading quote. */
const csvCell = (raw: string) => {
  const value = /^[=+\-@]/.test(raw) ? `'${raw}` : raw;
  return /[",\r\n;]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
};
const csvValue = (value: Published | undefined, minimumCount: number) => (value === 'masked' ? `<${minimumCount}` : value === undefined ? '' : String(value));

/** The figures and their strata as CSV, one row per number, masked counts written as "<n". Pure. */
export function reportCsv(input: { team: string; period: ReportPeriod; figures: Figure[]; minimumCount: number }): string {
  const rows = [['team', 'period', 'figure', 'stratifier', 'stratum', 'count', 'numerator', 'denominator', 'working_days']];
  const value = (published: Published | undefined) => csvValue(published, input.minimumCount);
  for (const figure of input.figures) {
    rows.push([input.team, input.period.label, figure.code, '', '', value(figure.count), value(figure.numerator), value(figure.denominator), value(figure.days)]);
    for (const stratum of figure.strata) rows.push([input.team, input.period.label, figure.code, stratum.stratifier, stratum.value, value(stratum.count), '', '', '']);
  }
  return rows.map((row) => row.map(csvCell).join(',')).join('\r\n') + '\r\n';
}
