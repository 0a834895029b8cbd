import { describe, expect, test } from '@jest/globals';
import { endpointRefusal } from '../../src/subscriptions/endpoint-policy.js';

const HOSTS = ['coach.example.nl', '127.0.0.1'];

describe('which endpoints a subscription may name', () => {
  test('https to a host the directory lists for the tenant is allowed', () => {
    expect(endpointRefusal('https://coach.example.nl/hook', HOSTS, false)).toBeUndefined();
  });

  test('in a deployment plain http is refused, even to loopback; in development mode only to loopback', () => {
    expect(endpointRefusal('http://127.0.0.1:9000/hook', HOSTS, false)).toMatch(/https/);
    expect(endpointRefusal('http://127.0.0.1:9000/hook', HOSTS, true)).toBeUndefined();
    expect(endpointRefusal('http://coach.example.nl/hook', HOSTS, true)).toMatch(/https/);
  });

  test('a host the directory does not list, a look-alike host, or credentials in the URL are refused', () => {
    expect(endpointRefusal('https://attacker.example/hook', HOSTS, false)).toMatch(/not among the notification hosts/);
    expect(endpointRefusal('https://coach.example.nl.attacker.example/hook', HOSTS, false)).toMatch(/not among the notification hosts/);
    expect(endpointRefusal('https://user:secret@coach.example.nl/hook', HOSTS, false)).toMatch(/credentials/);
    expect(endpointRefusal('not a url', HOSTS, false)).toMatch(/not a URL/);
  });
});
