const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * Why the service will not call this endpoint, or undefined when it may: https only (plain http to
 * loopback in development mode), no credentials in the URL, and a host the directory lists for the
 * tenant — so a token holder cannot make the service call arbitrary addresses.
 */
export function endpointRefusal(endpoint: string, allowedHosts: readonly string[], development: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return 'the endpoint is not a URL';
  }
  const loopbackInDevelopment = development && url.protocol === 'http:' && LOOPBACK.has(url.hostname);
  if (url.protocol !== 'https:' && !loopbackInDevelopment) return 'the endpoint must be an https URL (plain http only to loopback in development mode)';
  if (url.username || url.password) return 'the endpoint must not carry credentials; send them in channel.header';
  if (!allowedHosts.includes(url.hostname)) return `the host ${url.hostname} is not among the notification hosts the directory lists for this tenant`;
  return undefined;
}
