/** Patient data used by the fixtures; none of it may ever appear in a log line. */
export const PATIENT_DATA_IN_FIXTURES = [
  '999990019',
  '999990020',
  '999991772',
  'Johanna',
  'van der Berg',
  '"Berg"',
  'Breestraat',
  '2311 CS',
  '2311CS',
  '+31612345678',
  'j.vdberg@example.nl',
  'Sinds overlijden partner',
  'Liever',
  'Dijkstra',
  'Schiedamseweg',
];
