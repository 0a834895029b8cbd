import type { Bundle, BundleLink, Resource } from 'fhir/r4.js';
import type { TenantRepository } from '../../auth/tenant-repository.js';
import { own } from '../../own-property.js';
import type { Cursor, SearchQuery } from '../../store/resource-store.js';
import { searchsetBundle } from '../../fhir/bundle.js';
import { FhirError, operationOutcome, type Issue } from '../../fhir/operation-outcome.js';
import { INCLUDES, SEARCH_PARAMETERS } from '../../fhir/search-parameters.js';
import { ID_PATTERN } from './resource-types.js';

export const MAX_COUNT = 100;
const DEFAULT_COUNT = 20;

type QueryValue = string | string[] | undefined;

interface ParsedSearch {
  query: Omit<SearchQuery, 'tenant'>;
  includes: string[];
  /** The parameters as understood, to rebuild paging links. */
  echo: Array<[string, string]>;
  unsupported: Issue[];
}

const values = (value: QueryValue): string[] => (Array.isArray(value) ? value : value === undefined ? [] : [value]);

/** FHIR date/dateTime/instant to the [start, end) window its precision covers, in ms. */
function instantWindow(text: string): [number, number] | undefined {
  const match = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/.exec(text);
  if (!match) return undefined;
  const [, year, month, day, hour, minute, second, fraction, zone] = match;
  if (hour !== undefined && !zone) return undefined;
  const start = Date.parse(
    `${year}-${month ?? '01'}-${day ?? '01'}T${hour ?? '00'}:${minute ?? '00'}:${second ?? '00'}${fraction ?? ''}${zone ?? 'Z'}`,
  );
  if (Number.isNaN(start)) return undefined;
  const end = new Date(start);
  if (fraction) end.setTime(start + 1);
  else if (second) end.setTime(start + 1000);
  else if (minute) end.setTime(start + 60_000);
  else if (day) end.setUTCDate(end.getUTCDate() + 1);
  else if (month) end.setUTCMonth(end.getUTCMonth() + 1);
  else end.setUTCFullYear(end.getUTCFullYear() + 1);
  return [start, end.getTime()];
}

/** Longer values are refused before any parsing: no legitimate search value comes near it. */
export const MAX_SEARCH_VALUE_LENGTH = 1024;
const RESOURCE_TYPE = /^[A-Za-z]{1,64}$/;

/** `Type/id`, or the last two segments of an absolute reference; a bare id gets the target type. Split, not a regex on the input. */
function referenceValue(value: string, target: string | undefined): string {
  const segments = value.split('/');
  if (segments.length >= 2) {
    const [type = '', id = ''] = segments.slice(-2);
    if (RESOURCE_TYPE.test(type) && ID_PATTERN.test(id)) return `${type}/${id}`;
  }
  return target ? `${target}/${value}` : value;
}

/** Reads search parameters (contract §8); anything not understood is reported, never ignored. */
export function parseSearch(type: string, params: Record<string, QueryValue>): ParsedSearch {
  const definitions = own(SEARCH_PARAMETERS, type) ?? [];
  const query: ParsedSearch['query'] = { type, filters: [], count: DEFAULT_COUNT };
  const includes: string[] = [];
  const echo: Array<[string, string]> = [];
  const unsupported: Issue[] = [];
  const invalid = (expression: string, diagnostics: string) => {
    throw new FhirError(400, { code: 'invalid', expression, diagnostics });
  };

  for (const [name, raw] of Object.entries(params)) {
    for (const value of values(raw)) {
      if (value.length > MAX_SEARCH_VALUE_LENGTH) invalid(name, `${name} is longer than ${MAX_SEARCH_VALUE_LENGTH} characters`);
      if (name === '_count') {
        const number = /^[0-9]{1,9}$/.test(value) ? Number(value) : invalid(name, `${name} must be a non-negative integer`);
        query.count = Math.min(number, MAX_COUNT);
      } else if (name === '_cursor') {
        query.cursor = decodeCursor(value) ?? invalid(name, '_cursor is not one this server handed out; follow the next link as given');
      } else if (name === '_lastUpdated') {
        const [, prefix = 'eq', instant = ''] = /^(eq|gt|ge|lt|le)?(.*)$/.exec(value) ?? [];
        const window = instantWindow(instant) ?? invalid(name, '_lastUpdated must be a FHIR date or dateTime with time zone, optionally prefixed gt, ge, lt, le or eq');
        const range = (query.lastUpdated ??= {});
        if (prefix === 'gt') Object.assign(range, { min: window[1] - 1, minExclusive: true });
        if (prefix === 'ge') Object.assign(range, { min: window[0], minExclusive: false });
        if (prefix === 'lt') Object.assign(range, { max: window[0], maxExclusive: true });
        if (prefix === 'le') Object.assign(range, { max: window[1], maxExclusive: true });
        if (prefix === 'eq') Object.assign(range, { min: window[0], minExclusive: false, max: window[1], maxExclusive: true });
        echo.push([name, value]);
      } else if (name === '_include') {
        const [source, param] = value.split(':');
        if (source !== type || !param || !own(own(INCLUDES, type) ?? {}, param)) {
          unsupported.push({ code: 'not-supported', expression: name, diagnostics: `_include=${value} is not supported for ${type}` });
        } else {
          includes.push(param);
          echo.push([name, value]);
        }
      } else if (name === '_format') {
        if (!/json/.test(value)) unsupported.push({ code: 'not-supported', expression: name, diagnostics: 'Only JSON is supported' });
      } else {
        const definition = definitions.find((candidate) => candidate.name === name);
        if (!definition) {
          unsupported.push({ code: 'not-supported', expression: name, diagnostics: `Search parameter ${name} is not supported for ${type}` });
          continue;
        }
        const alternatives = value.split(',').map((item): [string, string] => {
          const text = item.trim();
          if (!text) invalid(name, `${name} has an empty value`);
          if (definition.type === 'reference') return [name, referenceValue(text, definition.target)];
          return [name, text.startsWith('|') ? text.slice(1) : text];
        });
        query.filters.push(alternatives);
        echo.push([name, value]);
      }
    }
  }
  return { query, includes, echo, unsupported };
}

/**
 * Pages are keyed on (lastUpdated, id) of the last match shown, not on an offset: a resource written
 * between two pages cannot push another onto the next page a second time.
 */
function encodeCursor(cursor: Cursor): string {
  return Buffer.from(`${cursor.lastUpdated}|${cursor.id}|${cursor.snapshot}`).toString('base64url');
}

const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function decodeCursor(value: string): Cursor | undefined {
  if (value.length > 200) return undefined;
  const [lastUpdated = '', id = '', snapshot = '', extra] = Buffer.from(value, 'base64url').toString().split('|');
  const valid = extra === undefined && INSTANT.test(lastUpdated) && INSTANT.test(snapshot) && /^[A-Za-z0-9.-]{1,64}$/.test(id);
  return valid && !Number.isNaN(Date.parse(lastUpdated)) && !Number.isNaN(Date.parse(snapshot)) ? { lastUpdated, id, snapshot } : undefined;
}

function pageLink(baseUrl: string, type: string, echo: Array<[string, string]>, count: number, cursor: Cursor | undefined, relation: string): BundleLink {
  const params = new URLSearchParams([...echo, ['_count', String(count)], ...(cursor ? [['_cursor', encodeCursor(cursor)] as [string, string]] : [])]);
  return { relation, url: `${baseUrl}/fhir/${type}?${params.toString()}` };
}

/** Runs a search in the caller's tenancy: one page of matches, the includes they may see, paging links. */
export async function search(
  repo: TenantRepository,
  baseUrl: string,
  type: string,
  params: Record<string, QueryValue>,
  lenient: boolean,
): Promise<Bundle> {
  const parsed = parseSearch(type, params);
  if (parsed.unsupported.length > 0 && !lenient) throw new FhirError(400, parsed.unsupported);
  const { query, echo } = parsed;
  const { total, resources, next } = await repo.search(query);

  const includeRefs = new Set<string>();
  for (const resource of resources) {
    for (const param of parsed.includes) for (const ref of INCLUDES[type]![param]!(resource)) includeRefs.add(ref);
  }
  const includes = await repo.readMany([...includeRefs].map((ref) => ref.split('/') as [string, string]));

  const { count } = query;
  const links = [pageLink(baseUrl, type, echo, count, query.cursor, 'self')];
  if (next) links.push(pageLink(baseUrl, type, echo, count, next, 'next'));
  const outcome: Resource | undefined = parsed.unsupported.length
    ? operationOutcome(parsed.unsupported.map((issue) => ({ ...issue, severity: 'warning' })))
    : undefined;
  return searchsetBundle(baseUrl, total, resources, includes, links, outcome);
}
