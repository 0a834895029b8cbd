import { readdirSync, readFileSync } from 'node:fs';
import { PATIENT_DATA_IN_FIXTURES } from './patient-data.js';

/**
 * After the whole run: no log line of any test service may contain patient data (contract §9).
 * Every test service logs at debug level into test/.logs/.
 */
export default async function globalTeardown() {
  const redis = (globalThis as { __testRedis?: { stop(): Promise<void> } }).__testRedis;
  await redis?.stop();
  await (globalThis as { __testPostgres?: { stop(): Promise<void> } }).__testPostgres?.stop();
  const leaks: string[] = [];
  for (const file of readdirSync('test/.logs').filter((name) => name.endsWith('.log'))) {
    const text = readFileSync(`test/.logs/${file}`, 'utf8');
    for (const value of PATIENT_DATA_IN_FIXTURES) if (mentions(text, value)) leaks.push(`${file}: ${value}`);
  }
  if (leaks.length > 0) throw new Error(`patient data found in service logs:\n${leaks.join('\n')}`);
  console.log(`privacy check: no patient data in ${readdirSync('test/.logs').length} service log files`);
}

/**
 * A number (a BSN, a phone number) counts only standing alone: the digits of a float such as a
 * responseTime of 2.5147409999917727 ms are not a BSN.
 */
function mentions(text: string, value: string): boolean {
  if (!/^[0-9]+$/.test(value)) return text.includes(value);
  for (let at = text.indexOf(value); at >= 0; at = text.indexOf(value, at + 1)) {
    const before = text[at - 1] ?? '';
    const after = text[at + value.length] ?? '';
    if (!/[0-9.]/.test(before) && !/[0-9]/.test(after)) return true;
  }
  return false;
}
