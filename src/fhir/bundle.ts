import type { Bundle, BundleEntry, BundleLink, Resource } from 'fhir/r4.js';

export const resourceUrl = (baseUrl: string, resource: Resource) => `${baseUrl}/fhir/${resource.resourceType}/${resource.id}`;

export function collectionBundle(baseUrl: string, resources: Resource[]): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'collection',
    timestamp: new Date().toISOString(),
    entry: resources.map((resource) => ({ fullUrl: resourceUrl(baseUrl, resource), resource })),
  };
}

export function searchsetBundle(
  baseUrl: string,
  total: number,
  matches: Resource[],
  includes: Resource[],
  links: BundleLink[],
  outcome?: Resource,
): Bundle {
  const entry: BundleEntry[] = [
    ...matches.map((resource) => ({ fullUrl: resourceUrl(baseUrl, resource), resource, search: { mode: 'match' as const } })),
    ...includes.map((resource) => ({ fullUrl: resourceUrl(baseUrl, resource), resource, search: { mode: 'include' as const } })),
    ...(outcome ? [{ resource: outcome, search: { mode: 'outcome' as const } }] : []),
  ];
  return { resourceType: 'Bundle', type: 'searchset', total, link: links, ...(entry.length ? { entry } : {}) };
}

export function historyBundle(baseUrl: string, versions: Resource[]): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'history',
    total: versions.length,
    entry: versions.map((resource) => ({
      fullUrl: resourceUrl(baseUrl, resource),
      resource,
      request: { method: resource.meta?.versionId === '1' ? ('POST' as const) : ('PUT' as const), url: `${resource.resourceType}/${resource.id}` },
      response: { status: resource.meta?.versionId === '1' ? '201' : '200', etag: `W/"${resource.meta?.versionId}"`, lastModified: resource.meta?.lastUpdated },
    })),
  };
}
