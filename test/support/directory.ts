import type { DirectoryFile } from '../../src/directory/directory.js';

/**
 * Teams for a test's own directory (`withService({ directory: { teams: [LEIDEN_NOORD], … } })`):
 * written as objects in the directory file's shape, which the test service reads as YAML like the real file.
 */
type TeamEntry = DirectoryFile['teams'][number];

/** The team the example referral's postcode (2311) routes to. */
export const LEIDEN_NOORD: TeamEntry = { id: 'leiden-noord', name: 'Sociaal Wijkteam Leiden Noord', municipality: 'Leiden', postcodes: ['2311-2316'] };
export const LEIDEN_ZUID: TeamEntry = { id: 'leiden-zuid', name: 'Sociaal Wijkteam Leiden Zuid', municipality: 'Leiden', postcodes: ['2317-2320'] };
