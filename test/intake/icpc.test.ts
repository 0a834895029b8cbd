import { describe, expect, test } from '@jest/globals';
import { ICPC_CHAPTERS, icpcCodeProblem } from '../../src/identifiers/dutch-identifiers.js';

describe('ICPC-1 codes are checked against the structure of ICPC-1', () => {
  test.each([...ICPC_CHAPTERS].flatMap((chapter) => ['01', '29', '30', '69', '70', '99'].map((component) => `${chapter}${component}`)))(
    '%s (a chapter letter and a component of symptoms, process or diagnoses) is accepted',
    (code) => expect(icpcCodeProblem(code)).toBeUndefined(),
  );

  test.each(['P06.01', 'Z86', 'Z68', 'T90.2'])('%s, with or without an ICPC-1 NL sub-code, is accepted', (code) => expect(icpcCodeProblem(code)).toBeUndefined());

  test.each([
    ['Q99', /chapter letter must be one of A B D F H K L N P R S T U W X Y Z/],
    ['C01', /chapter letter/],
    ['I70', /chapter letter/],
    ['P00', /component number must be 01-29 \(symptoms\), 30-69 \(process\) or 70-99 \(diagnoses\)/],
    ['P6', /expected an ICPC-1 NL code/],
    ['p06', /expected an ICPC-1 NL code/],
    ['P06.123', /expected an ICPC-1 NL code/],
    ['P06 ', /expected an ICPC-1 NL code/],
  ])('%s is refused with the rule it breaks', (code, rule) => expect(icpcCodeProblem(code)).toMatch(rule));
});
