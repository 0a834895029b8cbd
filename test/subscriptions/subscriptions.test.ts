import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { Bundle, Parameters, ParametersParameter, Resource } from 'fhir/r4.js';
import { profileErrors } from '../../src/fhir/profile-validator.js';
import { OTHER_PRACTICE_AGB, PRACTICE_AGB } from '../fixtures/referral.js';
import { BACKPORT, subscription, TOPIC } from '../fixtures/subscription.js';
import { validateAgainstR4Schema } from '../support/fhir-validation.js';
import { PATIENT_DATA_IN_FIXTURES } from '../support/patient-data.js';
import { claimAndAnswer, submitReferral } from '../support/referrals.js';
import { LEIDEN_NOORD, LEIDEN_ZUID } from '../support/directory.js';
import { startService, withService } from '../support/service.js';

const BASE = 'http://wor-bridge.test';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  bundle: Bundle;
}

/** A subscriber's webhook: records every notification; a path can be told to answer 503 or to redirect. */
class WebhookReceiver {
  readonly received: Received[] = [];
  readonly answers = new Map<string, 'ok' | 'fail' | 'redirect' | 'hang'>();
  private server: Server | undefined;
  port = 0;

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      let text = '';
      request.on('data', (chunk: Buffer) => (text += chunk.toString()));
      request.on('end', () => {
        const path = request.url ?? '/';
        const answer = this.answers.get(path) ?? 'ok';
        if (answer === 'redirect') return response.writeHead(302, { location: `http://127.0.0.1:${this.port}/elsewhere` }).end();
        if (answer === 'fail') return response.writeHead(503).end();
        if (answer === 'hang') return;
        // As strict as a FHIR receiver: a POST of FHIR JSON, a history Bundle with its SubscriptionStatus first.
        if (request.method !== 'POST') return response.writeHead(405).end();
        if (!/^application\/fhir\+json\b/.test(request.headers['content-type'] ?? '')) return response.writeHead(415).end();
        let bundle: Bundle;
        try {
          bundle = JSON.parse(text) as Bundle;
        } catch {
          return response.writeHead(400).end();
        }
        if (bundle.resourceType !== 'Bundle' || bundle.type !== 'history' || bundle.entry?.[0]?.resource?.resourceType !== 'Parameters') return response.writeHead(400).end();
        this.received.push({ path, headers: request.headers, bundle });
        response.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server!.address() as { port: number }).port;
  }

  url(path: string) {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** The notifications of one type that reached a path, each as its SubscriptionStatus and the rest. */
  at(path: string, type?: string) {
    return this.received
      .filter((item) => item.path === path)
      .map((item) => ({ ...item, status: item.bundle.entry![0]!.resource as Parameters }))
      .filter((item) => !type || value(item.status, 'type') === type);
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

const parameter = (status: Parameters, name: string) => status.parameter!.filter((item) => item.name === name);
const value = (status: Parameters, name: string) => {
  const item = parameter(status, name)[0];
  return item?.valueCode ?? item?.valueString ?? item?.valueCanonical ?? item?.valueReference?.reference;
};
const part = (event: ParametersParameter, name: string) => {
  const item = event.part!.find((candidate) => candidate.name === name);
  return item?.valueString ?? item?.valueReference?.reference;
};
const eventNumbers = (status: Parameters) => parameter(status, 'notification-event').map((event) => Number(part(event, 'event-number')));
const focuses = (status: Parameters) => parameter(status, 'notification-event').map((event) => part(event, 'focus'));

/** The R4 JSON schema and the base R4 definitions (the backport's profiles are not ours to load). */
function expectValidR4(resource: Resource) {
  const problems = [
    ...validateAgainstR4Schema(resource),
    ...profileErrors(resource).map((issue) => `${issue.expression?.join(',')}: ${issue.details?.text ?? issue.diagnostics}`),
  ];
  expect(problems).toEqual([]);
}

async function eventually<T>(check: () => T | undefined | false | Promise<T | undefined | false>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const result = await check();
    if (result) return result;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const receiver = new WebhookReceiver();
const directory = {
  teams: [LEIDEN_NOORD, LEIDEN_ZUID].map((team) => ({ ...team, notificationHosts: ['127.0.0.1'] })),
  practices: [
    { agb: PRACTICE_AGB, name: 'Huisartsenpraktijk De Linde', notificationHosts: ['127.0.0.1'] },
    { agb: OTHER_PRACTICE_AGB, name: 'Gezondheidscentrum Merenwijk' },
  ],
};
const env = { WOR_DEV: '1', DELIVERY_ATTEMPTS: '2', DELIVERY_BACKOFF_MS: '50', DELIVERY_TIMEOUT_MS: '2000', SUBSCRIPTION_ERROR_AFTER: '2', SUBSCRIPTION_SWEEP_MS: '200' };

beforeAll(() => receiver.start());
const { service, gp, otherGp, coach, otherCoach } = await withService({
  directory,
  env,
  tokens: { gp: ['gp', PRACTICE_AGB], otherGp: ['gp', OTHER_PRACTICE_AGB], coach: ['coach', 'leiden-noord'], otherCoach: ['coach', 'leiden-zuid'] },
});
afterAll(() => receiver.stop());

/** Subscribes and waits for the handshake to make it active. */
async function subscribe(token: string, body: ReturnType<typeof subscription>, path: string) {
  const created = await service.request('POST', '/fhir/Subscription', { token, body });
  expect(created.status).toBe(201);
  expect(created.body.status).toBe('requested');
  expectValidR4(created.body);
  await eventually(() => receiver.at(path, 'handshake').length > 0);
  await eventually(async () => (await service.request('GET', `/fhir/Subscription/${created.body.id}`, { token })).body.status === 'active');
  return created.body.id as string;
}

const subscriptionCount = async () => Number((await service.db.query('SELECT count(*) FROM subscription')).rows[0].count);

describe('topics', () => {
  test('the topics are Basic resources at /fhir and the CapabilityStatement names them with the backport extension', async () => {
    const topics = await service.request('GET', '/fhir/Basic?code=SubscriptionTopic', { token: coach });
    expect(topics.status).toBe(200);
    expectValidR4(topics.body);
    const urls = topics.body.entry.map((entry: { resource: { extension: Array<{ url: string; valueUri?: string }> } }) => entry.resource.extension[0]!.valueUri);
    expect(urls).toEqual(['task-created', 'task-status-changed', 'feedback-communication', 'referral-cancelled'].map((id) => `${TOPIC}/${id}`));
    const read = await service.request('GET', '/fhir/Basic/task-created', { token: gp });
    expect(read.body.code.coding[0].code).toBe('SubscriptionTopic');

    const metadata = await service.request('GET', '/fhir/metadata');
    const resource = metadata.body.rest[0].resource.find((item: { type: string }) => item.type === 'Subscription');
    expect(resource.extension.map((item: { url: string; valueCanonical: string }) => [item.url, item.valueCanonical])).toEqual(
      urls.map((url: string) => [`${BACKPORT}/capabilitystatement-subscriptiontopic-canonical`, url]),
    );
    expect(resource.operation.map((operation: { name: string }) => operation.name)).toEqual(['status', 'events']);
    expectValidR4(metadata.body);
  }, 90_000);
});

describe('subscribing instead of polling', () => {
  test('a coach system gets the handshake, then an id-only notification per new Task without patient data, and reads the Task with its own token', async () => {
    const id = await subscribe(coach, subscription('task-created', receiver.url('/coach'), { header: ['Authorization: Bearer receiver-secret'] }), '/coach');
    const handshake = receiver.at('/coach', 'handshake')[0]!;
    expect(handshake.bundle.type).toBe('history');
    expect(value(handshake.status, 'events-since-subscription-start')).toBe('0');
    expect(handshake.headers.authorization).toBe('Bearer receiver-secret');
    expectValidR4(handshake.bundle);
    // The receiver's credential is never read back: masked, and kept when the masked form is sent back.
    const read = (await service.request('GET', `/fhir/Subscription/${id}`, { token: coach })).body;
    expect(read.channel.header).toEqual(['Authorization: ***']);
    const operator = await service.token('operator', 'regio');
    expect(JSON.stringify((await service.request('GET', `/fhir/Subscription/${id}`, { token: operator })).body)).not.toContain('receiver-secret');

    const { taskId } = await submitReferral(service, gp);
    // A referral for another team is not this subscriber's business.
    await submitReferral(service, gp, { patient: { ...(await import('../fixtures/referral.js')).exampleReferral().patient, address: { street: 'Breestraat', houseNumber: '1', postalCode: '2317 AA', city: 'Leiden' } } });
    const notification = await eventually(() => receiver.at('/coach', 'event-notification').find((item) => focuses(item.status).includes(`${BASE}/fhir/Task/${taskId}`)));
    expectValidR4(notification.bundle);
    expect(value(notification.status, 'subscription')).toBe(`${BASE}/fhir/Subscription/${id}`);
    expect(value(notification.status, 'topic')).toBe(`${TOPIC}/task-created`);
    expect(notification.bundle.entry![1]).toEqual({ fullUrl: `${BASE}/fhir/Task/${taskId}`, request: { method: 'POST', url: 'Task' }, response: { status: '201' } });
    const text = JSON.stringify(notification.bundle);
    for (const datum of PATIENT_DATA_IN_FIXTURES) expect(text).not.toContain(datum);

    const task = await service.request('GET', new URL(notification.bundle.entry![1]!.fullUrl!).pathname, { token: coach });
    expect(task.status).toBe(200);
    expect(task.body.status).toBe('requested');
    const events = await service.db.query('SELECT focus FROM subscription_event WHERE subscription_id = $1', [id]);
    expect(events.rows).toEqual([{ focus: `Task/${taskId}` }]);

    // Sent back as read (masked), the credential is kept: the new handshake carries it.
    const updated = await service.request('PUT', `/fhir/Subscription/${id}`, { token: coach, body: read });
    expect(updated.status).toBe(200);
    await eventually(() => receiver.at('/coach', 'handshake').length === 2);
    expect(receiver.at('/coach', 'handshake')[1]!.headers.authorization).toBe('Bearer receiver-secret');
    const unknown = await service.request('PUT', `/fhir/Subscription/${id}`, { token: coach, body: { ...read, channel: { ...read.channel, header: ['X-Api-Key: ***'] } } });
    expect(unknown.status).toBe(422);
    expect(unknown.body.issue[0].expression).toEqual(['Subscription.channel.header[0]']);
  });

  test('a GP system hears of each feedback Communication written for its practice, and of status changes of its referrals', async () => {
    await subscribe(gp, subscription('feedback-communication', receiver.url('/gp')), '/gp');
    await subscribe(gp, subscription('task-status-changed', receiver.url('/gp-status'), { content: 'empty' }), '/gp-status');
    const { taskId } = await submitReferral(service, gp);
    await claimAndAnswer(service, coach, taskId, { status: 'accepted' });
    // The GP system reads what each notification names, with its own token, until it finds the acceptance.
    const read = new Map<string, { about: Array<{ reference: string }> }>();
    const acceptance = await eventually(async () => {
      for (const { bundle } of receiver.at('/gp', 'event-notification')) {
        expectValidR4(bundle);
        const path = new URL(bundle.entry![1]!.fullUrl!).pathname;
        if (!read.has(path)) {
          const communication = await service.request('GET', path, { token: gp });
          expect(communication.status).toBe(200);
          read.set(path, communication.body);
        }
      }
      return [...read.values()].find((communication) => communication.about[0]!.reference === `Task/${taskId}`);
    });
    expect(acceptance).toBeDefined();

    // `empty`: the event's number and time, no focus and no further entries.
    const status = await eventually(() => receiver.at('/gp-status', 'event-notification')[0]);
    expect(status.bundle.entry).toHaveLength(1);
    expect(focuses(status.status)).toEqual([undefined]);
    expectValidR4(status.bundle);
  });
  test('a coach system hears that a referral was cancelled by the practice', async () => {
    await subscribe(coach, subscription('referral-cancelled', receiver.url('/cancelled')), '/cancelled');
    const { taskId, referralId } = await submitReferral(service, gp);
    const cancelled = await service.request('POST', `/referrals/${referralId}/cancel`, { token: gp, body: { reason: 'patiënt verhuisd' } });
    expect(cancelled.status).toBeLessThan(300);
    const notification = await eventually(() => receiver.at('/cancelled', 'event-notification')[0]);
    expect(focuses(notification.status)).toEqual([`${BASE}/fhir/Task/${taskId}`]);
    expect(notification.bundle.entry![1]!.request).toEqual({ method: 'PUT', url: `Task/${taskId}` });
    expectValidR4(notification.bundle);
  });
});

describe('tenancy and refusals', () => {
  test("a coach system cannot subscribe to another team's Tasks, and a GP system cannot filter on another practice's referrer", async () => {
    const before = await subscriptionCount();
    const otherTeam = await service.request('POST', '/fhir/Subscription', {
      token: coach,
      body: subscription('task-created', receiver.url('/x'), { filter: 'Task?owner=Organization/team-leiden-zuid' }),
    });
    expect(otherTeam.status).toBe(403);
    expect(otherTeam.body.resourceType).toBe('OperationOutcome');

    const { taskId } = await submitReferral(service, gp);
    const task = await service.request('GET', `/fhir/Task/${taskId}`, { token: gp });
    const referrer = task.body.requester.reference;
    const otherPractice = await service.request('POST', '/fhir/Subscription', {
      token: await service.token('gp', OTHER_PRACTICE_AGB),
      body: subscription('feedback-communication', receiver.url('/x'), { filter: `Communication?recipient=${referrer}` }),
    });
    expect(otherPractice.status).toBe(403);
    expect(await subscriptionCount()).toBe(before);

    // Own filter: allowed; another tenant's subscription answers as missing.
    const own = await service.request('POST', '/fhir/Subscription', { token: gp, body: subscription('feedback-communication', receiver.url('/own'), { filter: `Communication?recipient=${referrer}` }) });
    expect(own.status).toBe(201);
    expect((await service.request('GET', `/fhir/Subscription/${own.body.id}`, { token: otherCoach })).status).toBe(404);
    // Its $status and $events too, whatever the parameters: nothing about it is checked for another tenant.
    for (const path of ['$status', '$events', '$events?eventsSinceNumber=x', '$events?content=full-resource', '$events?unknown=1']) {
      expect({ path, status: (await service.request('GET', `/fhir/Subscription/${own.body.id}/${path}`, { token: otherCoach })).status }).toEqual({ path, status: 404 });
    }
    expect((await service.request('GET', '/fhir/Subscription', { token: otherCoach })).body.entry ?? []).toEqual([]);
    expect((await service.request('DELETE', `/fhir/Subscription/${own.body.id}`, { token: gp })).status).toBe(204);
  });

  test('full-resource, a host the directory does not list for the tenant, and plain http outside loopback are refused, and nothing is stored', async () => {
    const before = await subscriptionCount();
    const cases: Array<[string, ReturnType<typeof subscription>, string, number]> = [
      [coach, subscription('task-created', receiver.url('/x'), { content: 'full-resource' }), 'Subscription.channel.payload', 422],
      [coach, subscription('task-created', 'https://attacker.example/hook'), 'Subscription.channel.endpoint', 422],
      [coach, subscription('task-created', 'http://intranet.example/hook'), 'Subscription.channel.endpoint', 422],
      [otherGp, subscription('feedback-communication', receiver.url('/x')), 'Subscription.channel.endpoint', 422],
      [coach, { ...subscription('task-created', receiver.url('/x')), criteria: `${TOPIC}/no-such-topic` }, 'Subscription.criteria', 422],
      [coach, { ...subscription('task-created', receiver.url('/x')), channel: { ...subscription('task-created', receiver.url('/x')).channel, type: 'websocket' } }, 'Subscription.channel.type', 400],
    ];
    for (const [token, body, expression, status] of cases) {
      const refused = await service.request('POST', '/fhir/Subscription', { token, body });
      expect([refused.status, refused.body.issue[0].expression]).toEqual([status, [expression]]);
      expectValidR4(refused.body);
    }
    const portal = await service.request('POST', '/fhir/Subscription', { token: await service.token('portal', 'zorgdomein'), body: subscription('task-created', receiver.url('/x')) });
    expect(portal.status).toBe(403);
    expect(await subscriptionCount()).toBe(before);
  });
});

describe('delivery', () => {
  test('events are numbered per subscription; one missed while the receiver was down is fetched again with $events', async () => {
    const id = await subscribe(coach, subscription('task-created', receiver.url('/flaky')), '/flaky');
    const first = await submitReferral(service, gp);
    await eventually(() => receiver.at('/flaky', 'event-notification').some((item) => focuses(item.status).includes(`${BASE}/fhir/Task/${first.taskId}`)));

    receiver.answers.set('/flaky', 'fail');
    const missed = await submitReferral(service, gp);
    await eventually(async () => (await service.db.query(`SELECT 1 FROM subscription_event WHERE focus = $1 AND status = 'failed'`, [`Task/${missed.taskId}`])).rowCount === 1);
    receiver.answers.set('/flaky', 'ok');
    const next = await submitReferral(service, gp);
    const latest = await eventually(() => receiver.at('/flaky', 'event-notification').find((item) => focuses(item.status).includes(`${BASE}/fhir/Task/${next.taskId}`)));

    // The receiver sees a gap in the numbers and asks for what it missed.
    const seen = receiver.at('/flaky', 'event-notification').flatMap((item) => eventNumbers(item.status));
    const [latestNumber] = eventNumbers(latest.status);
    const gap = Array.from({ length: latestNumber! - 1 }, (_, index) => index + 1).filter((number) => !seen.includes(number));
    expect(gap).toHaveLength(1);
    expect(value(latest.status, 'events-since-subscription-start')).toBe(String(latestNumber));
    const recovered = await service.request('GET', `/fhir/Subscription/${id}/$events?eventsSinceNumber=${gap[0]}&eventsUntilNumber=${gap[0]}`, { token: coach });
    expect(recovered.status).toBe(200);
    expectValidR4(recovered.body);
    const status = recovered.body.entry[0].resource as Parameters;
    expect(value(status, 'type')).toBe('query-event');
    expect(eventNumbers(status)).toEqual(gap);
    expect(focuses(status)).toEqual([`${BASE}/fhir/Task/${missed.taskId}`]);

    const overview = await service.request('GET', `/fhir/Subscription/${id}/$status`, { token: coach });
    expectValidR4(overview.body);
    expect(value(overview.body.entry[0].resource, 'status')).toBe('active');
    expect(value(overview.body.entry[0].resource, 'events-since-subscription-start')).toBe(String(latestNumber));
  });

  test('a receiver that keeps failing puts the subscription into error with the reason; put back to requested, it shakes hands again and gets what happened meanwhile', async () => {
    const id = await subscribe(coach, subscription('task-created', receiver.url('/broken')), '/broken');
    receiver.answers.set('/broken', 'fail');
    await submitReferral(service, gp);
    await submitReferral(service, gp);
    const read = await eventually(async () => {
      const current = await service.request('GET', `/fhir/Subscription/${id}`, { token: coach });
      return current.body.status === 'error' && current.body;
    });
    expect(read.error).toBe('2 notifications in a row failed, the last: HTTP 503');
    expectValidR4(read);
    const status = (await service.request('GET', `/fhir/Subscription/${id}/$status`, { token: coach })).body.entry[0].resource as Parameters;
    expect(value(status, 'status')).toBe('error');
    expect(parameter(status, 'error')[0]!.valueCodeableConcept!.text).toContain('HTTP 503');

    // Events go on being numbered while it is in error; put back to `requested`, it shakes hands
    // again, and what happened meanwhile is delivered.
    const meanwhile = await submitReferral(service, gp);
    receiver.answers.set('/broken', 'ok');
    const stale = await service.request('PUT', `/fhir/Subscription/${id}`, { token: coach, body: { ...read, status: 'requested' }, headers: { 'if-match': 'W/"0"' } });
    expect(stale.status).toBe(412);
    const restarted = await service.request('PUT', `/fhir/Subscription/${id}`, { token: coach, body: { ...read, status: 'requested' } });
    expect([restarted.status, restarted.body.status, restarted.body.error]).toEqual([200, 'requested', undefined]);
    await eventually(() => receiver.at('/broken', 'handshake').length === 2);
    await eventually(() => receiver.at('/broken', 'event-notification').some((item) => focuses(item.status).includes(`${BASE}/fhir/Task/${meanwhile.taskId}`)));
    expect((await service.request('GET', `/fhir/Subscription/${id}`, { token: coach })).body.status).toBe('active');
  });

  test('a redirect is not followed: the handshake fails and the subscription is in error', async () => {
    receiver.answers.set('/moved', 'redirect');
    const created = await service.request('POST', '/fhir/Subscription', { token: coach, body: subscription('task-created', receiver.url('/moved')) });
    const read = await eventually(async () => {
      const current = await service.request('GET', `/fhir/Subscription/${created.body.id}`, { token: coach });
      return current.body.status === 'error' && current.body;
    });
    expect(read.error).toBe('handshake failed: HTTP 302 (redirects are not followed)');
    expect(receiver.at('/elsewhere')).toEqual([]);
  });

  test('a receiver that does not answer within the timeout the subscription asked for fails the handshake', async () => {
    receiver.answers.set('/silent', 'hang');
    const body = subscription('task-created', receiver.url('/silent'));
    body.channel = { ...body.channel, extension: [{ url: `${BACKPORT}/backport-timeout`, valueUnsignedInt: 1 }] } as typeof body.channel;
    const created = await service.request('POST', '/fhir/Subscription', { token: coach, body });
    expect(created.body.channel.extension).toContainEqual({ url: `${BACKPORT}/backport-timeout`, valueUnsignedInt: 1 });
    const read = await eventually(async () => {
      const current = await service.request('GET', `/fhir/Subscription/${created.body.id}`, { token: coach });
      return current.body.status === 'error' && current.body;
    });
    expect(read.error).toBe('handshake failed: timeout');
  });

  test('an idle subscription gets heartbeats at the period it asked for', async () => {
    await subscribe(gp, subscription('referral-cancelled', receiver.url('/heartbeat'), { heartbeat: 1 }), '/heartbeat');
    const heartbeat = await eventually(() => receiver.at('/heartbeat', 'heartbeat')[0], 5_000);
    expectValidR4(heartbeat.bundle);
    expect(heartbeat.bundle.entry).toHaveLength(1);
  });

  test('a notification owed when Redis is flushed is queued again from PostgreSQL', async () => {
    const id = await subscribe(gp, subscription('task-status-changed', receiver.url('/after-flush')), '/after-flush');
    receiver.answers.set('/after-flush', 'fail');
    await service.db.query(`UPDATE subscription SET failures = 0 WHERE id = $1`, [id]);
    // A pending event whose job Redis lost: written as the worker would find it after a flush.
    await service.db.query(`INSERT INTO subscription_event (subscription_id, number, source, focus, created, occurred_at) VALUES ($1, 1, gen_random_uuid(), 'Task/lost', false, now())`, [id]);
    await service.db.query('UPDATE subscription SET events_since_start = 1 WHERE id = $1', [id]);
    receiver.answers.set('/after-flush', 'ok');
    const keys = await service.keys('*');
    await service.redis.del(...keys);
    const notification = await eventually(() => receiver.at('/after-flush', 'event-notification')[0]);
    expect(focuses(notification.status)).toEqual([`${BASE}/fhir/Task/lost`]);
  });

  test('with two service processes every event is numbered once and notified once', async () => {
    const second = await startService({ directory, env, prefix: service.prefix });
    try {
      const id = await subscribe(coach, subscription('task-created', receiver.url('/two-processes')), '/two-processes');
      const tasks: string[] = [];
      for (const process of [service, second, service, second]) tasks.push((await submitReferral(process, gp)).taskId);
      await eventually(() => receiver.at('/two-processes', 'event-notification').length >= tasks.length);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const notified = receiver.at('/two-processes', 'event-notification');
      expect(notified.flatMap((item) => focuses(item.status)).sort()).toEqual(tasks.map((taskId) => `${BASE}/fhir/Task/${taskId}`).sort());
      expect(notified.flatMap((item) => eventNumbers(item.status)).sort()).toEqual([1, 2, 3, 4]);
      const numbered = await service.db.query('SELECT number FROM subscription_event WHERE subscription_id = $1 ORDER BY number', [id]);
      expect(numbered.rows.map((row) => Number(row.number))).toEqual([1, 2, 3, 4]);
    } finally {
      await second.close();
    }
  });
});
