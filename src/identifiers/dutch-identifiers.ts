/** Dutch identifier systems and checks (contract §2). */
export const BSN_SYSTEM = 'http://fhir.nl/fhir/NamingSystem/bsn';
export const AGB_SYSTEM = 'http://fhir.nl/fhir/NamingSystem/agb-z';
export const BIG_SYSTEM = 'http://fhir.nl/fhir/NamingSystem/big';
export const UZI_SYSTEM = 'http://fhir.nl/fhir/NamingSystem/uzi-nr-pers';
export const URA_SYSTEM = 'http://fhir.nl/fhir/NamingSystem/ura';
export const UZI_ROLE_SYSTEM = 'http://fhir.nl/fhir/NamingSystem/uzi-rolcode';
export const UZI_ROLE_OID = 'urn:oid:2.16.840.1.113883.2.4.15.111';
export const ICPC_SYSTEM = 'http://hl7.org/fhir/sid/icpc-1-nl';
export const ICPC_OID = 'urn:oid:2.16.840.1.113883.2.4.4.31.1';

/** The BSN 11-test (elfproef): 9 digits, weights 9..2 and -1, sum divisible by 11 and not 0. */
export function isValidBsn(bsn: string): boolean {
  if (!/^[0-9]{9}$/.test(bsn)) return false;
  const digits = [...bsn].map(Number);
  const sum = digits.slice(0, 8).reduce((total, digit, index) => total + digit * (9 - index), 0) - digits[8]!;
  return sum % 11 === 0 && sum !== 0;
}

export const isAgb = (value: string) => /^[0-9]{8}$/.test(value);

/** "2311cs", "2311 CS" -> "2311 CS"; undefined when it is no Dutch postcode. */
export function normalisePostcode(value: string): string | undefined {
  const match = /^\s*([1-9][0-9]{3})\s?([A-Za-z]{2})\s*$/.exec(value);
  return match ? `${match[1]} ${match[2]!.toUpperCase()}` : undefined;
}

/** The chapters of ICPC-1 (one per body system or domain). */
export const ICPC_CHAPTERS = 'ABDFHKLNPRSTUWXYZ';

/**
 * Why a code is no ICPC-1 (NL) code, checked against its structure: a chapter letter, a component
 * number 01-29 (symptoms), 30-69 (process) or 70-99 (diagnoses), and optionally an ICPC-1 NL
 * sub-code of one or two digits (P06.01). Undefined when the structure is right; the structure
 * does not prove that the code is in the list. The message never quotes the code.
 */
export function icpcCodeProblem(code: string): string | undefined {
  const match = /^([A-Z])([0-9]{2})(\.[0-9]{1,2})?$/.exec(code);
  if (!match) return 'expected an ICPC-1 NL code: a chapter letter, two digits and optionally a sub-code, such as P06 or P06.01';
  if (!ICPC_CHAPTERS.includes(match[1]!)) return `the chapter letter must be one of ${[...ICPC_CHAPTERS].join(' ')} (ICPC-1)`;
  if (match[2] === '00') return 'the component number must be 01-29 (symptoms), 30-69 (process) or 70-99 (diagnoses)';
  return undefined;
}
