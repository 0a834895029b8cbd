import type { Communication, ServiceRequest, Task } from 'fhir/r4.js';
import { practiceTag, teamTag } from '../auth/caller.js';
import { amsterdamIsoDate } from '../calendar/working-days.js';
import { teamOrganizationId } from '../directory/team-organization.js';
import type { Cursor, ResourceStore } from '../store/resource-store.js';
import { referralFacts, type ReferralFacts } from './referral-facts.js';
import { contains, type ReportPeriod } from './report-period.js';

const PAGE = 200;
const DAY_MS = 86_400_000;

/**
 * The facts of every referral a team received in a period, read from the stored Tasks (with their
 * history), the ServiceRequests they fulfil and the coach's reports. With `practice`, only that
 * practice's referrals: a practice sees figures about its own referrals and nobody else's.
 */
export async function readReferralFacts(store: ResourceStore, query: { team: string; period: ReportPeriod; practice?: string }): Promise<ReferralFacts[]> {
  const tasks = await tasksReceivedIn(store, query.team, query.period, query.practice);
  if (tasks.length === 0) return [];
  const histories = await store.histories('Task', tasks.map((task) => task.id!));
  const practiceOf = (acl: string[]) => acl.find((tag) => tag.startsWith(practiceTag('')))?.slice(practiceTag('').length) ?? 'onbekend';
  const chosen = tasks
    .map((task) => ({ task, history: histories.get(task.id!) }))
    .filter((entry): entry is { task: Task; history: { versions: Task[]; acl: string[] } } => entry.history !== undefined);

  const requestIds = chosen.flatMap(({ task }) => (task.focus?.reference?.startsWith('ServiceRequest/') ? [task.focus.reference.slice('ServiceRequest/'.length)] : []));
  const requests = new Map(
    (await store.readMany(requestIds.map((id) => ['ServiceRequest', id])))
      .filter((stored) => stored !== undefined)
      .map((stored) => [`ServiceRequest/${stored.resource.id}`, stored.resource as ServiceRequest]),
  );
  const reports = await coachReportsAbout(store, [...requests.keys()]);
  return chosen.map(({ task, history }) =>
    referralFacts({
      team: query.team,
      practice: practiceOf(history.acl),
      versions: history.versions,
      ...(task.focus?.reference && requests.has(task.focus.reference) ? { serviceRequest: requests.get(task.focus.reference)! } : {}),
      reports: reports.filter((report) => report.about?.some((about) => about.reference === `Task/${task.id}`)),
    }),
  );
}

/**
 * The team's Tasks created in the period, searched in the team's tenancy, or with `practice` in that
 * practice's (only its Tasks). A Task received then was last written no earlier, which bounds the index range read.
 */
async function tasksReceivedIn(store: ResourceStore, team: string, period: ReportPeriod, practice: string | undefined): Promise<Task[]> {
  const found: Task[] = [];
  let cursor: Cursor | undefined;
  do {
    const page = await store.search({
      type: 'Task',
      tenant: practice ? practiceTag(practice) : teamTag(team),
      filters: [[['owner', `Organization/${teamOrganizationId(team)}`]]],
      lastUpdated: { min: Date.parse(`${period.start}T00:00:00Z`) - DAY_MS },
      count: PAGE,
      ...(cursor ? { cursor } : {}),
    });
    for (const task of page.resources as Task[]) {
      if (task.authoredOn && contains(period, amsterdamIsoDate(new Date(task.authoredOn)))) found.push(task);
    }
    cursor = page.next;
  } while (cursor);
  return found;
}

/** Communications based on these referrals; the coach's reports among them carry the arrangements. */
async function coachReportsAbout(store: ResourceStore, serviceRequestRefs: string[]): Promise<Communication[]> {
  const reports: Communication[] = [];
  for (let index = 0; index < serviceRequestRefs.length; index += PAGE) {
    const refs = serviceRequestRefs.slice(index, index + PAGE);
    let cursor: Cursor | undefined;
    do {
      const page = await store.search({ type: 'Communication', filters: [refs.map((ref) => ['based-on', ref] as [string, string])], count: PAGE, ...(cursor ? { cursor } : {}) });
      reports.push(...(page.resources as Communication[]));
      cursor = page.next;
    } while (cursor);
  }
  return reports;
}
