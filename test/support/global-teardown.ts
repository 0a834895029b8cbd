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
    for (const value of PATIENT_DATA_IN_FIXTURES) if (text.includes(value)) leaks.push(`${file}: ${value}`);
  }
  if (leaks.length > 0) throw new Error(`patient data found in service logs:\n${leaks.join('\n')}`);
  console.log(`privacy check: no patient data in ${readdirSync('test/.logs').length} service log files`);
}
