import type { Bundle, BundleLink, Resource } from 'fhir/r4.js';
import { requireScope } from '../../auth/caller.js';
import type { TenantRepository } from '../../auth/tenant-repository.js';
import { own } from '../../own-property.js';
import type { Cursor, SearchQuery } from '../../store/resource-store.js';
import { searchsetBundle } from '../../fhir/bundle.js';
import { FhirError, operationOutcome, type Issue } from '../../fhir/operation-outcome.js';
import { INCLUDES, revIncludes, SEARCH_PARAMETERS } from '../../fhir/search-parameters.js';
import { ID_PATTERN } from './resource-types.js';

export const MAX_COUNT = 100;
const DEFAULT_COUNT = 20;
/** A chained parameter (`patient.identifier=`) may stand for at most this many resources. */
export const MAX_CHAIN_MATCHES = 100;
/** `_revinclude` brings at most this many resources per page; more is reported in an outcome entry. */
export const MAX_REVINCLUDES = 500;

type QueryValue = string | string[] | undefined;

type Order = NonNullable<SearchQuery['order']>;

/** `patient.identifier=…`: the `patient` filter holds the ids of the Patients the `identifier` values find. */
interface Chain {
  param: string;
  target: string;
  chained: string;
  values: string[];
}

interface ParsedSearch {
  query: Omit<SearchQuery, 'tenant'>;
  includes: string[];
  revIncludes: Array<{ source: string; param: string }>;
  chains: Chain[];
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
  const revIncluded: ParsedSearch['revIncludes'] = [];
  const chains: Chain[] = [];
  let cursorOrder: Order | undefined;
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
        const decoded = decodeCursor(value) ?? invalid(name, '_cursor is not one this server handed out; follow the next link as given');
        query.cursor = decoded.cursor;
        cursorOrder = decoded.order;
      } else if (name === '_id') {
        const ids = value.split(',').map((id) => (ID_PATTERN.test(id) ? id : invalid(name, '_id must be resource ids (letters, digits, - and ., at most 64), comma-separated')));
        query.ids = query.ids ? query.ids.filter((id) => ids.includes(id)) : ids;
        echo.push([name, value]);
      } else if (name === '_sort') {
        if (value === '_lastUpdated' || value === '-_lastUpdated') {
          query.order = value === '_lastUpdated' ? 'asc' : 'desc';
          echo.push([name, value]);
        } else {
          unsupported.push({ code: 'not-supported', expression: name, diagnostics: `_sort=${value} is not supported; sort by _lastUpdated or -_lastUpdated` });
        }
      } else if (name === '_revinclude') {
        const [source = '', param = '', ...rest] = value.split(':');
        const offered = revIncludes(type).find((candidate) => candidate.source === source && candidate.param === param);
        if (!offered || rest.length > 0) {
          unsupported.push({ code: 'not-supported', expression: name, diagnostics: `_revinclude=${value} is not supported for ${type}` });
        } else {
          revIncluded.push(offered);
          echo.push([name, value]);
        }
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
        // Checked for every /fhir request before it gets here (src/http/fhir-protocol.ts): JSON only.
      } else if (name.includes('.')) {
        const chain = chainOf(type, name);
        if (!chain) {
          unsupported.push({ code: 'not-supported', expression: name, diagnostics: `Chained parameter ${name} is not supported for ${type}` });
          continue;
        }
        chains.push({ ...chain, values: value.split(',').map((item) => item.trim() || invalid(name, `${name} has an empty value`)) });
        echo.push([name, value]);
      } else {
        const definition = definitions.find((candidate) => candidate.name === name);
        if (!definition) {
          unsupported.push({ code: 'not-supported', expression: name, diagnostics: `Search parameter ${name} is not supported for ${type}` });
          continue;
        }
        const alternatives = value.split(',').map((item): [string, string] => {
          const text = item.trim();
          if (!text) invalid(name, `${name} has an empty value`);
          // Tokens keep their spec forms: `system|code`, `code`, `|code` (no system), `system|` (any code).
          return [name, definition.type === 'reference' ? referenceValue(text, definition.target) : text];
        });
        query.filters.push(alternatives);
        echo.push([name, value]);
      }
    }
  }
  if (query.cursor && cursorOrder !== (query.order ?? 'desc')) {
    invalid('_cursor', '_cursor belongs to a search in the other _sort order; follow the next link as given');
  }
  return { query, includes, revIncludes: revIncluded, chains, echo, unsupported };
}

/** `reference.parameter` where the reference has one target type and the parameter is a token there (one level only). */
function chainOf(type: string, name: string): Omit<Chain, 'values'> | undefined {
  const [param = '', chained = '', ...rest] = name.split('.');
  const reference = (own(SEARCH_PARAMETERS, type) ?? []).find((candidate) => candidate.name === param && candidate.type === 'reference');
  const target = reference?.target;
  const token = target ? (own(SEARCH_PARAMETERS, target) ?? []).find((candidate) => candidate.name === chained && candidate.type === 'token') : undefined;
  return rest.length === 0 && target && token ? { param, target, chained } : undefined;
}

/**
 * Pages are keyed on (lastUpdated, id) of the last match shown, not on an offset: a resource written
 * between two pages cannot push another onto the next page a second time.
 */
function encodeCursor(cursor: Cursor, order: Order): string {
  return Buffer.from(`${cursor.lastUpdated}|${cursor.id}|${cursor.snapshot}|${order}`).toString('base64url');
}

const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** The cursor carries the order it was made for: a page boundary means nothing in the other order. */
function decodeCursor(value: string): { cursor: Cursor; order: Order } | undefined {
  if (value.length > 200) return undefined;
  const [lastUpdated = '', id = '', snapshot = '', order = '', extra] = Buffer.from(value, 'base64url').toString().split('|');
  const valid =
    extra === undefined && (order === 'asc' || order === 'desc') && INSTANT.test(lastUpdated) && INSTANT.test(snapshot) && ID_PATTERN.test(id);
  return valid && !Number.isNaN(Date.parse(lastUpdated)) && !Number.isNaN(Date.parse(snapshot)) ? { cursor: { lastUpdated, id, snapshot }, order } : undefined;
}

function pageLink(baseUrl: string, type: string, echo: Array<[string, string]>, query: SearchQuery, cursor: Cursor | undefined, relation: string): BundleLink {
  const page: Array<[string, string]> = [['_count', String(query.count)], ...(cursor ? [['_cursor', encodeCursor(cursor, query.order ?? 'desc')] as [string, string]] : [])];
  const params = new URLSearchParams([...echo, ...page]);
  return { relation, url: `${baseUrl}/fhir/${type}?${params.toString()}` };
}

/**
 * A chain's values as the ids of its target resources, searched in the caller's tenancy with the
 * caller's search scope on the target: a token without Patient search cannot probe BSNs this way.
 */
async function resolveChain(repo: TenantRepository, chain: Chain): Promise<Array<[string, string]>> {
  requireScope(repo.caller, chain.target, 's');
  const found = await repo.search({ type: chain.target, filters: [chain.values.map((value) => [chain.chained, value])], count: MAX_CHAIN_MATCHES });
  if (found.total > MAX_CHAIN_MATCHES) {
    throw new FhirError(400, {
      code: 'too-costly',
      expression: `${chain.param}.${chain.chained}`,
      diagnostics: `${chain.param}.${chain.chained} stands for more than ${MAX_CHAIN_MATCHES} ${chain.target} resources; give a complete identifier (system|value)`,
    });
  }
  return found.resources.map((resource) => [chain.param, `${chain.target}/${resource.id}`]);
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
  for (const chain of parsed.chains) {
    const alternatives = await resolveChain(repo, chain);
    // No resource behind the chain: nothing can match.
    if (alternatives.length === 0) query.ids = [];
    else query.filters.push(alternatives);
  }
  for (const { source } of parsed.revIncludes) requireScope(repo.caller, source, 's');
  const { total, resources, next } = await repo.search(query);

  const includeRefs = new Set<string>();
  for (const resource of resources) {
    for (const param of parsed.includes) for (const ref of own(own(INCLUDES, type)!, param)!(resource)) includeRefs.add(ref);
  }
  const includes = await repo.readMany([...includeRefs].map((ref) => ref.split('/') as [string, string]));

  const warnings = parsed.unsupported.map((issue): Issue => ({ ...issue, severity: 'warning' }));
  if (resources.length > 0) {
    for (const { source, param } of parsed.revIncludes) {
      // Searched in the caller's tenancy with its search scope on the source type, like any search.
      const referring = await repo.search({
        type: source,
        filters: [resources.map((resource): [string, string] => [param, `${type}/${resource.id}`])],
        count: MAX_REVINCLUDES,
      });
      includes.push(...referring.resources);
      if (referring.total > referring.resources.length) {
        warnings.push({ severity: 'warning', code: 'too-costly', expression: '_revinclude', diagnostics: `Only the newest ${MAX_REVINCLUDES} of ${referring.total} ${source} resources are included; use a smaller _count` });
      }
    }
  }

  const links = [pageLink(baseUrl, type, echo, query, query.cursor, 'self')];
  if (next) links.push(pageLink(baseUrl, type, echo, query, next, 'next'));
  const outcome: Resource | undefined = warnings.length ? operationOutcome(warnings) : undefined;
  return searchsetBundle(baseUrl, total, resources, includes, links, outcome);
}
